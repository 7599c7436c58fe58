package sobot

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/wiretest"
	"github.com/wacamp/wacamp/templates"
)

// The test credentials: the secret contains characters that URL-encode.
const (
	testKey    = "sbt_live_9fQ2xK7mLp4Zw8Rt"
	testSecret = "s3cr3t/+Vq9=Jd72hYp0LmN"
)

// The seed doc's sample answers, verbatim.
const (
	sampleSendOK = `{
    "data": {
        "id": "wamid.HBgMOTE5OTcwNTg1NTU2FQIAERgSQjhGRDQ2REFBQjAxMjJBM0Q1AA==",
        "status": "submitted"
    },
    "message": "Message sent successfully.",
    "code": 200
}`
	sampleWAMID = "wamid.HBgMOTE5OTcwNTg1NTU2FQIAERgSQjhGRDQ2REFBQjAxMjJBM0Q1AA=="
	// The customer API's error samples: the only error answers the doc shows.
	sampleInvalidMobile = `{
    "message": "Invalid mobile number",
    "code": 400
}`
	sampleCustomerExists = `{
    "message": "Customer already exists",
    "code": 400
}`
)

// fake is a scripted provider: it records each request and answers with
// respond.
type fake = wiretest.Fake[wiretest.JSONRequest]

// setup starts a fake provider answering with respond and returns a client
// for it.
func setup(t *testing.T, respond http.HandlerFunc) (*Client, *fake) {
	t.Helper()
	f := wiretest.NewFake(t, wiretest.SeeJSON, respond)
	c := New(Config{BaseURL: f.URL + "/", APIKey: testKey, APISecret: testSecret, HTTPClient: f.Client})
	return c, f
}

func requireProviderError(t *testing.T, err error) *provider.Error {
	t.Helper()
	return wiretest.RequireError(t, err, providerName, "send")
}

func textMsg(s string) templates.Message { return templates.Message{Kind: templates.KindText, Text: s} }

// TestSendRequests checks each message kind's request against the doc:
// method, path, auth headers and the body's field names and values.
func TestSendRequests(t *testing.T) {
	tests := []struct {
		name string
		to   string
		msg  templates.Message
		want string // the JSON body
	}{
		{
			name: "text, as the doc's sample",
			to:   "+91 99700-12345",
			msg:  textMsg("Hello"),
			want: `{"message":"Hello","type":"text","customer_number":"919970012345","customer_name":"919970012345"}`,
		},
		{
			name: "image with its MIME type",
			to:   "919970012345",
			msg: templates.Message{Kind: templates.KindMedia, Media: &templates.Media{
				Type: "image", URL: "https://example.com/images/20230625_003239.jpg", MimeType: "image/jpeg", Caption: "Look"}},
			want: `{"type":"image","url":"https://example.com/images/20230625_003239.jpg","customer_number":"919970012345",
				"customer_name":"919970012345","mime_type":"image/jpeg","caption":"Look"}`,
		},
		{
			name: "image MIME type from the URL's extension",
			to:   "919970012345",
			msg: templates.Message{Kind: templates.KindMedia, Media: &templates.Media{
				Type: "image", URL: "https://example.com/a/photo.PNG?x=1#top"}},
			want: `{"type":"image","url":"https://example.com/a/photo.PNG?x=1#top","customer_number":"919970012345",
				"customer_name":"919970012345","mime_type":"image/png"}`,
		},
		{
			name: "sticker: no caption",
			to:   "919970012345",
			msg: templates.Message{Kind: templates.KindMedia, Media: &templates.Media{
				Type: "sticker", URL: "https://example.com/stickers/20230625_003239.webp", Caption: "dropped"}},
			want: `{"type":"sticker","url":"https://example.com/stickers/20230625_003239.webp","customer_number":"919970012345",
				"customer_name":"919970012345","mime_type":"image/webp"}`,
		},
		{
			name: "video, 3gp spelled as the doc does",
			to:   "919970012345",
			msg: templates.Message{Kind: templates.KindMedia, Media: &templates.Media{
				Type: "video", URL: "https://example.com/videos/clip.3gp", Caption: "Watch"}},
			want: `{"type":"video","url":"https://example.com/videos/clip.3gp","customer_number":"919970012345",
				"customer_name":"919970012345","mime_type":"video/3gp","caption":"Watch"}`,
		},
		{
			name: "document: filename from the URL",
			to:   "919970012345",
			msg: templates.Message{Kind: templates.KindMedia, Media: &templates.Media{
				Type: "document", URL: "https://example.com/documents/20230625_003239.pdf"}},
			want: `{"type":"document","url":"https://example.com/documents/20230625_003239.pdf","customer_number":"919970012345",
				"customer_name":"919970012345","mime_type":"application/pdf","filename":"20230625_003239.pdf"}`,
		},
		{
			name: "document: given filename and MIME type",
			to:   "919970012345",
			msg: templates.Message{Kind: templates.KindMedia, Media: &templates.Media{
				Type: "document", URL: "https://example.com/dl?id=7", MimeType: "application/msword", Filename: "file.doc", Caption: "Terms"}},
			want: `{"type":"document","url":"https://example.com/dl?id=7","customer_number":"919970012345",
				"customer_name":"919970012345","mime_type":"application/msword","filename":"file.doc","caption":"Terms"}`,
		},
		{
			name: "location, coordinates as strings",
			to:   "919970012345",
			msg: templates.Message{Kind: templates.KindLocation, Location: &templates.Location{
				Latitude: 13.891411, Longitude: 78.272125, Name: "New York, NYC", Address: "13, New York Street, NY, US."}},
			want: `{"type":"location","customer_number":"919970012345","customer_name":"919970012345",
				"longitude":"78.272125","latitude":"13.891411","location_name":"New York, NYC","name":"New York, NYC","address":"13, New York Street, NY, US."}`,
		},
		{
			name: "buttons as quick_reply",
			to:   "919970012345",
			msg: templates.Message{Kind: templates.KindButtons, Buttons: &templates.Buttons{
				Text: "Hello", Header: "This is a header", Footer: "This will go in footer",
				Buttons: []templates.Button{{Type: "reply", Title: "one"}, {Type: "reply", Title: "two"}, {Title: "three"}}}},
			want: `{"message":"Hello","customer_number":"919970012345","customer_name":"919970012345","type":"quick_reply",
				"buttons":["one","two","three"],"header":"This is a header","caption":"This will go in footer"}`,
		},
		{
			name: "list",
			to:   "919970012345",
			msg: templates.Message{Kind: templates.KindList, List: &templates.List{
				Text: "Hello", Header: "This is a header", Footer: "This will go in footer", Button: "Show List",
				Sections: []templates.ListSection{{Title: "one", Rows: []templates.ListRow{
					{ID: "id_1", Title: "First title", Description: "test description"},
					{ID: "id_2", Title: "second title"}}}}}},
			want: `{"message":"Hello","customer_number":"919970012345","customer_name":"919970012345","type":"list",
				"header":"This is a header","caption":"This will go in footer",
				"list_obj":{"button":"Show List","sections":[{"title":"one","rows":[
					{"title":"First title","id":"id_1","description":"test description"},
					{"title":"second title","id":"id_2"}]}]}}`,
		},
		{
			name: "template without parameters",
			to:   "919970012345",
			msg: templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{
				Name: "hello_world", Language: "en"}},
			want: `{"template_name":"hello_world","template_lang":"en","customer_number":"919970012345","customer_name":"919970012345"}`,
		},
		{
			name: "template body variables in Index order",
			to:   "919970012345",
			msg: templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{
				Name: "hello_world", Language: "en",
				Vars: []templates.TemplateVar{{Name: "status", Index: 2, Value: "Approved"}, {Name: "order", Index: 1, Value: "8654334"}}}},
			want: `{"template_name":"hello_world","template_lang":"en","customer_number":"919970012345","customer_name":"919970012345",
				"params":[{"type":"body","parameters":[{"type":"text","text":"8654334"},{"type":"text","text":"Approved"}]}]}`,
		},
		{
			name: "template CTA url button",
			to:   "919970012345",
			msg: templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{
				Name: "hello_world", Language: "en",
				Buttons: []templates.TemplateButton{{Index: 0, SubType: "url", Value: "8654334"}}}},
			want: `{"template_name":"hello_world","template_lang":"en","customer_number":"919970012345","customer_name":"919970012345",
				"params":[{"type":"button","sub_type":"url","index":0,"parameters":[{"type":"text","text":"8654334"}]}]}`,
		},
		{
			name: "template image header",
			to:   "919970012345",
			msg: templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{
				Name: "hello_world", Language: "en",
				Header: &templates.Media{Type: "image", URL: "https://example.com/images/20230625_003239.jpg"}}},
			want: `{"template_name":"hello_world","template_lang":"en","customer_number":"919970012345","customer_name":"919970012345",
				"params":[{"type":"header","parameters":[{"type":"image","image":{"link":"https://example.com/images/20230625_003239.jpg"}}]}]}`,
		},
		{
			name: "template video header",
			to:   "919970012345",
			msg: templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{
				Name: "hello_world", Language: "en",
				Header: &templates.Media{Type: "video", URL: "https://example.com/videos/20230625_003239.mp4"}}},
			want: `{"template_name":"hello_world","template_lang":"en","customer_number":"919970012345","customer_name":"919970012345",
				"params":[{"type":"header","parameters":[{"type":"video","video":{"link":"https://example.com/videos/20230625_003239.mp4"}}]}]}`,
		},
		{
			name: "template document header, header + body + quick reply button",
			to:   "919970012345",
			msg: templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{
				Name: "order_update", Language: "en_US",
				Header:  &templates.Media{Type: "document", URL: "https://example.com/documents/20230625_003239.pdf"},
				Vars:    []templates.TemplateVar{{Name: "1", Index: 1, Value: "Ana"}},
				Buttons: []templates.TemplateButton{{Index: 1, SubType: "quick_reply", Value: "STOP"}}}},
			want: `{"template_name":"order_update","template_lang":"en_US","customer_number":"919970012345","customer_name":"919970012345",
				"params":[
					{"type":"header","parameters":[{"type":"document","document":{"link":"https://example.com/documents/20230625_003239.pdf","filename":"20230625_003239.pdf"}}]},
					{"type":"body","parameters":[{"type":"text","text":"Ana"}]},
					{"type":"button","sub_type":"quick_reply","index":1,"parameters":[{"type":"payload","payload":"STOP"}]}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t, wiretest.Reply(http.StatusOK, sampleSendOK))
			res, err := c.Send(context.Background(), tt.to, tt.msg)
			require.NoError(t, err)
			require.Equal(t, sampleWAMID, res.WAMID)
			req := f.Last(t)
			require.Equal(t, http.MethodPost, req.Method)
			require.Equal(t, "/message/", req.Path)
			require.Empty(t, req.RawQuery, "nothing goes in the URL")
			require.Equal(t, "application/json", req.ContentType)
			require.Equal(t, testKey, req.Header.Get("x-api-key"))
			require.Equal(t, testSecret, req.Header.Get("x-api-secret"))
			require.JSONEq(t, tt.want, req.RawBody)
		})
	}
}

// TestSendRefusals checks that messages Sobot cannot send fail as permanent
// without a call.
func TestSendRefusals(t *testing.T) {
	tests := []struct {
		name string
		to   string
		msg  templates.Message
		want string // in the message
	}{
		{"bot flow", "919970012345", templates.Message{Kind: templates.KindBotFlow, BotFlow: "flow-1"}, "bot flow"},
		{"unknown kind", "919970012345", templates.Message{Kind: "poll"}, "poll"},
		{"audio", "919970012345", templates.Message{Kind: templates.KindMedia, Media: &templates.Media{Type: "audio", URL: "https://x.example/a.mp3"}}, "audio"},
		{"no MIME type", "919970012345", templates.Message{Kind: templates.KindMedia, Media: &templates.Media{Type: "image", URL: "https://x.example/img"}}, "MIME type"},
		{"unknown extension", "919970012345", templates.Message{Kind: templates.KindMedia, Media: &templates.Media{Type: "document", URL: "https://x.example/f.zzqx"}}, "MIME type"},
		{"document without a name", "919970012345", templates.Message{Kind: templates.KindMedia, Media: &templates.Media{Type: "document", URL: "https://x.example/", MimeType: "application/pdf"}}, "file name"},
		{"no media", "919970012345", templates.Message{Kind: templates.KindMedia}, "media URL"},
		{"url button", "919970012345", templates.Message{Kind: templates.KindButtons, Buttons: &templates.Buttons{Text: "Hi",
			Buttons: []templates.Button{{Type: "url", Title: "Open", Payload: "https://x.example"}}}}, "url buttons"},
		{"four buttons", "919970012345", templates.Message{Kind: templates.KindButtons, Buttons: &templates.Buttons{Text: "Hi",
			Buttons: []templates.Button{{Title: "a"}, {Title: "b"}, {Title: "c"}, {Title: "d"}}}}, "more than 3"},
		{"empty text", "919970012345", textMsg("  "), "no text"},
		{"template without language", "919970012345", templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{Name: "x"}}, "language"},
		{"template audio header", "919970012345", templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{Name: "x", Language: "en",
			Header: &templates.Media{Type: "audio", URL: "https://x.example/a.mp3"}}}, "header"},
		{"template button sub_type", "919970012345", templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{Name: "x", Language: "en",
			Buttons: []templates.TemplateButton{{SubType: "copy_code", Value: "X"}}}}, "copy_code"},
		// Beyond WhatsApp's rules, Sobot's doc limits (CheckMessage).
		{"gif image", "919970012345", templates.Message{Kind: templates.KindMedia, Media: &templates.Media{Type: "image", URL: "https://x.example/a.gif"}}, "image only as image/jpeg, image/png, not image/gif"},
		{"mp3 as document MIME", "919970012345", templates.Message{Kind: templates.KindMedia, Media: &templates.Media{Type: "video", URL: "https://x.example/v", MimeType: "video/webm"}}, "not video/webm"},
		{"template button index 2", "919970012345", templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{Name: "x", Language: "en",
			Buttons: []templates.TemplateButton{{Index: 2, SubType: "url", Value: "X"}}}}, "must be 0 or 1"},
		{"list section without title", "919970012345", templates.Message{Kind: templates.KindList, List: &templates.List{Text: "Hi", Button: "Menu",
			Sections: []templates.ListSection{{Rows: []templates.ListRow{{ID: "a", Title: "A"}}}}}}, "list.sections[0].title: is required by sobot"},
		{"letters in phone", "91997abc", textMsg("Hi"), "invalid phone"},
		{"too long phone", "9199700123451234", textMsg("Hi"), "invalid phone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := setup(t, wiretest.Reply(http.StatusOK, sampleSendOK))
			_, err := c.Send(context.Background(), tt.to, tt.msg)
			pe := requireProviderError(t, err)
			require.Equal(t, provider.ClassPermanent, pe.Class)
			require.Contains(t, pe.Message, tt.want)
			require.Zero(t, f.Count(), "no call for a message that cannot be sent")
		})
	}
}

// TestSendAnswers checks how each answer is read: the doc's samples, the
// body code's authority over HTTP 200, and the error classes.
func TestSendAnswers(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		wantWAMID  string
		wantErr    bool
		class      provider.Class
		httpStatus int
		code       string
		msg        string
		retryAfter time.Duration
	}{
		{name: "doc success", status: 200, body: sampleSendOK, wantWAMID: sampleWAMID},
		{name: "code as string, extra fields", status: 200,
			body: `{"data":{"id":"wamid.X1","status":"submitted","extra":1},"message":"Message sent successfully.","code":"200","trace":"x"}`, wantWAMID: "wamid.X1"},
		{name: "success without data", status: 200, body: `{"message":"Message sent successfully.","code":200}`, wantWAMID: ""},
		{name: "Meta shape without code", status: 200, body: `{"messaging_product":"whatsapp","messages":[{"id":"wamid.M1"}]}`, wantWAMID: "wamid.M1"},
		{name: "doc invalid mobile, HTTP 400", status: 400, body: sampleInvalidMobile, wantErr: true,
			class: provider.ClassPermanent, httpStatus: 400, msg: "Invalid mobile number"},
		{name: "doc invalid mobile under HTTP 200", status: 200, body: sampleInvalidMobile, wantErr: true,
			class: provider.ClassPermanent, httpStatus: 400, msg: "Invalid mobile number"},
		{name: "doc customer exists sample", status: 200, body: sampleCustomerExists, wantErr: true,
			class: provider.ClassPermanent, httpStatus: 400, msg: "Customer already exists"},
		{name: "bad credentials 401", status: 401, body: `{"message":"Invalid API credentials","code":401}`, wantErr: true,
			class: provider.ClassHaltAccount, httpStatus: 401},
		{name: "bad credentials under HTTP 200", status: 200, body: `{"message":"Invalid API credentials","code":401}`, wantErr: true,
			class: provider.ClassHaltAccount, httpStatus: 401},
		{name: "bad credentials text under 400", status: 400, body: `{"message":"Invalid API key or secret","code":400}`, wantErr: true,
			class: provider.ClassHaltAccount, httpStatus: 400},
		{name: "DRF 403", status: 403, body: `{"detail":"Authentication credentials were not provided."}`, wantErr: true,
			class: provider.ClassHaltAccount, httpStatus: 403, msg: "Authentication credentials were not provided."},
		{name: "template not found 404", status: 404, body: `{"message":"Template not found","code":404}`, wantErr: true,
			class: provider.ClassHaltCampaign, httpStatus: 404},
		// No route (a base_url with /api in front of /message/, say):
		// every message would fail alike, so the campaign halts.
		{name: "no route, HTML 404", status: 404, body: `<html><head><title>404 Not Found</title></head><body>Not Found</body></html>`, wantErr: true,
			class: provider.ClassHaltCampaign, httpStatus: 404},
		{name: "no route, DRF 404", status: 404, body: `{"detail":"Not found."}`, wantErr: true,
			class: provider.ClassHaltCampaign, httpStatus: 404, msg: "Not found."},
		{name: "no route, 405", status: 405, body: `{"detail":"Method \"POST\" not allowed."}`, wantErr: true,
			class: provider.ClassHaltCampaign, httpStatus: 405, msg: `Method "POST" not allowed.`},
		{name: "invalid template name 400", status: 400, body: `{"message":"Invalid template name or language","code":400}`, wantErr: true,
			class: provider.ClassHaltCampaign, httpStatus: 400},
		{name: "template paused, Meta code", status: 400, body: `{"message":"(#132015) Template is paused","code":400}`, wantErr: true,
			class: provider.ClassHaltCampaign, httpStatus: 400, code: "132015"},
		{name: "rate limit 429", status: 429, header: map[string]string{"Retry-After": "2"},
			body: `{"message":"(#130429) Rate limit hit","code":429}`, wantErr: true,
			class: provider.ClassTransient, httpStatus: 429, code: "130429", retryAfter: 2 * time.Second},
		{name: "undeliverable", status: 400, body: `{"message":"(#131026) Message undeliverable.","code":400}`, wantErr: true,
			class: provider.ClassPermanent, httpStatus: 400, code: "131026"},
		{name: "Meta error object", status: 400, body: `{"error":{"message":"Re-engagement message","code":131047}}`, wantErr: true,
			class: provider.ClassPermanent, httpStatus: 400, code: "131047", msg: "Re-engagement message"},
		{name: "code 500 under HTTP 200", status: 200, body: `{"message":"Internal error","code":500}`, wantErr: true,
			class: provider.ClassAmbiguous, httpStatus: 500},
		{name: "code 503 under HTTP 200", status: 200, body: `{"message":"Service unavailable","code":503}`, wantErr: true,
			class: provider.ClassTransient, httpStatus: 503},
		{name: "503 HTML", status: 503, header: map[string]string{"Retry-After": "1"},
			body: "<html><body>503 Service Temporarily Unavailable</body></html>", wantErr: true,
			class: provider.ClassTransient, httpStatus: 503, retryAfter: time.Second},
		{name: "500 JSON", status: 500, body: `{"message":"Something went wrong","code":500}`, wantErr: true,
			class: provider.ClassAmbiguous, httpStatus: 500},
		{name: "non-JSON 200", status: 200, body: "OK", wantErr: true, class: provider.ClassAmbiguous, httpStatus: 200},
		{name: "truncated JSON 200", status: 200, body: `{"data":{"id":"wamid.X`, wantErr: true, class: provider.ClassAmbiguous, httpStatus: 200},
		{name: "empty object 200", status: 200, body: `{}`, wantErr: true, class: provider.ClassAmbiguous, httpStatus: 200},
		{name: "error member 200", status: 200, body: `{"error":"Invalid mobile number"}`, wantErr: true,
			class: provider.ClassPermanent, httpStatus: 200, msg: "Invalid mobile number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				wiretest.Reply(tt.status, tt.body)(w, r)
			})
			res, err := c.Send(context.Background(), "919970012345", textMsg("Hello"))
			if !tt.wantErr {
				require.NoError(t, err)
				require.Equal(t, tt.wantWAMID, res.WAMID)
				return
			}
			pe := requireProviderError(t, err)
			require.Equal(t, tt.class, pe.Class, pe.Error())
			require.Equal(t, tt.httpStatus, pe.HTTPStatus)
			require.Equal(t, tt.code, pe.Code)
			require.Equal(t, tt.retryAfter, pe.RetryAfter)
			if tt.msg != "" {
				require.Equal(t, tt.msg, pe.Message)
			}
		})
	}
}

// TestSendLostAnswer checks the ambiguous and transient transport cases.
func TestSendLostAnswer(t *testing.T) {
	t.Run("connection closed after the request: ambiguous", func(t *testing.T) {
		c, f := setup(t, func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		})
		_, err := c.Send(context.Background(), "919970012345", textMsg("Hello"))
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassAmbiguous, pe.Class)
		require.Equal(t, 1, f.Count())
	})
	t.Run("nothing listening: transient", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close()
		c := New(Config{BaseURL: base, APIKey: testKey, APISecret: testSecret})
		_, err := c.Send(context.Background(), "919970012345", textMsg("Hello"))
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassTransient, pe.Class)
		require.Zero(t, pe.HTTPStatus)
	})
	t.Run("ctx cancelled after writing: ambiguous, wraps context.Canceled", func(t *testing.T) {
		arrived := make(chan struct{})
		c, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
			close(arrived)
			<-r.Context().Done()
		})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-arrived
			cancel()
		}()
		_, err := c.Send(ctx, "919970012345", textMsg("Hello"))
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassAmbiguous, pe.Class)
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("ctx cancelled before: transient", func(t *testing.T) {
		c, f := setup(t, wiretest.Reply(http.StatusOK, sampleSendOK))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Send(ctx, "919970012345", textMsg("Hello"))
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassTransient, pe.Class)
		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, f.Count())
	})
}

func TestUnsupportedCalls(t *testing.T) {
	c, f := setup(t, wiretest.Reply(http.StatusOK, sampleSendOK))
	_, err := c.Conversation(context.Background(), "919970012345", 10)
	require.ErrorIs(t, err, provider.ErrUnsupported)
	require.Contains(t, err.Error(), "sobot conversation")
	_, err = c.MessageStatus(context.Background(), sampleWAMID)
	require.ErrorIs(t, err, provider.ErrUnsupported)
	require.Zero(t, f.Count())
	require.Equal(t, Capabilities, c.Capabilities())
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, Config{APIKey: "k", APISecret: "s"}.Validate(), "empty BaseURL means the default")
	err := Config{}.Validate()
	require.ErrorContains(t, err, "APIKey")
	require.ErrorContains(t, err, "APISecret")
	require.ErrorContains(t, Config{BaseURL: "api.sobot.in", APIKey: "k", APISecret: "s"}.Validate(), "BaseURL")
	err = Config{BaseURL: "https://user:" + testKey + "@api.sobot.in", APIKey: "k", APISecret: "s"}.Validate()
	require.ErrorContains(t, err, "credentials")
	require.NotContains(t, err.Error(), testKey)
	require.Equal(t, DefaultBaseURL, New(Config{}).k.BaseURL)
	require.Equal(t, "http://h", New(Config{BaseURL: "http://h/"}).k.BaseURL)
}

// TestSecretsNeverLeak prints the config and client every way and makes
// answers and errors that echo the secrets.
func TestSecretsNeverLeak(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := Config{BaseURL: "https://api.sobot.in", APIKey: testKey, APISecret: testSecret, Logger: logger}
	c := New(cfg)
	logger.Info("config", "cfg", cfg, "client", c)
	printed := []string{
		cfg.String(), cfg.GoString(), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg),
		c.String(), fmt.Sprintf("%v %+v %#v", c, c, c),
	}
	// Answers and transport errors that echo the credentials.
	echo, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
		wiretest.Reply(400, fmt.Sprintf(`{"message":"bad key %s / %s","code":400}`, r.Header.Get("x-api-key"), r.Header.Get("x-api-secret")))(w, r)
	})
	echo.k.Log = logger
	_, err := echo.Send(context.Background(), "919970012345", textMsg("Hi"))
	require.Error(t, err)
	printed = append(printed, err.Error())
	require.Contains(t, err.Error(), redacted)

	html, _ := setup(t, wiretest.Reply(502, "<pre>upstream said "+testSecret+"</pre>"))
	html.k.Log = logger
	_, err = html.Send(context.Background(), "919970012345", textMsg("Hi"))
	require.Error(t, err)
	printed = append(printed, err.Error())

	bad := New(Config{BaseURL: "http://127.0.0.1:1/" + testKey, APIKey: testKey, APISecret: testSecret, Logger: logger})
	_, err = bad.Send(context.Background(), "919970012345", textMsg("Hi"))
	require.Error(t, err)
	printed = append(printed, err.Error())

	printed = append(printed, logs.String())
	for _, s := range printed {
		for _, secret := range []string{testKey, testSecret, "s3cr3t%2F%2BVq9%3DJd72hYp0LmN"} {
			require.NotContains(t, s, secret)
		}
	}
	require.Contains(t, cfg.String(), redacted)
	require.Contains(t, logs.String(), `"api_key":"[REDACTED]"`)
}

// readSample reads a webhook sample copied verbatim from the seed doc.
func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := readTestdata(name)
	require.NoError(t, err)
	return b
}

func TestParseWebhookDocSamples(t *testing.T) {
	const statusWAMID = "wamid.HBgMOTE5NTYxODc4MDgwFQIAERgSRTUzMjRGMDc2OTIzNjBDRkZGAA=="
	// The doc's statuses name no recipient; their wamid (Meta's format)
	// carries it.
	const statusPhone = "919561878080"
	at := time.Unix(1692947519, 0).UTC()
	tests := []struct {
		file string
		want []provider.Event
	}{
		{"webhook_text.json", []provider.Event{{
			WAMID: "wamid.HBgMOTE4NDQ2NjAwMjYwFQIAEhggNEIxNkNCRDQzQzUzMDBBQzNFQjQ5RTY3MjFFQkUzRUEA",
			At:    time.Unix(1692945450, 0).UTC(), Phone: "919960", Inbound: true, Text: "Hi"}}},
		{"webhook_image.json", []provider.Event{{
			WAMID: "wamid.HBgMOTE5NTYxODc4MDgwFQIAEhggNDdERTdDN0RDNDNEOThFMDhGNTZDM0U4RjBCN0QzQ0UA",
			At:    time.Unix(1693910575, 0).UTC(), Phone: "919561", Inbound: true}}},
		{"webhook_video.json", []provider.Event{{
			WAMID: "wamid.HBgMOTE5NTYxODc4MDgwFQIAEhggNDdERTdDN0RDNDNEOThFMDhGNTZDM0U4RjBCN0QzQ0UA",
			At:    time.Unix(1693910575, 0).UTC(), Phone: "919561", Inbound: true}}},
		{"webhook_sent.json", []provider.Event{{WAMID: statusWAMID, Status: provider.StatusSent, At: at, Phone: statusPhone}}},
		{"webhook_sent_inline.json", []provider.Event{{WAMID: statusWAMID, Status: provider.StatusSent, At: at, Phone: statusPhone}}},
		{"webhook_delivered.json", []provider.Event{{WAMID: statusWAMID, Status: provider.StatusDelivered, At: at, Phone: statusPhone}}},
		{"webhook_delivered_inline.json", []provider.Event{{WAMID: statusWAMID, Status: provider.StatusDelivered, At: at, Phone: statusPhone}}},
		{"webhook_read.json", []provider.Event{{WAMID: statusWAMID, Status: provider.StatusRead, At: at, Phone: statusPhone}}},
		{"webhook_read_inline.json", []provider.Event{{WAMID: statusWAMID, Status: provider.StatusRead, At: at, Phone: statusPhone}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseWebhook(readSample(t, tt.file))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseWebhookShapes(t *testing.T) {
	failedStatus := `{"id":"wamid.F1","status":"failed","timestamp":1692947519,"recipient_id":"+91 99700 12345",
		"errors":[{"code":131026,"title":"Message undeliverable.","message":"Message undeliverable.","error_data":{"details":"Receiver is incapable of receiving this message"}}]}`
	wantFailed := provider.Event{WAMID: "wamid.F1", Status: provider.StatusFailed, At: time.Unix(1692947519, 0).UTC(),
		Phone: "919970012345", Code: "131026", Reason: "Message undeliverable.: Receiver is incapable of receiving this message"}
	delivered := `{"id":"wamid.D1","status":"DELIVERED","timestamp":"1692947520","recipient_id":"919970012345"}`
	wantDelivered := provider.Event{WAMID: "wamid.D1", Status: provider.StatusDelivered, At: time.Unix(1692947520, 0).UTC(), Phone: "919970012345"}
	value := `{"messaging_product":"whatsapp","metadata":{"display_phone_number":"918788000000","phone_number_id":"1"},"statuses":[` + failedStatus + `,` + delivered + `]}`

	tests := []struct {
		name string
		body string
		want []provider.Event
	}{
		{"array of wrappers with statuses", `[{"value":` + value + `,"field":"messages"}]`, []provider.Event{wantFailed, wantDelivered}},
		{"single wrapper", `{"value":` + value + `,"field":"messages"}`, []provider.Event{wantFailed, wantDelivered}},
		{"Meta envelope", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":` + value + `,"field":"messages"}]}]}`,
			[]provider.Event{wantFailed, wantDelivered}},
		{"array of bare statuses", `[` + delivered + `,{"id":"wamid.S1","status":"sent","timestamp":"1692947519"}]`,
			[]provider.Event{wantDelivered, {WAMID: "wamid.S1", Status: provider.StatusSent, At: time.Unix(1692947519, 0).UTC()}}},
		{"bare failed with flat fields", `{"id":"wamid.F2","status":"failed","timestamp":"1692947519","error":"(#131049) healthy ecosystem"}`,
			[]provider.Event{{WAMID: "wamid.F2", Status: provider.StatusFailed, At: time.Unix(1692947519, 0).UTC(), Code: "131049", Reason: "(#131049) healthy ecosystem"}}},
		{"unknown statuses dropped", `[{"id":"wamid.X","status":"deleted"},{"id":"wamid.Y","status":"submitted"},{"status":"sent"}]`, nil},
		{"other field ignored", `[{"value":{"event":"APPROVED"},"field":"message_template_status_update"}]`, nil},
		{"button reply", `[{"value":{"messages":[{"from":"919970012345","id":"wamid.B","timestamp":"1","type":"button","button":{"text":"Yes","payload":"YES"}}]},"field":"messages"}]`,
			[]provider.Event{{WAMID: "wamid.B", At: time.Unix(1, 0).UTC(), Phone: "919970012345", Inbound: true, Text: "Yes"}}},
		{"interactive list reply", `{"messages":[{"from":"919970012345","id":"wamid.L","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"id_1","title":"First title"}}}]}`,
			[]provider.Event{{WAMID: "wamid.L", Phone: "919970012345", Inbound: true, Text: "First title"}}},
		{"image caption", `[{"value":{"messages":[{"from":"919970012345","id":"wamid.I","type":"image","image":{"caption":"see","id":"9"}}]},"field":"messages"}]`,
			[]provider.Event{{WAMID: "wamid.I", Phone: "919970012345", Inbound: true, Text: "see"}}},
		{"nothing of interest", `{"hello":"world"}`, nil},
		{"empty array", `[]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWebhook([]byte(tt.body))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseWebhookMalformed(t *testing.T) {
	for _, body := range []string{``, `{`, `[{"id":"wamid.X","status":"sent"}`, `{"a":1} {"b":2}`, `not json`} {
		_, err := ParseWebhook([]byte(body))
		require.Error(t, err, "%q", body)
	}
}

func readTestdata(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("testdata", name))
}

// A status wrapped like an inbound message, with field "statuses", is read
// too (review finding: only "messages" was).
func TestParseWebhookWrappedStatus(t *testing.T) {
	evs, err := ParseWebhook([]byte(`[{"value":{"id":"wamid.W","status":"delivered","timestamp":"1692947519"},"field":"statuses"}]`))
	if err != nil || len(evs) != 1 || evs[0].WAMID != "wamid.W" || evs[0].Status != provider.StatusDelivered {
		t.Fatalf("events = %+v, %v", evs, err)
	}
}

// customer_name is the recipient's name the send path puts into the
// context (the doc: "Name of a customer"), not the phone number; the
// number stands in only when no name is known.
func TestSendCustomerNameIsTheRecipientsName(t *testing.T) {
	c, f := setup(t, wiretest.Reply(http.StatusOK, sampleSendOK))
	_, err := c.Send(provider.WithRecipientName(context.Background(), "John Doe"), "919970012345", textMsg("Hello"))
	require.NoError(t, err)
	require.JSONEq(t, `{"message":"Hello","type":"text","customer_number":"919970012345","customer_name":"John Doe"}`, f.Last(t).RawBody)

	_, err = c.Send(context.Background(), "919970012345", textMsg("Hello"))
	require.NoError(t, err)
	require.Equal(t, "919970012345", f.Last(t).Body["customer_name"])
}

// CheckMessage reports each problem with its field, so validate can name
// the line; what it accepts, Send sends.
func TestCheckMessage(t *testing.T) {
	media := func(typ, url, mimeType string) templates.Message {
		return templates.Message{Kind: templates.KindMedia, Media: &templates.Media{Type: typ, URL: url, MimeType: mimeType}}
	}
	for _, m := range []templates.Message{
		media("image", "https://x.example/a.JPG?v=2", ""),
		media("image", "https://x.example/a", "image/png"),
		media("sticker", "https://x.example/s.webp", ""),
		media("video", "https://x.example/v.3gp", ""),
		media("document", "https://x.example/terms.docx", ""),
		{Kind: templates.KindTemplate, Template: &templates.Template{Name: "x", Language: "en", Buttons: []templates.TemplateButton{{Index: 1, SubType: "url", Value: "v"}}}},
		{Kind: templates.KindList, List: &templates.List{Text: "t", Button: "b", Sections: []templates.ListSection{{Title: "One", Rows: []templates.ListRow{{ID: "a", Title: "A"}}}}}},
		textMsg("hi"),
	} {
		require.NoError(t, CheckMessage(m), "%+v", m)
	}
	for _, tt := range []struct {
		msg   templates.Message
		field string
	}{
		{media("image", "https://x.example/a.gif", ""), "media.url"},
		{media("image", "https://x.example/a.png", "image/jpg"), "media.mime_type"},
		{media("image", "https://x.example/a", ""), "media.url"},
		{media("document", "https://x.example/", "application/pdf"), "media.filename"},
		{templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{Name: "x", Language: "en", Buttons: []templates.TemplateButton{{Index: 2, SubType: "url", Value: "v"}}}}, "template.buttons[0].index"},
		{templates.Message{Kind: templates.KindList, List: &templates.List{Text: "t", Button: "b", Sections: []templates.ListSection{{Title: "One", Rows: []templates.ListRow{{ID: "a", Title: "A"}}}, {Title: " ", Rows: []templates.ListRow{{ID: "b", Title: "B"}}}}}}, "list.sections[1].title"},
	} {
		err := CheckMessage(tt.msg)
		var fe *templates.FieldError
		require.ErrorAs(t, err, &fe, "%+v", tt.msg)
		require.Equal(t, tt.field, fe.Field)
	}
}

// TestHostile: an answer that echoes the key or the secret as
// errors[0].code or error_code and JSON-escaped in its message leaves no
// form of it in the error; a base_url that redirects (to another host,
// from https to http) gets neither X-Api-Key nor X-Api-Secret nor anything
// else, and the error names the Location's host only.
func TestHostile(t *testing.T) { hostileDriver.Run(t) }

// FuzzAnswer feeds the driver's sends one answer of any status,
// Retry-After, Location and body: see wiretest.Driver.
func FuzzAnswer(f *testing.F) { hostileDriver.Fuzz(f) }

// hostileDriver is the driver as its fuzz target and redirect test call
// it: its sends, with a hostile X-Api-Key and X-Api-Secret.
var hostileDriver = wiretest.Driver{
	Name:    providerName,
	Secrets: []string{wiretest.HostileToken, wiretest.HostileSecret},
	Samples: []string{sampleSendOK, sampleInvalidMobile, sampleCustomerExists},
	Echoes: func(secret string) map[string]map[string]any {
		msg := wiretest.EchoMessage(secret)
		return map[string]map[string]any{
			"errors[0].code": {"code": 400, "message": msg, "errors": []any{map[string]any{"code": secret}}},
			"error_code":     {"code": 400, "message": msg, "error_code": secret},
		}
	},
	Calls: func(baseURL string, hc *http.Client, log *slog.Logger) (sends, others []wiretest.Call) {
		c := New(Config{BaseURL: baseURL, APIKey: wiretest.HostileToken, APISecret: wiretest.HostileSecret,
			HTTPClient: hc, Logger: log})
		return wiretest.Sends(c, "919970012345", textMsg("Hi"),
			templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{Name: "promo", Language: "en"}}), nil
	},
}
