package delivery

import (
	"context"
	"time"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/templates"
)

// Account is a provider account (one WhatsApp phone number) as the engine
// needs it. TokenRef names where the API token lives; the token itself is
// resolved by the [Senders] of each process and never stored.
type Account struct {
	ID       int64
	Name     string
	Provider string
	BaseURL  string
	TokenRef string
	// SecretRef is where a second credential is (Sobot's API secret, the
	// session API's Bearer token); "" = none. WebhookSecretRef is where the
	// secret of the account's webhook URL is ("" = no webhooks).
	SecretRef        string
	WebhookSecretRef string
	// SessionID is the session API's session_id.
	SessionID     string
	PhoneNumberID string
	WhatsAppBotID int64
	RatePerSecond float64
	// PairInterval is the least time between two messages to one recipient
	// from this number (0 = not enforced).
	PairInterval time.Duration
	// DailyUniqueLimit is the rolling 24 h unique-recipient budget (0 =
	// unlimited), shared by the accounts of one Portfolio.
	DailyUniqueLimit int
	Portfolio        string
	// Timezone is where sequence windows are read for recipients whose own
	// zone is unknown (an IANA name; "" = UTC).
	Timezone string
	// OnUnknownOutcome is what happens to a send whose outcome is unknown
	// on a provider without a conversation history: OutcomeSettle ("" is
	// the same), OutcomeFail or OutcomeResend. SettleWindow is how long
	// settling waits for the provider's webhooks (0 = the engine's Options.SettleWindow).
	OnUnknownOutcome string
	SettleWindow     time.Duration
	// FrequencyCap caps the messages to one person across every broadcast
	// and sequence of the account's Ledger (zero: no cap).
	FrequencyCap FrequencyCap
	// ServiceWindow overrides whether the account's channel enforces the
	// 24-hour customer-service window: WindowEnforced, WindowNotEnforced,
	// or "" for its provider's rule (see EnforcesWindow).
	ServiceWindow string
}

// FrequencyCap is an account's frequency cap: at most Messages
// business-initiated messages to one person in any moving Per, counted
// fleet-wide across every broadcast and sequence of the account's ledger
// (its portfolio, else its number). A zero Messages is no cap.
type FrequencyCap struct {
	Messages int
	Per      time.Duration
	// Sequences is what a sequence step over the cap does: CapDefer (""
	// is the same) or CapSkip. A broadcast's delivery over it is always
	// skipped.
	Sequences string
}

// The choices of a frequency cap's Sequences.
const (
	// CapDefer: a step over the cap waits, within its deadline, until the
	// oldest message counted leaves the window.
	CapDefer = "defer"
	// CapSkip: a step over the cap is skipped and the enrollment goes on
	// with its next step.
	CapSkip = "skip"
)

// ReasonFrequencyCap is the error code (a reason code of wacamp's, not a
// provider's) of a delivery that ended because its recipient had had the
// account's frequency cap of messages: skipped, or a sequence step that
// expired waiting for room. Status counts skipped deliveries by such codes.
const ReasonFrequencyCap = "frequency_cap"

// RateKey is the throttle key of the account's phone number.
// Providers without a phone_number_id and none configured use the account
// name.
func (a Account) RateKey() string {
	if a.PhoneNumberID == "" {
		return "account:" + a.Name
	}
	return "phone:" + a.PhoneNumberID
}

// Ledger names the account's unique-recipient budget: its portfolio's when
// it has one, else its phone number's (so renaming the account keeps it).
func (a Account) Ledger() string {
	if a.Portfolio != "" {
		return "portfolio:" + a.Portfolio
	}
	if a.PhoneNumberID == "" {
		return "account:" + a.Name
	}
	return "number:" + a.PhoneNumberID
}

// Ref names one generation of a delivery. The generation changes whenever the
// delivery is taken back out of the queue (pause) or re-enqueued (lost task),
// so a task of an older generation does nothing.
type Ref struct {
	ID  int64
	Gen int
}

// QueuedRef is a delivery that was queued and the task that carried it:
// its batch send task when Batch is not 0 (see BatchTaskID), else its own
// (see SendTaskID).
type QueuedRef struct {
	Ref
	Batch int64
}

// Job is everything the send handler needs about one delivery.
type Job struct {
	Ref
	Status     Status
	Phone      string
	Name       string
	Vars       map[string]string
	Attempts   int
	SendingAt  *time.Time
	LeaseUntil *time.Time
	// ConvMark lists the wamids the conversation held before this send
	// (recorded for sends whose answer carries no wamid).
	ConvMark []string
	// Message is what the delivery sends, before it is rendered for the
	// recipient: its broadcast's message, or its sequence step's.
	Message templates.Message
	// SendBy is the time after which the delivery, unsent, expires: its
	// broadcast's deadline, or its step's send-by time; zero = never.
	SendBy time.Time
	// DueAt is the time before which it is not sent: its step's due time,
	// its recipient's local time in a local-time broadcast, or when a
	// window it was held past opens again; zero = at once.
	DueAt   time.Time
	Account Account
	// Owner is the owner's part of the job, loaded with it: the broadcast
	// that planned the delivery (campaign.Broadcast), or the enrollment
	// whose step it is (sequence.StepJob). The Owner of its kind reads it.
	Owner Owned
	// Batch is the batch send task that carries a queued delivery (see
	// BatchTaskID); 0 = its own send task. Only the sweep reads it.
	Batch int64
	// Contacted says wacamp sent the recipient a message before (some
	// delivery to the phone was accepted): they may have written back, so
	// on a provider whose replies are only in the conversation history the
	// history is read before the send, for opt-out keywords.
	Contacted bool
	// LastInbound is when the recipient last wrote to the account's number,
	// as recorded (webhooks, conversation history reads); nil = never, as
	// far as wacamp knows. It opens the 24-hour window (see WindowOpen).
	LastInbound *time.Time
	// Reply: the message answers one the recipient just wrote (an opt-out
	// or opt-in confirmation, a step of a reply sequence): no
	// business-initiated message, so neither the suppression list (it
	// confirms the opt-out) nor the frequency cap and the unique-recipient
	// budget apply to it. The pair interval, the rate and the 24-hour
	// window do.
	Reply bool
}

// OptOut is what the job's recipient is checked against on the suppression
// list: its account's lists, and whether its message is marketing; no list
// for a Reply.
func (j Job) OptOut() consent.Check {
	if j.Reply {
		return consent.Check{}
	}
	return consent.CheckOf(j.Account.Name, j.Account.Portfolio, j.Message)
}

// Variables returns the values a message may use for this recipient.
func (j Job) Variables() map[string]string { return templates.RecipientVars(j.Phone, j.Name, j.Vars) }

// PollTarget is what the status poller needs about one accepted message.
type PollTarget struct {
	DeliveryID int64
	Phone      string
	WAMID      string
	Status     Status
	PollCount  int
	SentAt     time.Time
	TrackUntil time.Time
	Message    templates.Message
	Vars       map[string]string
	ConvMark   []string
	Account    Account
}

// Row is one delivery as `scheduler export` prints it.
type Row struct {
	ID        int64  `json:"id"`
	Phone     string `json:"phone"`
	Name      string `json:"name,omitempty"`
	Status    Status `json:"status"`
	WAMID     string `json:"wamid"`
	ErrorCode string `json:"error_code,omitempty"`
	Error     string `json:"error"`
	Attempts  int    `json:"attempts"`
	// Settle says how a send whose outcome was unknown is settled:
	// SettleAwaiting, SettleSettled or SettleResent; "" when it never was.
	Settle string `json:"settle,omitempty"`
	// Zone is the recipient's time zone (IANA) in a local-time or
	// windowed broadcast, resolved when it was applied; "" elsewhere.
	Zone      string     `json:"zone,omitempty"`
	SentAt    *time.Time `json:"sent_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Sender is one provider account's API, as the engine uses it.
type Sender interface {
	// Send sends one rendered message. Errors are *provider.Error values
	// whose Class says whether to retry, fail, reconcile or halt.
	Send(ctx context.Context, to string, m templates.Message) (provider.SendResult, error)
	// Conversation returns the newest messages exchanged with phone.
	Conversation(ctx context.Context, phone string, limit int) ([]provider.ConversationMessage, error)
	// MessageStatus returns the current status of a sent message.
	MessageStatus(ctx context.Context, wamid string) (provider.StatusReport, error)
	// Capabilities is what the provider's API can do (a history, status
	// polls or webhooks…); the engine decides by it, never by the
	// provider's name.
	Capabilities() provider.Capabilities
}

// Senders hands out the Sender of an account, resolving its token.
type Senders interface {
	Sender(ctx context.Context, a Account) (Sender, error)
}

// Limiter paces sends per key (a phone number). Wait blocks until a send is
// allowed at perSecond or ctx ends; waiting is never an error by itself.
type Limiter interface {
	Wait(ctx context.Context, key string, perSecond float64) error
}

// Departer is a Limiter that hands out departure slots ahead
// (throttle.Fleet): WaitAhead returns at least ahead before the slot, the
// send claims its delivery meanwhile, and Depart returns at the slot, or
// with an error when the claim overran it (the send then hands its claim
// back and comes back for a new slot), so the claim's varying delay does
// not bunch requests at the provider.
type Departer interface {
	WaitAhead(ctx context.Context, key string, perSecond float64, ahead time.Duration) (time.Time, error)
	Depart(ctx context.Context, key string, perSecond float64, at time.Time) error
}
