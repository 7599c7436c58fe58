package salebot

import (
	"testing"

	"github.com/wacamp/wacamp/internal/hostile"
)

// FuzzParseWebhook: whatever body the parser accepts, its events can be
// queued and stored (see hostile.FuzzParser).
func FuzzParseWebhook(f *testing.F) {
	hostile.FuzzParser(f, ParseWebhook, webhookInbound, webhookDelivered, webhookFailedStrings, webhookTelegram)
}
