package waapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
)

// webhookCase is one body and the events ParseWebhook must make of it.
type webhookCase struct {
	name string
	body string
	want []provider.Event
}

// requireParsed runs one subtest a case.
func requireParsed(t *testing.T, tests []webhookCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseWebhook([]byte(tt.body))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseWebhookStatuses(t *testing.T) {
	t.Parallel()
	at := time.Unix(1688996225, 0).UTC()
	requireParsed(t, []webhookCase{
		{
			// The shape waapisim pushes (our chosen shape).
			name: "SimUpdateArray",
			body: `{"event":"onMessageUpdate","session_id":"s1","data":[
				{"key":{"remoteJid":"2349048988056@s.whatsapp.net","fromMe":true,"id":"BAE1"},"update":{"status":"SERVER_ACK"},"messageTimestamp":"1688996225"},
				{"key":{"remoteJid":"2349048988056@s.whatsapp.net","fromMe":true,"id":"BAE2"},"update":{"status":"DELIVERY_ACK"},"messageTimestamp":1688996225},
				{"key":{"remoteJid":"2349048988056@s.whatsapp.net","fromMe":true,"id":"BAE3"},"update":{"status":"READ"}},
				{"key":{"remoteJid":"2349048988056@s.whatsapp.net","fromMe":true,"id":"BAE4"},"update":{"status":"ERROR","error":{"code":"131026","message":"Message undeliverable."}}}
			]}`,
			want: []provider.Event{
				{WAMID: "BAE1", Status: provider.StatusSent, Phone: "2349048988056", At: at, MatchByPhone: true},
				{WAMID: "BAE2", Status: provider.StatusDelivered, Phone: "2349048988056", At: at, MatchByPhone: true},
				{WAMID: "BAE3", Status: provider.StatusRead, Phone: "2349048988056", MatchByPhone: true},
				{WAMID: "BAE4", Status: provider.StatusFailed, Phone: "2349048988056", Code: "131026", Reason: "Message undeliverable.", MatchByPhone: true},
			},
		},
		{
			name: "BaileysNumericStatuses",
			body: `[{"type":"messages.update","data":[
				{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"N0"},"update":{"status":0}},
				{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"N1"},"update":{"status":1}},
				{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"N2"},"update":{"status":2}},
				{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"N3"},"update":{"status":"3"}},
				{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"N4"},"update":{"status":4}},
				{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"N5"},"update":{"status":5}},
				{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"N9"},"update":{"status":9}}
			]}]`,
			want: []provider.Event{
				{WAMID: "N0", Status: provider.StatusFailed, Phone: "111", MatchByPhone: true},
				{WAMID: "N2", Status: provider.StatusSent, Phone: "111", MatchByPhone: true},
				{WAMID: "N3", Status: provider.StatusDelivered, Phone: "111", MatchByPhone: true},
				{WAMID: "N4", Status: provider.StatusRead, Phone: "111", MatchByPhone: true},
				{WAMID: "N5", Status: provider.StatusRead, Phone: "111", MatchByPhone: true},
			},
		},
		{
			// An onAnyMessage echo of our own send: the send answer's shape.
			name: "OwnMessageTopLevelPending",
			body: `{"key":{"remoteJid":"2349048988056@s.whatsapp.net","fromMe":true,"id":"BAE59F1807A62E0D"},"status":"PENDING","message":{"conversation":"hi"},"messageTimestamp":"1688996225"}`,
			want: []provider.Event{{WAMID: "BAE59F1807A62E0D", Status: provider.StatusSent, Phone: "2349048988056", At: at, Text: "hi", MatchByPhone: true}},
		},
		{
			// onAnyMessage: our own message without a status, an image
			// with its caption and URL.
			name: "OwnMessageEcho",
			body: `{"event":"onAnyMessage","data":{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"E1"},"message":{"imageMessage":{"url":"https://cdn.example.com/a.jpg","caption":"For you"}}}}`,
			want: []provider.Event{{WAMID: "E1", Status: provider.StatusSent, Phone: "111", Text: "For you", Media: "https://cdn.example.com/a.jpg", MatchByPhone: true}},
		},
		{
			name: "PlayedAndDeviceSuffix",
			body: `{"event":"onMessageUpdate","data":{"key":{"remoteJid":"2349040613521:8@s.whatsapp.net","fromMe":true,"id":"P"},"update":{"status":"PLAYED"}}}`,
			want: []provider.Event{{WAMID: "P", Status: provider.StatusRead, Phone: "2349040613521", MatchByPhone: true}},
		},
		{
			name: "Receipt",
			body: `{"event":"message-receipt.update","data":[
				{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"R1"},"receipt":{"userJid":"111@s.whatsapp.net","receiptTimestamp":1688996225}},
				{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"R2"},"receipt":{"readTimestamp":"1688996225"}}
			]}`,
			want: []provider.Event{
				{WAMID: "R1", Status: provider.StatusDelivered, Phone: "111", At: at, MatchByPhone: true},
				{WAMID: "R2", Status: provider.StatusRead, Phone: "111", At: at, MatchByPhone: true},
			},
		},
		{
			name: "FailedReasonWithCodeInText",
			body: `{"data":{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"F"},"update":{"status":"ERROR"},"error":"(#131049) marketing cap"}}`,
			want: []provider.Event{{WAMID: "F", Status: provider.StatusFailed, Phone: "111", Code: "131049", Reason: "(#131049) marketing cap", MatchByPhone: true}},
		},
		{
			name: "LongTimestamp",
			body: `{"data":{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"L"},"update":{"status":"DELIVERY_ACK"},"messageTimestamp":{"low":1688996225,"high":0,"unsigned":true}}}`,
			want: []provider.Event{{WAMID: "L", Status: provider.StatusDelivered, Phone: "111", At: at, MatchByPhone: true}},
		},
	})
}

func TestParseWebhookInbound(t *testing.T) {
	t.Parallel()
	at := time.Unix(1688996225, 0).UTC()
	requireParsed(t, []webhookCase{
		{
			// The shape waapisim's Reply pushes.
			name: "OnMessageConversation",
			body: `{"event":"onMessage","session_id":"s1","data":{"key":{"remoteJid":"2349048988056@s.whatsapp.net","fromMe":false,"id":"3EB0AAA"},"message":{"conversation":"STOP"},"messageTimestamp":1688996225,"pushName":"Ana"}}`,
			want: []provider.Event{{WAMID: "3EB0AAA", Inbound: true, Phone: "2349048988056", Text: "STOP", At: at}},
		},
		{
			name: "ExtendedTextAtTop",
			body: `{"event":"onAnyMessage","key":{"remoteJid":"111@c.us","fromMe":"false","id":"X"},"message":{"extendedTextMessage":{"text":"see https://x.y"}},"messageTimestamp":"1688996225000"}`,
			want: []provider.Event{{WAMID: "X", Inbound: true, Phone: "111", Text: "see https://x.y", At: at}},
		},
		{
			name: "UpsertMessagesCaptionsAndReplies",
			body: `{"type":"messages.upsert","data":{"type":"notify","messages":[
				{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":false,"id":"I"},"message":{"imageMessage":{"caption":"pic"}}},
				{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":false,"id":"B"},"message":{"buttonsResponseMessage":{"selectedDisplayText":"Yes"}}},
				{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":false,"id":"E"},"message":{"ephemeralMessage":{"message":{"conversation":"hidden"}}}},
				{"key":{"remoteJid":"120363@g.us","fromMe":false,"id":"G"},"message":{"conversation":"group"}},
				{"key":{"remoteJid":"status@broadcast","fromMe":false,"id":"S"},"message":{"conversation":"story"}},
				{"key":{"remoteJid":"999@lid","senderPn":"222@s.whatsapp.net","fromMe":false,"id":"LID"},"message":{"conversation":"lid"}}
			]}}`,
			want: []provider.Event{
				{WAMID: "I", Inbound: true, Phone: "111", Text: "pic"},
				{WAMID: "B", Inbound: true, Phone: "111", Text: "Yes"},
				{WAMID: "E", Inbound: true, Phone: "111", Text: "hidden"},
				{WAMID: "LID", Inbound: true, Phone: "222", Text: "lid"},
			},
		},
	})
}

func TestParseWebhookNothingOrMalformed(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{}`, `[]`, `null`, `"x"`,
		`{"event":"qr","data":{"qr":"2@abc"}}`,
		`{"event":"connection.update","data":{"connection":"open"}}`,
		`{"event":"onMessageUpdate","data":[{"key":{"remoteJid":"1@s.whatsapp.net","fromMe":true,"id":"A"},"update":{"status":"UNKNOWN"}}]}`,
		// A read receipt of the subscriber's own message: not ours.
		`{"data":{"key":{"remoteJid":"1@s.whatsapp.net","fromMe":false,"id":"A"},"update":{"status":"READ"}}}`,
		// The setWebhook request body from the doc is no event.
		`{"session_id":"","access_token":"","webhook_url":"https://eoy4r2ybzzfdw9y.m.pipedream.net","events":["onMessage","onAnyMessage"],"requestConfig":{}}`,
	} {
		got, err := ParseWebhook([]byte(body))
		require.NoError(t, err, body)
		require.Nil(t, got, body)
	}
	for _, body := range []string{``, `{`, `{"a":1}{"b":2}`, `not json`} {
		_, err := ParseWebhook([]byte(body))
		require.Error(t, err, body)
	}
}

// An impossible timestamp (microseconds, nanoseconds, 1e300, a protobuf
// Long past year 9999) leaves that event's time unknown; the body's events
// all stay, and all can be queued.
func TestParseWebhookImpossibleTimes(t *testing.T) {
	t.Parallel()
	body := `{"event":"onMessageUpdate","session_id":"s1","data":[
		{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"OK"},"update":{"status":"DELIVERY_ACK"},"messageTimestamp":1688996225},
		{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"US"},"update":{"status":"DELIVERY_ACK"},"messageTimestamp":1688996225000000},
		{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"NS"},"update":{"status":"DELIVERY_ACK"},"messageTimestamp":"1688996225000000000"},
		{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"BIG"},"update":{"status":"READ"},"messageTimestamp":1e300},
		{"key":{"remoteJid":"111@s.whatsapp.net","fromMe":true,"id":"LONG"},"update":{"status":"READ"},"messageTimestamp":{"low":-1,"high":2147483647}}
	]}`
	got, err := ParseWebhook([]byte(body))
	require.NoError(t, err)
	require.Equal(t, []provider.Event{
		{WAMID: "OK", Status: provider.StatusDelivered, Phone: "111", At: time.Unix(1688996225, 0).UTC(), MatchByPhone: true},
		{WAMID: "US", Status: provider.StatusDelivered, Phone: "111", MatchByPhone: true},
		{WAMID: "NS", Status: provider.StatusDelivered, Phone: "111", MatchByPhone: true},
		{WAMID: "BIG", Status: provider.StatusRead, Phone: "111", MatchByPhone: true},
		{WAMID: "LONG", Status: provider.StatusRead, Phone: "111", MatchByPhone: true},
	}, got)
	_, err = json.Marshal(got)
	require.NoError(t, err)
}

// The whatsapp-web.js / wppconnect shape that the doc's event names
// ("onMessage", "onAnyMessage") and serialized ids come from: a person's
// message (STOP must be seen), our own message and its acks, the id as a
// string or an object; groups and pending acks are dropped.
func TestParseWebhookWebJSShape(t *testing.T) {
	t.Parallel()
	at := time.Unix(1688996225, 0).UTC()
	requireParsed(t, []webhookCase{
		{
			name: "OnMessageInbound",
			body: `{"event":"onMessage","session":"s1","data":{"id":"false_2348179803743@c.us_3EB0AAAA","body":"STOP","type":"chat",
				"from":"2348179803743@c.us","to":"2349000000000@c.us","fromMe":false,"timestamp":1688996225}}`,
			want: []provider.Event{{WAMID: "3EB0AAAA", Phone: "2348179803743", At: at, Inbound: true, Text: "STOP"}},
		},
		{
			name: "OnAnyMessageOurs",
			body: `{"event":"onAnyMessage","data":{"id":{"fromMe":true,"remote":"2348179803743@c.us","id":"3EB015715C3A6439227F",
				"_serialized":"true_2348179803743@c.us_3EB015715C3A6439227F"},"body":"Hello sir","type":"chat","ack":1,"t":1688996225}}`,
			want: []provider.Event{{WAMID: "3EB015715C3A6439227F", Phone: "2348179803743", At: at, Status: provider.StatusSent, Text: "Hello sir", MatchByPhone: true}},
		},
		{
			name: "AckReadObjectIDNoSerialized",
			body: `[{"event":"onAck","data":{"id":{"fromMe":true,"remote":{"user":"2348179803743","server":"c.us"},"id":"3EB0BBBB"},"ack":3}}]`,
			want: []provider.Event{{WAMID: "3EB0BBBB", Phone: "2348179803743", Status: provider.StatusRead, MatchByPhone: true}},
		},
		{
			name: "AckFailedAndDelivered",
			body: `[{"id":"true_2348179803743@c.us_3EB0CCCC","ack":-1},{"id":"true_2348179803743@c.us_3EB0DDDD","ack":2,"caption":"pic","type":"image","body":"/9j/…"}]`,
			want: []provider.Event{
				{WAMID: "3EB0CCCC", Phone: "2348179803743", Status: provider.StatusFailed, MatchByPhone: true},
				{WAMID: "3EB0DDDD", Phone: "2348179803743", Status: provider.StatusDelivered, Text: "pic", MatchByPhone: true},
			},
		},
		{
			name: "PendingGroupAndNotAnID",
			body: `[{"id":"true_2348179803743@c.us_3EB0EEEE","ack":0},{"id":"false_1203630@g.us_3EB0FFFF","body":"hi","from":"1203630@g.us"},
				{"id":"12345","body":"x"},{"id":{"fromMe":true}}]`,
			want: nil,
		},
	})
}

// In the whatsapp-web.js shape a tapped button's or list row's text is its
// body (a STOP button must be seen); linked ids, reactions, revokes and
// notifications are no messages of a phone number.
func TestParseWebhookWebJSRepliesAndNoise(t *testing.T) {
	t.Parallel()
	requireParsed(t, []webhookCase{
		{
			name: "ButtonAndListReplies",
			body: `[{"id":"false_2348179803743@c.us_3EB01","type":"buttons_response","body":"STOP","from":"2348179803743@c.us"},
				{"id":"false_2348179803743@c.us_3EB02","type":"list_response","body":"Unsubscribe","from":"2348179803743@c.us"}]`,
			want: []provider.Event{
				{WAMID: "3EB01", Phone: "2348179803743", Inbound: true, Text: "STOP"},
				{WAMID: "3EB02", Phone: "2348179803743", Inbound: true, Text: "Unsubscribe"},
			},
		},
		{
			name: "LinkedIDReactionRevokeNotification",
			body: `[{"id":"false_123456789012345@lid_3EB03","type":"chat","body":"STOP","from":"123456789012345@lid"},
				{"id":"false_2348179803743@c.us_3EB04","type":"reaction","body":"👍","from":"2348179803743@c.us"},
				{"id":"true_2348179803743@c.us_3EB05","type":"revoked","ack":1},
				{"id":"false_2348179803743@c.us_3EB06","type":"e2e_notification","from":"2348179803743@c.us"},
				{"id":"false_status@broadcast_3EB07","type":"chat","body":"hi","from":"status@broadcast"}]`,
			want: nil,
		},
	})
}

// The doc sets webhooks ("onMessage", "onAnyMessage") but shows no payload;
// a flat message in its own words (chatId, message, fromMe) is read too, and
// without fromMe the event name says whose it is.
func TestParseWebhookFlatShape(t *testing.T) {
	t.Parallel()
	at := time.Unix(1688996225, 0).UTC()
	requireParsed(t, []webhookCase{
		{
			name: "InboundWithFromMe",
			body: `{"data":{"id":"3EB0","chatId":"2348179803743@c.us","message":"STOP","fromMe":false,"timestamp":1688996225}}`,
			want: []provider.Event{{WAMID: "3EB0", Phone: "2348179803743", At: at, Inbound: true, Text: "STOP"}},
		},
		{
			name: "OnMessageWithoutFromMe",
			body: `{"event":"onMessage","data":{"messageId":"3EB1","chatId":"2348179803743","body":"stop please"}}`,
			want: []provider.Event{{WAMID: "3EB1", Phone: "2348179803743", Inbound: true, Text: "stop please"}},
		},
		{
			name: "TopLevelFromAndText",
			body: `{"event":"onMessage","id":"3EB2","from":"2348179803743@s.whatsapp.net","text":{"body":"STOP"}}`,
			want: []provider.Event{{WAMID: "3EB2", Phone: "2348179803743", Inbound: true, Text: "STOP"}},
		},
		{
			name: "OursOnAnyMessage",
			body: `{"event":"onAnyMessage","data":{"id":"3EB3","chatId":"2348179803743@c.us","message":"Hello dear","fromMe":true}}`,
			want: []provider.Event{{WAMID: "3EB3", Phone: "2348179803743", Status: provider.StatusSent, Text: "Hello dear", MatchByPhone: true}},
		},
		{
			name: "OursWithStatusAndBaileysMessage",
			body: `{"data":[{"id":"3EB4","to":"2348179803743","fromMe":"true","status":"DELIVERY_ACK","message":{"conversation":"Hi"}},
				{"id":"3EB5","chatId":"2348179803743","fromMe":true,"status":"failed","error":{"code":131026,"message":"Message undeliverable"}}]}`,
			want: []provider.Event{
				{WAMID: "3EB4", Phone: "2348179803743", Status: provider.StatusDelivered, Text: "Hi", MatchByPhone: true},
				{WAMID: "3EB5", Phone: "2348179803743", Status: provider.StatusFailed, Code: "131026", Reason: "Message undeliverable", MatchByPhone: true},
			},
		},
		{
			name: "StatusWithoutFromMeIsOurs",
			body: `{"event":"onAck","data":{"id":"3EB6","chatId":"2348179803743@c.us","ack":3}}`,
			want: []provider.Event{{WAMID: "3EB6", Phone: "2348179803743", Status: provider.StatusRead, MatchByPhone: true}},
		},
		{
			// Whose a message is cannot be told: skipped, as are groups,
			// items without a phone and pending acks.
			name: "Skipped",
			body: `[{"event":"onAnyMessage","data":{"id":"3EB7","chatId":"2348179803743@c.us","message":"who wrote this?"}},
				{"event":"onMessage","data":{"id":"3EB8","chatId":"120363@g.us","message":"group"}},
				{"event":"onMessage","data":{"id":"3EBB","chatId":"120363@g.us","from":"2348179803743@c.us","message":"STOP in a group"}},
				{"event":"onMessage","data":{"id":"3EB9","message":"no chat"}},
				{"data":{"id":"3EBA","chatId":"2348179803743","fromMe":true,"ack":0}}]`,
			want: nil,
		},
		{
			// What the whatsapp-web.js reader skips stays skipped (it
			// never falls through to this shape): a notification, a call,
			// a reaction or a revoke is no reply and no status of ours; nor
			// is a bare number in "status", or a flat item of such a type.
			name: "NoMessagesFallThrough",
			body: `[{"id":"false_2348179803743@c.us_3EB0N1","type":"e2e_notification","from":"2348179803743@c.us","fromMe":false},
				{"id":"false_2348179803743@c.us_3EB0N2","type":"call_log","from":"2348179803743@c.us","fromMe":false},
				{"id":"false_2348179803743@c.us_3EB0N3","type":"reaction","body":"👍","from":"2348179803743@c.us","fromMe":false},
				{"id":"true_2348179803743@c.us_3EB0N4","type":"revoked","fromMe":true,"ack":1},
				{"data":{"id":"3EBC","chatId":"2348179803743@c.us","status":0}},
				{"event":"onMessage","data":{"id":"3EBD","chatId":"2348179803743@c.us","type":"reaction","message":"👍","fromMe":false}}]`,
			want: nil,
		},
	})
}
