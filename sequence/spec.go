package sequence

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/templates"
)

// Spec is one version of a sequence as it runs: what `apply` stored. An
// enrollment runs on the version it started with; editing the sequence
// makes a new version for new enrollments.
type Spec struct {
	Window   localtime.Window `json:"window"`
	Timezone string           `json:"timezone"` // "recipient" or an IANA zone
	ExitOn   []string         `json:"exit_on,omitempty"`
	Reenter  bool             `json:"reenter,omitempty"`
	Steps    []Step           `json:"steps"`
	// Reply marks one of wacamp's own reply sequences (an account's
	// opt-out or opt-in confirmation, consent.ReplySequence): its steps
	// answer a message the person just wrote, so they are no
	// business-initiated messages (delivery.Job.Reply). Nobody is
	// enrolled in one but by the keyword it answers.
	Reply bool `json:"reply,omitempty"`
}

// ReplyDeadline is how long a reply sequence's step may wait to be sent:
// a confirmation that cannot go within it expires.
const ReplyDeadline = time.Hour

// ReplySpec is the spec of a reply sequence that sends text back: one
// step, due at once, within ReplyDeadline, skipped if its recipient's
// 24-hour window closed meanwhile (on an account that enforces it), and a
// new run each time its person is enrolled again.
func ReplySpec(text string) Spec {
	return Spec{Reenter: true, Reply: true, Steps: []Step{{Deadline: ReplyDeadline, Message: templates.Message{
		Kind: templates.KindText, Text: text, OutsideWindow: &templates.OutsideWindow{Skip: true}}}}}
}

// Step is one message of a sequence version.
type Step struct {
	After    time.Duration     `json:"after"`
	Window   *localtime.Window `json:"window,omitempty"` // overrides Spec.Window
	Deadline time.Duration     `json:"deadline"`
	Message  templates.Message `json:"message"`
}

// Hash is a stable hash of the spec (its JSON), to notice an edit.
func (s Spec) Hash() string {
	b, err := json.Marshal(s)
	if err != nil { // only a message that cannot be encoded; Load refuses those
		b = fmt.Appendf(nil, "%#v", s)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Enrollment states.
const (
	EnrollActive     = "active"
	EnrollCompleted  = "completed"
	EnrollExited     = "exited"
	EnrollUnenrolled = "unenrolled"
	// EnrollStopped: a step failed or expired, so the later steps (which
	// may build on it) are not sent.
	EnrollStopped = "stopped"
)

// Report is a sequence's state as `scheduler status` shows it.
type Report struct {
	Name        string         `json:"name"`
	Version     int            `json:"version"`
	Enrollments map[string]int `json:"enrollments"` // by state
	Steps       []StepReport   `json:"steps"`
}

// StepReport counts one step's deliveries (across versions, by position).
type StepReport struct {
	Step    int            `json:"step"` // 1-based
	Counts  map[string]int `json:"counts"`
	NextDue *time.Time     `json:"next_due,omitempty"` // earliest due time of a step not yet sent
	// NextWait is why the earliest planned one waits, when it was put off
	// (an account without credentials, a cap, the budget, a send window);
	// empty when it is simply not due yet.
	NextWait string `json:"next_wait,omitempty"`
	// Skips counts the skipped steps that have a reason code, by it
	// (opted_out); empty when none.
	Skips map[string]int `json:"skipped_by_reason,omitempty"`
	// Settle counts the step's sends whose outcome was unknown, by how
	// they settle (delivery.SettleAwaiting, SettleSettled, SettleResent);
	// empty when none.
	Settle map[string]int `json:"settle,omitempty"`
}

// Row is one (enrollment, step) as `scheduler export` prints it.
type Row struct {
	Enrollment int64      `json:"enrollment"`
	Run        int        `json:"run"`
	Phone      string     `json:"phone"`
	Name       string     `json:"name,omitempty"`
	Step       int        `json:"step"` // 1-based
	Status     string     `json:"status"`
	WAMID      string     `json:"wamid"`
	ErrorCode  string     `json:"error_code,omitempty"`
	Error      string     `json:"error"`
	DueAt      *time.Time `json:"due_at"`
	SentAt     *time.Time `json:"sent_at"`
	Attempts   int        `json:"attempts"`
	// Settle says how a send whose outcome was unknown settles, as a
	// broadcast's delivery.Row does; "" when it never was.
	Settle string `json:"settle,omitempty"`
}

// Enrollee is someone to enroll: a phone number and the values its
// messages may use.
type Enrollee struct {
	Phone string
	Name  string
	Vars  map[string]string
}

// EnrollResult counts what an enroll call did.
type EnrollResult struct {
	Enrolled int // new enrollments
	Skipped  int // already active, or finished and the sequence does not re-enter
	// OptedOut are people on the suppression list for the first step: their
	// enrollment ended at once (exited, opted_out), its step skipped.
	OptedOut int
}
