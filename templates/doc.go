// Package templates holds message content: the message kinds a campaign can
// send, and parsing, validating and rendering the {{variable}} placeholders in
// them. It is pure: no I/O.
package templates
