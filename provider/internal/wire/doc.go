// Package wire holds the HTTP plumbing every provider driver shares:
// secret redaction and scrubbing, an HTTP client that never follows a
// redirect, Retry-After, which HTTP statuses are worth retrying, phone
// numbers as drivers send and log them, and the readers of a JSON answer
// that each driver parametrises with its provider's words and keys (status
// flags, error members and codes, status words, media kinds).
package wire
