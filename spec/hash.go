package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"

	"github.com/wacamp/wacamp/consent"
)

// SpecHash returns stable hashes of b's message and of its audience: the
// SHA-256, in hex, of their canonical JSON (struct fields in declaration
// order, map keys sorted; the audience as one JSON list of its recipients,
// inline ones first, then the CSV file's, duplicates removed). The store
// compares them to notice an edited message or audience when a broadcast
// is applied again. Name, account, start_at, deadline and Pos are not
// included; compare those directly.
//
// With a CSV file, the audience's hash is the one [Load] computed while it
// read the file (and [Broadcast.EachRecipient] checks again): the rows are
// not in memory to hash.
func (b Broadcast) SpecHash() (message, audience string) {
	if b.CSV != nil {
		return hashJSON(b.Message), b.CSV.hash
	}
	return hashJSON(b.Message), hashJSON(b.Recipients)
}

// SpecHash returns a stable hash of everything about a that matters to
// sending: every field except Pos. TokenRef is a reference, not the token,
// so a rotated token in the same variable or file keeps the hash.
func (a Account) SpecHash() string {
	// An account without a cap hashes as before the cap existed.
	type capHash struct {
		Messages  int    `json:"messages"`
		Per       int64  `json:"per_ms"`
		Sequences string `json:"sequences,omitempty"`
	}
	var fc any // nil: left out
	if c := a.FrequencyCap; c.Messages > 0 {
		fc = capHash{c.Messages, c.Per.Milliseconds(), c.Sequences}
	}
	return hashJSON(struct {
		Name          string  `json:"name"`
		Provider      string  `json:"provider"`
		BaseURL       string  `json:"base_url"`
		TokenRef      string  `json:"token_ref"`
		PhoneNumberID string  `json:"phone_number_id"`
		WhatsAppBotID int64   `json:"whatsapp_bot_id"`
		RatePerSecond float64 `json:"rate_per_second"`
		PairInterval  int64   `json:"pair_interval_ms"`
		DailyUnique   int     `json:"daily_unique_limit"`
		Portfolio     string  `json:"portfolio"`
		Timezone      string  `json:"timezone,omitempty"`
		SecretRef     string  `json:"secret_ref,omitempty"`
		SessionID     string  `json:"session_id,omitempty"`
		WebhookSecret string  `json:"webhook_secret_ref,omitempty"`
		Unknown       string  `json:"on_unknown_outcome,omitempty"`
		SettleWindow  int64   `json:"settle_window_ms,omitempty"`
		FrequencyCap  any     `json:"frequency_cap,omitempty"`
		// OptOut is null without keywords of its own, so the hashes of
		// accounts stored before it existed do not change.
		OptOut *consent.Settings `json:"opt_out,omitempty"`
		// ServiceWindow is left out when not set, likewise.
		ServiceWindow string `json:"customer_service_window,omitempty"`
	}{a.Name, a.Provider, a.BaseURL, a.TokenRef, a.PhoneNumberID, a.WhatsAppBotID, a.RatePerSecond,
		a.PairInterval.Milliseconds(), a.DailyUniqueLimit, a.Portfolio, a.Timezone, a.SecretRef, a.SessionID, a.WebhookSecretRef,
		a.OnUnknownOutcome, a.SettleWindow.Milliseconds(), fc, optOutHash(a.OptOut), a.ServiceWindow})
}

// optOutHash is k for an account's hash, nil when it adds nothing (its
// JSON without confirmations is the keywords' alone, as before they
// existed).
func optOutHash(k consent.Settings) *consent.Settings {
	if k.IsZero() {
		return nil
	}
	return &k
}

// audienceHash hashes an audience recipient by recipient, as it is read,
// to what hashJSON gives for the whole list: the SHA-256 of its JSON array
// (and of "null" for none, as for a nil slice), so a hash stored before
// audiences were streamed still matches.
type audienceHash struct {
	h hash.Hash
	n int
}

func newAudienceHash() *audienceHash { return &audienceHash{h: sha256.New()} }

func (a *audienceHash) add(r Recipient) {
	sep := ","
	if a.n == 0 {
		sep = "["
	}
	a.n++
	b, err := json.Marshal(r)
	if err != nil { // strings only: cannot happen
		b = fmt.Appendf(nil, "%#v", r)
	}
	_, _ = io.WriteString(a.h, sep) // a hash.Hash never fails to write
	_, _ = a.h.Write(b)
}

// sum returns the hash, in hex; add may not be called afterwards.
func (a *audienceHash) sum() string {
	end := "]\n" // json.Encoder ends a value with a newline
	if a.n == 0 {
		end = "null\n"
	}
	_, _ = io.WriteString(a.h, end)
	return hex.EncodeToString(a.h.Sum(nil))
}

// hashJSON returns the hex SHA-256 of v's JSON encoding, streamed so a large
// audience is not held twice in memory.
func hashJSON(v any) string {
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(v); err != nil {
		// Only a NaN or infinite rate, which Load refuses, fails to
		// encode; hash the Go syntax instead.
		h.Reset()
		fmt.Fprintf(h, "%#v", v)
	}
	return hex.EncodeToString(h.Sum(nil))
}
