package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/templates"
)

type accountRow struct {
	ID       int64
	Name     string
	Provider string
	BaseURL  string
	TokenRef string
	// SecretRef, SessionID, WebhookSecretRef: migration 00006.
	SecretRef        string
	SessionID        string
	WebhookSecretRef string
	PhoneNumberID    string
	WhatsappBotID    int64
	RatePerSecond    float64
	// PairIntervalMs etc.: the recipient limits (migration 00002).
	PairIntervalMs   int64
	DailyUniqueLimit int
	Portfolio        string
	Timezone         string
	// OnUnknownOutcome, SettleWindowMs: migration 00008.
	OnUnknownOutcome string
	SettleWindowMs   int64
	SpecHash         string
	CreatedAt        time.Time
	UpdatedAt        time.Time

	// CapMessages, CapPerMs, CapSequences: the frequency cap (migration
	// 00013; 0 messages = none).
	CapMessages  int
	CapPerMs     int64
	CapSequences string

	// OptOut: the account's own keywords, consent.Keywords as JSON ("" =
	// the defaults); migration 00012.
	OptOut string
	// ServiceWindow: customer_service_window (migration 00015; '' = the
	// provider's rule).
	ServiceWindow string
}

func (accountRow) TableName() string { return "accounts" }

func (a accountRow) domain() delivery.Account {
	return delivery.Account{
		ID: a.ID, Name: a.Name, Provider: a.Provider, BaseURL: a.BaseURL, TokenRef: a.TokenRef,
		SecretRef: a.SecretRef, SessionID: a.SessionID, WebhookSecretRef: a.WebhookSecretRef,
		PhoneNumberID: a.PhoneNumberID, WhatsAppBotID: a.WhatsappBotID, RatePerSecond: a.RatePerSecond,
		PairInterval: time.Duration(a.PairIntervalMs) * time.Millisecond, DailyUniqueLimit: a.DailyUniqueLimit,
		Portfolio: a.Portfolio, Timezone: a.Timezone,
		OnUnknownOutcome: a.OnUnknownOutcome, SettleWindow: time.Duration(a.SettleWindowMs) * time.Millisecond,
		FrequencyCap:  delivery.FrequencyCap{Messages: a.CapMessages, Per: time.Duration(a.CapPerMs) * time.Millisecond, Sequences: a.CapSequences},
		ServiceWindow: a.ServiceWindow,
	}
}

type broadcastRow struct {
	ID              int64
	Name            string
	AccountID       int64
	Status          string
	StatusReason    string
	StartAt         time.Time
	DeadlineSeconds int64
	Message         string
	MessageHash     string
	AudienceHash    string
	RecipientCount  int
	Duplicates      int
	StormShare      float64
	StormWindow     int
	Cron            string
	Timezone        string
	// LocalTime, LocalDate and SendWindow: migration 00014 (a
	// localtime.Timing; the window as JSON, "" = always open).
	LocalTime      string
	LocalDate      string
	SendWindow     string
	ParentID       *int64
	LastOccurrence *time.Time
	StartedAt      *time.Time
	FinishedAt     *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func (broadcastRow) TableName() string { return "broadcasts" }

func (b broadcastRow) domain() (campaign.Broadcast, error) {
	var m templates.Message
	if err := json.Unmarshal([]byte(b.Message), &m); err != nil {
		return campaign.Broadcast{}, err
	}
	t, err := b.timing()
	if err != nil {
		return campaign.Broadcast{}, err
	}
	return campaign.Broadcast{
		ID: b.ID, Name: b.Name, AccountID: b.AccountID, Status: campaign.Status(b.Status),
		Reason: b.StatusReason, StartAt: b.StartAt.UTC(), Deadline: time.Duration(b.DeadlineSeconds) * time.Second,
		Message: m, RecipientCount: b.RecipientCount, Duplicates: b.Duplicates,
		StormShare: b.StormShare, StormWindow: b.StormWindow,
		StartedAt: b.StartedAt, FinishedAt: b.FinishedAt, UpdatedAt: b.UpdatedAt,
		Cron: b.Cron, Timezone: b.Timezone, LastOccurrence: b.LastOccurrence,
		Timing: t,
	}, nil
}

// timing is when the broadcast reaches each recipient, by their zone.
func (b broadcastRow) timing() (localtime.Timing, error) {
	w, err := decodeWindow(b.SendWindow)
	return localtime.Timing{LocalTime: b.LocalTime, Date: b.LocalDate, Window: w}, err
}

// encodeWindow is a send window as broadcasts.send_window stores it: ""
// when it is always open, else its JSON.
func encodeWindow(w localtime.Window) (string, error) {
	if w.Always() {
		return "", nil
	}
	b, err := json.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("encode send window: %w", err)
	}
	return string(b), nil
}

// decodeWindow reads broadcasts.send_window.
func decodeWindow(s string) (localtime.Window, error) {
	var w localtime.Window
	if s == "" {
		return w, nil
	}
	if err := json.Unmarshal([]byte(s), &w); err != nil {
		return w, fmt.Errorf("decode send window: %w", err)
	}
	return w, nil
}

type recipientRow struct {
	ID          int64
	BroadcastID int64
	Phone       string
	Name        string
	Vars        string
	Zone        *int16 // its number in broadcast_zones; nil unless the broadcast is zoned
}

func (recipientRow) TableName() string { return "recipients" }

type deliveryRow struct {
	ID           int64
	BroadcastID  *int64
	RecipientID  *int64
	EnrollmentID *int64
	SequenceID   *int64 // a step's sequence: its release lane (00019)
	Step         *int
	DueAt        *time.Time
	SendBy       *time.Time
	Phone        string
	Status       string
	Gen          int
	Attempts     int
	Wamid        *string
	ErrorCode    string
	Error        string
	QueuedAt     *time.Time
	SendingAt    *time.Time
	LeaseUntil   *time.Time
	SentAt       *time.Time
	DeliveredAt  *time.Time
	ReadAt       *time.Time
	FailedAt     *time.Time
	NextPollAt   *time.Time
	PollCount    int
	ConvMark     string
	TrackUntil   *time.Time
	UpdatedAt    time.Time
	Batch        *int64
	Zone         *int16
}

func (deliveryRow) TableName() string { return "deliveries" }

type eventRow struct {
	ID         int64
	DeliveryID int64
	Status     string
	At         time.Time
	Detail     string
}

func (eventRow) TableName() string { return "delivery_events" }

func decodeVars(s string) map[string]string {
	m := map[string]string{}
	if s != "" {
		_ = json.Unmarshal([]byte(s), &m) // written by us; an empty map is the safe fallback
	}
	return m
}

func utc(t time.Time) time.Time { return t.UTC() }

// nullTime is t in UTC, or NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func ptr[T any](v T) *T { return &v }

// splitMark decodes deliveries.conv_mark: "" = no mark recorded (nil),
// "@" = recorded, the conversation was empty, "@a,b" = those wamids.
func splitMark(s string) []string {
	if s == "" {
		return nil
	}
	s = strings.TrimPrefix(s, "@")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}
