// Command demo runs the whole of wacamp in one process with no set-up: see
// README.md. `demo scheduler ARGS` is the scheduler command with the
// embedded SQLite database linked, to inspect a running demo.
package main
