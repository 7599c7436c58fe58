// Package localtime is wall-clock time in recipients' time zones, shared by
// broadcasts and sequences: which zone a recipient is in ([RecipientZone],
// [Location]: their "timezone" variable, else their phone number's
// country or area code, else the account's zone), a wall-clock time of day
// on a date in a zone with one rule for the times daylight saving skips or
// repeats ([On], [NextAt]), a weekly send window in wall-clock time
// ([Window], quiet hours), and when a broadcast reaches the recipients of
// each zone ([Timing]: a local time of day, a window, or both).
//
// Everything here is pure: no clock is read; callers pass the instants.
package localtime
