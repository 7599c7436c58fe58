// Package demo runs the whole of wacamp in one process with no set-up: an
// embedded Redis (miniredis) and SQLite database unless REDIS_URL and
// DATABASE_URL are set, a provider simulator with realistic faults, a
// worker, the scheduler and the web UI, sending an example broadcast and a
// drip sequence with live progress. It is the only production importer of
// the simulators, miniredis and SQLite: the worker and scheduler binaries
// link none of them.
package demo
