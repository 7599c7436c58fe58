package salebot

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
)

// The seed doc describes the message webhook by its field list only, with no
// literal body. These bodies fill that list in, field for field and in the
// doc's order, with the doc's sample values (client id 49177759, phone
// 79875146788, block 390, client_type 6, group 34810).
const (
	// webhookClient is the doc's client object, the sender of the first
	// two bodies.
	webhookClient = `{
    "id": 49177759,
    "recepient": "79875146788",
    "client_type": 6,
    "name": "John Smith",
    "avatar": "",
    "created_at": 1609867984,
    "tag": null,
    "group": "34810"
  }`
	webhookInbound = `{
  "id": 104501,
  "client": ` + webhookClient + `,
  "message": "Payment info",
  "attachments": [],
  "message_id": null,
  "project_id": 1,
  "is_input": 1,
  "delivered": 1,
  "error_message": ""
}`
	webhookDelivered = `{
  "id": 104500,
  "client": ` + webhookClient + `,
  "message": "CouCou",
  "attachments": [],
  "message_id": 390,
  "project_id": 1,
  "is_input": 0,
  "delivered": 1,
  "error_message": ""
}`
	// Numbers as strings, a "@c.us" recepient, a failed delivery.
	webhookFailedStrings = `{
  "id": "104502",
  "client": {
    "id": "49177759",
    "recepient": "79875146788@c.us",
    "client_type": "6",
    "name": "John Smith",
    "avatar": null,
    "created_at": "1609867984",
    "tag": "",
    "group": "34810"
  },
  "message": "Hello",
  "attachments": ["https://example.com/a.jpg"],
  "message_id": "",
  "project_id": "1",
  "is_input": "0",
  "delivered": "0",
  "error_message": "Message undeliverable. (#131026)"
}`
	webhookTelegram = `{"id": 5, "client": {"id": 1, "recepient": "146467928", "client_type": 1, "name": "T"},
  "message": "hi", "is_input": 1, "delivered": 1, "error_message": ""}`
)

func TestParseWebhook(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name string
		body string
		want provider.Event
	}{
		{"Inbound", webhookInbound, provider.Event{WAMID: "104501", Phone: "79875146788", Inbound: true, Text: "Payment info"}},
		{"Delivered", webhookDelivered, provider.Event{WAMID: "104500", Status: provider.StatusDelivered, Phone: "79875146788",
			Text: "CouCou", MatchByPhone: true}},
		{"FailedWithStringsAndSuffix", webhookFailedStrings, provider.Event{WAMID: "104502", Status: provider.StatusFailed, Phone: "79875146788",
			Text: "Hello", Media: "https://example.com/a.jpg", MatchByPhone: true, Code: "131026", Reason: "Message undeliverable. (#131026)"}},
		{"BooleansAndFailedWithoutText", `{"id":7,"client":{"recepient":"+7 987 514-67-88"},"is_input":false,"delivered":false}`,
			provider.Event{WAMID: "7", Status: provider.StatusFailed, Phone: "79875146788", MatchByPhone: true}},
		// The doc's history sample has "delivered": true with "error_message": "true": no reason.
		{"DeliveredIgnoresErrorMessage", `{"id":8,"client":{"recepient":"79875146788","client_type":6},"is_input":0,"delivered":true,"error_message":"true"}`,
			provider.Event{WAMID: "8", Status: provider.StatusDelivered, Phone: "79875146788", MatchByPhone: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			evs, err := ParseWebhook([]byte(tt.body))
			require.NoError(t, err)
			require.Equal(t, []provider.Event{tt.want}, evs)
		})
	}

	t.Run("Array", func(t *testing.T) {
		t.Parallel()
		evs, err := ParseWebhook([]byte("[" + webhookDelivered + "," + webhookTelegram + "," + webhookInbound + `, 3, "x"]`))
		require.NoError(t, err)
		require.Len(t, evs, 2)
		require.Equal(t, provider.StatusDelivered, evs[0].Status)
		require.True(t, evs[1].Inbound)
	})

	t.Run("OtherMessengersAreDropped", func(t *testing.T) {
		t.Parallel()
		evs, err := ParseWebhook([]byte(webhookTelegram))
		require.NoError(t, err)
		require.Nil(t, evs)
	})

	t.Run("NothingWeUse", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{
			`{}`, `[]`, `null`, `"ping"`,
			`{"id":1,"client":{"recepient":"79875146788"},"message":"no is_input"}`,
			`{"id":1,"client":{"recepient":"79875146788"},"is_input":0}`,       // no delivered
			`{"id":1,"client":{"recepient":"79875146788"},"is_input":"maybe"}`, // unknown
		} {
			evs, err := ParseWebhook([]byte(body))
			require.NoError(t, err, body)
			require.Nil(t, evs, body)
		}
	})

	t.Run("Malformed", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{``, `   `, `{`, `{"id":1}{"id":2}`, `<xml/>`} {
			_, err := ParseWebhook([]byte(body))
			require.Error(t, err, body)
		}
	})
}

// The doc never gives client_type's values: only another number is another
// messenger (review finding: a non-numeric type dropped every status).
func TestParseWebhookClientTypeNotANumber(t *testing.T) {
	evs, err := ParseWebhook([]byte(`{"id":5,"client":{"recepient":"79875146788","client_type":"whatsapp"},"message":"hi","is_input":0,"delivered":0,"error_message":"undeliverable"}`))
	if err != nil || len(evs) != 1 || evs[0].Status != provider.StatusFailed || evs[0].Phone != "79875146788" {
		t.Fatalf("events = %+v, %v", evs, err)
	}
	evs, err = ParseWebhook([]byte(`{"id":6,"client":{"recepient":"79875146788","client_type":1},"message":"hi","is_input":0,"delivered":1}`))
	if err != nil || len(evs) != 0 {
		t.Fatalf("another messenger's event kept: %+v, %v", evs, err)
	}
}
