// Package bench measures, on the machine it runs on, how fast wacamp's send
// path is compared with the bare task queue it is built on:
//
//  1. the raw asynq rate: one asynq.Server draining N pre-enqueued no-op
//     tasks;
//  2. the full send path: a broadcast of M recipients, applied from a
//     generated YAML and CSV, fed by campaign.Feeder into asynq, sent by the
//     real worker (internal/app.NewWorker) through the botsailor driver over
//     HTTP to an in-process simulator on 127.0.0.1, and recorded in Postgres.
//
// Both phases use the same worker concurrency; the ratio of their rates is
// the cost of everything the send path adds to a task. The send phase also
// reports a Profile of one send: CPU here and in the Postgres backends,
// commits and tuples, Redis commands. Run works on a Redis
// database index that it flushes and on a Postgres database that it creates
// and drops, so it never touches real data.
//
// RunThrottle is a second benchmark: it proves the fleet-wide throttle by
// running real worker processes (the calling executable started again, see
// WorkerEnv) that send the broadcasts of several phone numbers at once to a
// simulator enforcing the same rate (a process of its own too), and measures every number's achieved
// rate, worst one-second window and utilisation of its limit.
package bench
