package sequence

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wacamp/wacamp/templates"
)

// Spec is one version of a sequence as it runs: what `apply` stored. An
// enrollment runs on the version it started with; editing the sequence
// makes a new version for new enrollments.
type Spec struct {
	Window   Window   `json:"window"`
	Timezone string   `json:"timezone"` // "recipient" or an IANA zone
	ExitOn   []string `json:"exit_on,omitempty"`
	Reenter  bool     `json:"reenter,omitempty"`
	Steps    []Step   `json:"steps"`
}

// Step is one message of a sequence version.
type Step struct {
	After    time.Duration     `json:"after"`
	Window   *Window           `json:"window,omitempty"` // overrides Spec.Window
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
)

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
}
