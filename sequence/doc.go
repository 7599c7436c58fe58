// Package sequence will run drip sequences: per-enrollment steps with delays,
// send windows in the recipient's time zone and exit rules, on the same
// machinery as broadcasts (a deterministic TaskID per (enrollment, step), the
// shared throttle, the idempotent send path). See issue 4; nothing here yet.
package sequence
