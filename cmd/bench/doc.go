// Command bench measures wacamp on this machine. By default it measures the
// raw asynq no-op task rate and the rate of wacamp's full send path (feeder →
// asynq → send handler → botsailor driver over HTTP → in-process simulator →
// Postgres), and prints both with their ratio. Both phases run -rounds times
// in turn (no-op, send, no-op, send, …); it prints every round's ratio and
// the round of median ratio in full.
//
//	bench [-noop 20000] [-sends 5000] [-rounds 3] [-concurrency 50] [-json]
//
// With -throttle it proves the fleet-wide throttle instead: two worker
// processes (this binary started again) send the broadcasts of 2, then 10,
// phone numbers at -rate per number to a simulator enforcing the same limit
// (a process of its own), and it prints, per scenario, the rate each number
// achieved, its worst one-second window at the simulator, at the workers'
// slots and at their departures, its utilisation of the limit, the requests
// that left late (most at a later slot), the rate limit's Lua calls to
// Redis per send, and every scenario's sends in each 250 ms.
//
//	bench -throttle [-rate 50] [-seconds 10] [-concurrency 50] [-slow N] [-feed-ahead 5s] [-min-window 4] [-queue-lead 500ms] [-json]
//
// -slow adds N numbers sending one message a second to every scenario,
// sharing the workers' slots (the figures are the other numbers');
// -feed-ahead and -min-window set the scheduler's broadcast window instead
// of the product's, and -queue-lead how long before its first departure a
// batch task enters the send queue (below 0: every task at once).
//
// With -steps it measures drip sequences at scale: -enrollments people
// (default 100,000) enrolled in a one-step sequence whose steps all fall due
// within one minute (spread evenly, at fractions of a second), sent at -rate
// per second (default 1000) by the real scheduler and worker; it prints the
// time to enroll, Redis's peak memory, and the lateness (p50/p99/max) of the
// sends at the simulator: against their due times, the least the rate alone
// allows, and each step's lateness beyond that floor; and the lateness of
// 200 steps of another number (50/s) falling due over the same minute,
// which must not wait behind the backlog; and how many sends left more than
// 10 ms after their departure slots.
//
//	bench -steps [-enrollments 100000] [-rate 1000] [-concurrency 50] [-json]
//
// With -webhooks it measures the status webhook receiver: -messages sent
// messages (default 20,000) each get a delivered status, a tenth of them
// twice, pushed by -clients concurrent clients (default 32); it prints the
// receiver's answer latency (p50/p99/max) and rate, and how long until every
// status was applied by the worker.
//
//	bench -webhooks [-messages 20000] [-clients 32] [-concurrency 50] [-json]
//
// With -faults it proves the BotSailor path under faults (issue 11): a text
// broadcast (-texts, default 2,000; 2% of sends accepted only after
// -slow-accept, default 45 s, past the client's 30 s timeout) and a template
// broadcast (-templates, default 1,000; 5% of answers dropped after
// acceptance, half listed in the conversation without a wamid), sent at
// -rate per account (default 20) by the real worker and scheduler, with the
// run's private redis-server killed (no persistence) and started again empty
// after a third of the recipients; it prints per part the recipients,
// accepted, duplicates, lost, found by reconciliation and resent after the
// settle window (-settle-window, default the engine's 3 min), the time to
// resume sending after the restart, and a verdict.
//
//	bench -faults [-texts 2000] [-templates 1000] [-rate 20] [-slow-accept 45s] [-settle-window 3m] [-json]
//
// With -audience it measures a large CSV audience: a broadcast whose CSV
// file has -rows rows (default 10,000,000; one in a hundred a repeated
// number) is validated and applied by `scheduler validate` and `scheduler
// apply`, each run as a process of its own (this binary started again), and
// it prints each command's wall time and peak resident memory (ru_maxrss),
// and the most private memory (RssAnon) a Postgres backend of the run's
// database had meanwhile, when Postgres runs on the same machine.
// The CSV file is written under -dir (default the temporary directory) and
// removed at the end.
//
//	bench -audience [-rows 10000000] [-dir /var/tmp] [-json]
//
// -plan N does the same with N rows and then runs `scheduler run` (a
// process too) until the broadcast is running with its first sends queued
// in Redis (no workers run), and prints how long that took, the
// scheduler's peak resident memory, the Redis server's used_memory before
// and at most (sampled every 200 ms), and the wall times of `scheduler
// status` and of `scheduler export` until its first row, each run again and
// again while the scheduler works.
//
//	bench -plan 10000000 [-dir /var/tmp] [-redis-db 14] [-json]
//
// It FLUSHES the Redis database -redis-db (default 14; never 0) before and
// between the phases or scenarios, taking the same lease as the tests so it
// never flushes one a test is using, and works in Postgres databases
// wacamp_bench_<random> that it creates through -database-url and drops at
// the end.
package main
