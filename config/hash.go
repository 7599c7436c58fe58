package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// SpecHash returns stable hashes of b's message and of its audience: the
// SHA-256, in hex, of their canonical JSON (struct fields in declaration
// order, map keys sorted). The store compares them to notice an edited
// message or audience when a broadcast is applied again. Name, account,
// start_at, deadline and Pos are not included; compare those directly.
func (b Broadcast) SpecHash() (message, audience string) {
	return hashJSON(b.Message), hashJSON(b.Recipients)
}

// SpecHash returns a stable hash of everything about a that matters to
// sending: every field except Pos. TokenRef is a reference, not the token,
// so a rotated token in the same variable or file keeps the hash.
func (a Account) SpecHash() string {
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
	}{a.Name, a.Provider, a.BaseURL, a.TokenRef, a.PhoneNumberID, a.WhatsAppBotID, a.RatePerSecond,
		a.PairInterval.Milliseconds(), a.DailyUniqueLimit, a.Portfolio, a.Timezone, a.SecretRef, a.SessionID, a.WebhookSecretRef,
		a.OnUnknownOutcome, a.SettleWindow.Milliseconds()})
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
