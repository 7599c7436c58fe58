package salebot

import (
	"testing"

	"github.com/wacamp/wacamp/internal/hostile"
)

// FuzzParseWebhook: whatever body the parser accepts, its events can be
// queued and stored (see hostile.RequireQueueable).
func FuzzParseWebhook(f *testing.F) {
	for _, body := range webhookSamples(f) {
		f.Add([]byte(body))
	}
	for _, body := range hostile.WebhookSeeds() {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := ParseWebhook(body)
		if err == nil {
			hostile.RequireQueueable(t, events)
		}
	})
}

// webhookSamples are the message webhook's shapes of the tests.
func webhookSamples(*testing.F) []string {
	return []string{webhookInbound, webhookDelivered, webhookFailedStrings, webhookTelegram}
}
