// Package sequence holds what a drip sequence is and its rules: a [Spec]
// (the version `apply` stored: steps with delays, deadlines and send
// windows, exit rules; windows and the recipient's time zone are
// localtime's, shared with broadcasts), [StepJob.Location] (the time zone
// a recipient's windows are read in), [Spec.Schedule] (when a step falls due and by when it must be sent), and
// the rules of a running enrollment as [Plan] values: [Spec.Start] (the
// first step), [Spec.Sent] (the next step, or complete), [Ended] (a failed
// or expired step stops the enrollment) and [Spec.Exits] (a reply or an
// unsubscribe ends it), plus the values `scheduler status`, `export` and
// `enroll` show.
//
// [Service] is what operators do with sequences (enroll, unenroll, exit,
// report, export), over the [Store] it declares; the CLI goes through it
// as broadcasts' commands go through campaign.Service.
//
// The rules are decided here and carried out by the store in the same
// transaction that records the event (store/sequences.go): a crash can
// neither lose the next step nor plan it twice. Each step is a delivery of
// its enrollment, sent by the one delivery engine (delivery.SendHandler)
// with the same claim, throttle and idempotent record as a broadcast's; the
// engine asks the step's owner (the enrollment) what differs: its due time
// and window, a reply read from the conversation, no pause.
package sequence
