package waapi

import (
	"testing"

	"github.com/wacamp/wacamp/internal/hostile"
)

// FuzzParseWebhook: whatever body the parser accepts, its events can be
// queued and stored (see hostile.FuzzParser).
func FuzzParseWebhook(f *testing.F) {
	hostile.FuzzParser(f, ParseWebhook, webhookSamples...)
}

// webhookSamples are the Baileys shapes the parser documents: a status
// update array, an inbound message in messages.upsert, our own message
// (onAnyMessage) and a receipt.
var webhookSamples = []string{
	`{"event":"onMessageUpdate","session_id":"s1","data":[` +
		`{"key":{"remoteJid":"2349048988056@s.whatsapp.net","fromMe":true,"id":"BAE1"},"update":{"status":"SERVER_ACK"},"messageTimestamp":"1688996225"},` +
		`{"key":{"remoteJid":"2349048988056@s.whatsapp.net","fromMe":true,"id":"BAE4"},"update":{"status":"ERROR","error":{"code":"131026","message":"Message undeliverable."}}}]}`,
	`{"event":"onMessage","data":{"messages":[{"key":{"remoteJid":"1234@lid","senderPn":"2349048988056@s.whatsapp.net","fromMe":false,"id":"IN1"},` +
		`"message":{"ephemeralMessage":{"message":{"extendedTextMessage":{"text":"STOP"}}}},"messageTimestamp":{"low":1688996225,"high":0}}]}}`,
	`{"key":{"remoteJid":"2349048988056@s.whatsapp.net","fromMe":true,"id":"BAE59F1807A62E0D"},"status":"PENDING",` +
		`"message":{"imageMessage":{"url":"https://example.com/a.png","caption":"Yo"}},"messageTimestamp":"1688996225"}`,
	`[{"type":"message-receipt.update","data":{"key":{"remoteJid":"2349048988056:12@s.whatsapp.net","fromMe":true,"id":"R1"},` +
		`"receipt":{"receiptTimestamp":1688996225}}}]`,
}
