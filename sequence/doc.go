// Package sequence holds what a drip sequence is and its time rules: a
// [Spec] (the version `apply` stored: steps with delays, deadlines and send
// windows, exit rules), [Window] (a weekly window in wall-clock time),
// [Location] (the time zone a recipient's windows are read in) and
// [Spec.Schedule] (when a step falls due and by when it must be sent), plus
// the values `scheduler status`, `export` and `enroll` show.
//
// Running a sequence is not here yet: enrollments and their steps live in
// the store (store/sequences.go), and each step is sent by the broadcast
// engine (campaign.SendHandler) as a delivery of the enrollment, with the
// same claim, throttle and idempotent record as a broadcast's. Planning the
// next step when one is sent, stopping on a failure and exiting on a reply
// run inside the store's statements that record those events. Moving these
// rules here, as Go decided by this package and executed atomically by the
// store, is the next structural step (see docs/DESIGN.md).
package sequence
