// Package cli implements the wacamp commands (scheduler, worker, asynqmon)
// as functions over args, streams and an environment, so the mains stay
// thin and tests can run the commands in-process. The demo (internal/demo)
// reuses its exported pieces: flags, the web UI server, progress lines.
package cli
