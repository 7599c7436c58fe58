// Package webhook receives the status and message notifications providers
// push (Sobot's Meta-style statuses, Salebot's message webhook, the session
// API's events) and applies them to the deliveries they are about.
//
// The receiver answers fast: it authenticates the request by the account's
// secret (in the URL path, /webhooks/<account>/<secret>, or the
// X-Webhook-Secret header on /webhooks/<account>), reads at most 3 MB,
// parses it with the account's driver and puts the events on the status
// queue as one Asynq task, stamped with its arrival and recorded first as
// pending (Pending) until a worker has applied it, so a send of unknown
// outcome is not sent again while a webhook that may show it is on its way.
// When Redis cannot take the task it keeps the events in Postgres instead
// (some providers never resend a webhook), and every worker's Drain applies
// what was kept.
//
// An unknown account and a wrong secret get the same answer (401
// "unauthorized"), so the receiver does not tell which accounts exist; an
// account whose secret is shorter than MinSecretLen takes no webhooks; and
// refusals are logged at most once per account and reason every
// RefusalLogEvery, with a count of those left out.
//
// The apply handler records the events: statuses only move forward, so
// duplicates and reversed orders change nothing, and a status about a
// message not yet recorded (the webhook beat the send's answer) is kept and
// matched when the send is recorded or by the sweep.
package webhook
