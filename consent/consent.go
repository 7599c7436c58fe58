// Package consent holds who may be messaged: the suppression list (people
// who opted out, of everything or of marketing), the keywords with which a
// person opts out or back in by writing to the business, and the record of
// what people wrote (their latest inbound message per number).
//
// The rules are decided here and carried out by the store in the
// transaction that records the event, as sequences' rules are:
//
//   - A send checks the lists of its account ([Check]): the account's own
//     and its portfolio's ([Lists]). An entry of scope [ScopeAll] blocks
//     every business-initiated message; one of scope [ScopeMarketing]
//     blocks marketing templates ([Marketing]). A blocked delivery ends
//     skipped with [ReasonOptedOut], at plan time and again in the claim
//     right before the request.
//   - An inbound message whose whole text is a keyword ([Keywords.Classify])
//     opts its sender out ([ScopeAll], [SourceKeyword]) or back in
//     (removing every entry but those a provider's error made: a text does
//     not undo what WhatsApp reports).
//   - A provider error that means the person refuses the business's
//     messages ([FromCode]: 131050, 130403) suppresses them with
//     [SourceProviderError].
//   - Opting out of everything ends the person's active enrollments, as
//     exited with reason [ReasonOptedOut].
package consent

import (
	"fmt"
	"slices"
	"time"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/templates"
)

// The scopes of a suppression: what it blocks.
const (
	// ScopeAll blocks every business-initiated message.
	ScopeAll = "all"
	// ScopeMarketing blocks marketing templates only.
	ScopeMarketing = "marketing"
)

// Scopes lists the scopes, widest first.
var Scopes = []string{ScopeAll, ScopeMarketing}

// The sources of a suppression: who said so.
const (
	SourceKeyword       = "keyword"        // the person wrote an opt-out keyword
	SourceProviderError = "provider_error" // a send failed with a code that means the person refuses (FromCode)
	SourceCLI           = "cli"            // `scheduler optout add`
	SourceAPI           = "api"            // the HTTP API (POST /v1/optouts)
	SourceImport        = "import"         // `scheduler optout import`
)

// Sources lists the sources.
var Sources = []string{SourceKeyword, SourceProviderError, SourceCLI, SourceAPI, SourceImport}

// ReasonOptedOut is the reason code of a delivery skipped because its
// recipient opted out (its error_code), and of an enrollment that ended
// because its person did.
const ReasonOptedOut = "opted_out"

// Entry is one suppression: Phone may not be sent what Scope covers by the
// accounts that check List.
type Entry struct {
	List      string    `json:"list"` // "account:NAME" or "portfolio:NAME"
	Phone     string    `json:"phone"`
	Scope     string    `json:"scope"`
	Reason    string    `json:"reason"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
}

// Account is an account as opt-outs need it.
type Account struct {
	ID        int64
	Name      string
	Portfolio string
	// Keywords are its own, besides the defaults.
	Keywords Keywords
	// Confirmations are what is sent back when a keyword is acted on.
	Confirmations Confirmations
}

// Confirmations are the texts an account sends back to someone whose
// keyword it acted on: "" sends nothing. Each is a free-form text sent as
// a step of the account's reply sequence ([ReplySequence]): inside the
// 24-hour window (they just wrote), once per keyword acted on, never
// checked against the suppression list it confirms nor counted by the
// frequency cap or the unique-recipient budget (it is no
// business-initiated message).
type Confirmations struct {
	OptOut string `json:"confirmation,omitempty"`
	OptIn  string `json:"opt_in_confirmation,omitempty"`
}

// For returns the confirmation of action ("" for None or none set).
func (c Confirmations) For(action Action) string {
	switch action {
	case OptOut:
		return c.OptOut
	case OptIn:
		return c.OptIn
	}
	return ""
}

// Settings are an account's opt-out settings as stored (accounts.opt_out,
// JSON): its own keywords and its confirmations.
type Settings struct {
	Keywords
	Confirmations
}

// IsZero reports whether s is the defaults: no keywords of its own, no
// confirmation.
func (s Settings) IsZero() bool { return s.Keywords.IsZero() && s.Confirmations == Confirmations{} }

// ReplyPrefix begins the names of wacamp's own sequences (a sequence name
// in a campaign file starts with a letter or digit).
const ReplyPrefix = "~"

// ReplySequence names the sequence whose one step sends account's
// confirmation of action: "~opt-out:main", "~opt-in:main". `scheduler
// status` and `export` show it like any sequence.
func ReplySequence(account string, action Action) string {
	return ReplyPrefix + action.String() + ":" + account
}

// List is the suppression list the account writes to.
func (a Account) List() string { return List(a.Name, a.Portfolio) }

// Lists are the suppression lists the account's sends check.
func (a Account) Lists() []string { return Lists(a.Name, a.Portfolio) }

// SuppressResult is what putting entries on their lists did.
type SuppressResult struct {
	Added int // entries that were not on their list before
	// Ended are the sequences in which an opt-out of everything ended
	// someone's active enrollment.
	Ended []string
}

// List names the suppression list an account writes to: its portfolio's
// when it has one (the accounts of a portfolio share their opt-outs, as
// they share WhatsApp's messaging limit), else its own.
func List(account, portfolio string) string {
	if portfolio != "" {
		return "portfolio:" + portfolio
	}
	return "account:" + account
}

// Lists are the lists a send from an account checks: its own and, when it
// has one, its portfolio's (so an account that joined a portfolio keeps
// its own opt-outs).
func Lists(account, portfolio string) []string {
	if portfolio != "" {
		return []string{"account:" + account, "portfolio:" + portfolio}
	}
	return []string{"account:" + account}
}

// Check is what a send is checked against: the lists of its account and
// whether its message is marketing.
type Check struct {
	Lists     []string
	Marketing bool
}

// CheckOf is the check of message m sent from an account.
func CheckOf(account, portfolio string, m templates.Message) Check {
	return Check{Lists: Lists(account, portfolio), Marketing: Marketing(m)}
}

// Blocks reports whether an entry of scope blocks a send checked by c.
func (c Check) Blocks(scope string) bool {
	return scope == ScopeAll || (scope == ScopeMarketing && c.Marketing)
}

// ListPair returns c's lists as two values for a statement that takes
// two (the second repeats the first when the account has no portfolio).
func (c Check) ListPair() (string, string) {
	switch len(c.Lists) {
	case 0:
		return "", ""
	case 1:
		return c.Lists[0], c.Lists[0]
	}
	return c.Lists[0], c.Lists[1]
}

// Marketing reports whether m is a marketing message, which an entry of
// scope marketing blocks: a template whose category is marketing or not
// stated (Meta's categories are marketing, utility and authentication; a
// template said to be utility or authentication is not). Free-form
// messages and bot flows are not templates and are blocked only by scope
// all.
func Marketing(m templates.Message) bool {
	if m.Kind != templates.KindTemplate || m.Template == nil {
		return false
	}
	return m.Template.Category == "" || m.Template.Category == templates.CategoryMarketing
}

// Refusal is what a provider's error code says about its recipient: they
// refuse the business's messages (of Scope), for Reason.
type Refusal struct {
	Scope  string
	Reason string
}

// FromCode returns the refusal Meta's error code means, if it means one
// (WHATSAPP.md §4, §7): 131050, the user stopped marketing messages
// (scope marketing), and 130403, the user blocked the business (scope
// all). Other permanent codes fail one message but say nothing lasting
// about the person (131026: not on WhatsApp yet, an old app; 131049:
// Meta's per-user marketing cap, lifted within days).
func FromCode(code string) (Refusal, bool) {
	marketing, why, ok := provider.RecipientRefusal(code)
	if !ok {
		return Refusal{}, false
	}
	r := Refusal{Scope: ScopeAll, Reason: fmt.Sprintf("provider error %s: %s", code, why)}
	if marketing {
		r.Scope = ScopeMarketing
	}
	return r, true
}

// ValidScope reports whether s is a scope.
func ValidScope(s string) bool { return slices.Contains(Scopes, s) }

// ValidSource reports whether s is a source.
func ValidSource(s string) bool { return slices.Contains(Sources, s) }
