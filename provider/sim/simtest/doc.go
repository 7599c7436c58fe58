// Package simtest is what the simulators' tests share: a settable clock
// that starts now, a simulator served for one test, a raw call that reads
// the simulator's answer, a webhook receiver, and readings of what a
// driver got (its error, the statuses of its events). Each simulator's
// tests keep only their provider's requests and answers.
package simtest
