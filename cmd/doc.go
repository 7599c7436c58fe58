// Package cmd holds wacamp's binaries, one directory each (scheduler, worker,
// asynqmon, demo, bench, botsailor-sim); each main is thin over internal/cli
// or internal/demo. Its test checks that each binary links only what it runs.
package cmd
