// Package testclock builds tests' instants from the real clock, so no test
// depends on the calendar date it runs on: "next Monday 09:00 in Berlin",
// "the next time New York's clocks go back". A scenario written against a
// base instant (time.Now(), or time.Now().AddDate(1, 0, 0) to prove it)
// runs the same on any day. Clock is a clock a test sets by hand.
package testclock
