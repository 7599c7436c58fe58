package consent

import (
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// DefaultOptOut are the opt-out keywords every account honours: the set US
// carriers and Twilio honour.
var DefaultOptOut = []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}

// DefaultOptIn are the keywords with which a person opts back in.
var DefaultOptIn = []string{"START", "UNSTOP"}

// MaxKeywordLen is the longest keyword (in characters, once folded): a
// keyword is a word or two, never a sentence.
const MaxKeywordLen = 40

// Action is what an inbound message asks for.
type Action int

const (
	// None: the message is no keyword (a sentence containing "stop" is
	// none).
	None Action = iota
	// OptOut: the whole message is an opt-out keyword.
	OptOut
	// OptIn: the whole message is an opt-in keyword.
	OptIn
)

// String names the action.
func (a Action) String() string {
	switch a {
	case OptOut:
		return "opt-out"
	case OptIn:
		return "opt-in"
	}
	return "none"
}

// Keywords are an account's own keywords, in addition to the defaults
// (other languages' words: PARAR, ABMELDEN…). The zero value is the
// defaults alone.
type Keywords struct {
	OptOut []string `json:"opt_out,omitempty"`
	OptIn  []string `json:"opt_in,omitempty"`
}

// IsZero reports whether k adds nothing to the defaults.
func (k Keywords) IsZero() bool { return len(k.OptOut) == 0 && len(k.OptIn) == 0 }

// Classify says what a message whose text is text asks for: OptOut when
// its whole text, folded (Fold), is an opt-out keyword (a default or one
// of k's), OptIn when it is an opt-in keyword, else None. Opt-out wins
// should a word be both.
func (k Keywords) Classify(text string) Action {
	f := Fold(text)
	if f == "" || len([]rune(f)) > MaxKeywordLen {
		return None
	}
	has := func(lists ...[]string) bool {
		for _, l := range lists {
			for _, w := range l {
				if Fold(w) == f {
					return true
				}
			}
		}
		return false
	}
	switch {
	case has(DefaultOptOut, k.OptOut):
		return OptOut
	case has(DefaultOptIn, k.OptIn):
		return OptIn
	}
	return None
}

// Fold returns text as keywords are compared: trimmed of spaces and of the
// punctuation around it ("Stop!", "«stop»"), its inner runs of spaces made
// one, without accents (é is e) and compatibility forms (ｓｔｏｐ is stop),
// case-folded (ß is ss). "Désinscrire " and "DESINSCRIRE" fold alike;
// "please stop" stays two words.
func Fold(text string) string {
	text = strings.TrimFunc(text, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.Is(unicode.Cf, r)
	})
	if text == "" {
		return ""
	}
	t := transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	s, _, err := transform.String(t, text)
	if err != nil {
		s = text
	}
	s = cases.Fold().String(s)
	return strings.Join(strings.Fields(s), " ")
}

// Inbound is one message a person wrote to an account's number.
type Inbound struct {
	Phone string
	// Text is the message's text, or "" when it has none or it was not
	// kept (only keywords are: see Keywords.Classify).
	Text string
	// At is when they wrote, as the provider says (a conversation history
	// gives the provider's wall clock), else when wacamp learned of it.
	At time.Time
	// Ref identifies the message at the provider (its wamid or entry id);
	// "" if unknown. A keyword read again (a history is read before many
	// sends) is acted on once.
	Ref string
	// FromHistory: read in a conversation history, which is read again
	// only before a send. An opt-out read there does not skip deliveries
	// when they are planned (their sends read the history again, where an
	// opt-in written since shows, and their claims decide).
	FromHistory bool
}

// Outcome is what recording inbound messages did.
type Outcome struct {
	// Action is the last keyword acted on (None: no keyword, or only
	// keywords already acted on).
	Action Action
	// Ended are the sequences whose enrollment the opt-out ended.
	Ended []string
	// Confirmations counts the confirmations planned (an enrollment in
	// the account's reply sequence per keyword acted on, when the account
	// has a confirmation for it).
	Confirmations int
}
