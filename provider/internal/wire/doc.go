// Package wire holds the HTTP plumbing every provider driver shares:
// secret redaction and scrubbing, an HTTP client that never follows a
// redirect, Retry-After, which HTTP statuses are worth retrying, and phone
// numbers as drivers send and log them.
package wire
