// Package drivers is the one place that knows every provider driver: their
// capabilities (for validation and the engine), how to build a client from
// an account's settings, and how to read their webhooks.
package drivers
