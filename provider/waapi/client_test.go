package waapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/internal/wiretest"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/provider/waapi/waapisim"
	"github.com/wacamp/wacamp/templates"
)

const (
	testSession = "2ad8-07c9-447b-994d-eb8b"
	testAccess  = "0184-28a5-439a-a1cd-fc6f"
	testBearer  = "eyJhbGciOiJIUzI1NiJ9.bearer+secret/xyz"
	testPhone   = "2349048988056"
)

// sample reads a seed-doc sample answer, copied verbatim into testdata.
func sample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return string(b)
}

// seen is what the fake server saw of one call.
type seen struct {
	Method      string
	Path        string
	Query       url.Values
	Auth        string
	ContentType string
	JSON        map[string]any    // a JSON body
	Form        map[string]string // a multipart body
}

// fake is a scripted provider: it records each request and answers with
// respond.
type fake = wiretest.Fake[seen]

func setupWith(t *testing.T, cfg Config, respond http.HandlerFunc) (*Client, *fake) {
	t.Helper()
	f := wiretest.NewFake(t, func(r *http.Request, body []byte) seen {
		s := seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
			Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
		mt, params, _ := mime.ParseMediaType(s.ContentType)
		switch mt {
		case "application/json":
			_ = json.Unmarshal(body, &s.JSON)
		case "multipart/form-data":
			r.Header.Set("Content-Type", "multipart/form-data; boundary="+params["boundary"])
			if err := r.ParseMultipartForm(1 << 20); err == nil {
				s.Form = map[string]string{}
				for k, v := range r.MultipartForm.Value {
					s.Form[k] = v[0]
				}
			}
		}
		return s
	}, respond)
	cfg.BaseURL = f.URL + "/"
	cfg.HTTPClient = f.Client
	return New(cfg), f
}

func setup(t *testing.T, respond http.HandlerFunc) (*Client, *fake) {
	t.Helper()
	return setupWith(t, Config{SessionID: testSession, AccessToken: testAccess, BearerToken: testBearer}, respond)
}

func requireProviderError(t *testing.T, err error) *provider.Error {
	t.Helper()
	return wiretest.RequireError(t, err, providerName, "send")
}

// requireAuth asserts the doc's credentials: session_id and access_token in
// the query, the Bearer header.
func requireAuth(t *testing.T, s seen, bearer string) {
	t.Helper()
	require.Equal(t, http.MethodPost, s.Method)
	require.Equal(t, url.Values{"session_id": {testSession}, "access_token": {testAccess}}, s.Query)
	require.Equal(t, "Bearer "+bearer, s.Auth)
}

func TestSendRequestsMatchDoc(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	imageOK := sample(t, "send_image_answer.json")

	t.Run("Text", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, imageOK))
		_, err := c.Send(ctx, "+234 904-898-8056", templates.Message{Kind: templates.KindText, Text: "Hello dear"})
		require.NoError(t, err)
		s := f.Last(t)
		require.Equal(t, "/whatsapp/message", s.Path)
		requireAuth(t, s, testBearer)
		require.Equal(t, "application/json", s.ContentType)
		require.Equal(t, map[string]any{
			"session_id": testSession, "access_token": testAccess,
			"chatId": testPhone, "message": "Hello dear",
		}, s.JSON)
	})

	t.Run("AccessTokenIsBearerWhenNoBearerToken", func(t *testing.T) {
		t.Parallel()
		c, f := setupWith(t, Config{SessionID: testSession, AccessToken: testAccess}, wiretest.Reply(200, imageOK))
		_, err := c.Send(ctx, testPhone, templates.Message{Kind: templates.KindText, Text: "x"})
		require.NoError(t, err)
		requireAuth(t, f.Last(t), testAccess)
	})

	t.Run("Location", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, imageOK))
		_, err := c.Send(ctx, testPhone, templates.Message{Kind: templates.KindLocation,
			Location: &templates.Location{Latitude: 6.556452, Longitude: 3.2774487, Name: "locationName", Address: "1 Marina, Lagos"}})
		require.NoError(t, err)
		s := f.Last(t)
		require.Equal(t, "/whatsapp/message", s.Path)
		requireAuth(t, s, testBearer)
		require.Equal(t, map[string]any{
			"session_id": testSession, "access_token": testAccess, "chatId": testPhone,
			"message":  "locationName, 1 Marina, Lagos",
			"location": map[string]any{"name": "locationName", "lat": "6.556452", "lng": "3.2774487"},
		}, s.JSON)
	})

	photo := "https://images.unsplash.com/photo-1597431793715-b4b71ddb5670?crop=entropy&fm=jpg&w=1080"
	for _, tt := range []struct {
		name  string
		media templates.Media
		want  map[string]string // the multipart form
	}{
		{"MediaImage", templates.Media{URL: photo, Type: "image", Caption: "Caption", MimeType: "image/jpeg"},
			map[string]string{"chatId": testPhone, "url": photo, "type": "image", "mimetype": "image/jpeg", "caption": "Caption"}},
		{"MediaMimeFromExtensionAudioNoCaption", templates.Media{URL: "https://cdn.example.com/a/voice.OGG?sig=1", Type: "audio", Caption: "ignored"},
			map[string]string{"chatId": testPhone, "url": "https://cdn.example.com/a/voice.OGG?sig=1", "type": "audio", "mimetype": "audio/ogg"}},
		{"MediaDocumentFilename", templates.Media{URL: "https://cdn.example.com/files/menu.pdf", Type: "document", Caption: "Menu"},
			map[string]string{"chatId": testPhone, "url": "https://cdn.example.com/files/menu.pdf", "type": "document",
				"mimetype": "application/pdf", "caption": "Menu", "filename": "menu.pdf"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, f := setup(t, wiretest.Reply(200, imageOK))
			_, err := c.Send(ctx, testPhone, templates.Message{Kind: templates.KindMedia, Media: &tt.media})
			require.NoError(t, err)
			s := f.Last(t)
			require.Equal(t, "/whatsapp/message/fileurl", s.Path)
			requireAuth(t, s, testBearer)
			require.True(t, strings.HasPrefix(s.ContentType, "multipart/form-data; boundary="), s.ContentType)
			require.Equal(t, tt.want, s.Form)
		})
	}

	t.Run("Buttons", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, imageOK))
		_, err := c.Send(ctx, testPhone, templates.Message{Kind: templates.KindButtons, Buttons: &templates.Buttons{
			Text: "title Head", Footer: "title footer",
			Buttons: []templates.Button{
				{Type: "reply", Title: "Reply this text (REPLY)"},
				{Type: "url", Title: "Click me (URL)", Payload: "https://google.com"},
				{Type: "call", Title: "Click to call (CALL)", Payload: "918788889688"},
			}}})
		require.NoError(t, err)
		s := f.Last(t)
		require.Equal(t, "/whatsapp/message/button", s.Path)
		requireAuth(t, s, testBearer)
		require.Equal(t, "application/json", s.ContentType)
		// The doc's own request body, verbatim (with chatId filled in).
		var want map[string]any
		require.NoError(t, json.Unmarshal([]byte(`{
"chatId": "2349048988056",
"btndata": {
"text": "title Head",
"buttons": [
{
"type": "replyButton",
"title": "Reply this text (REPLY)"
},
{
"type": "urlButton",
"title": "Click me (URL)",
"payload": "https://google.com"
},
{
"type": "callButton",
"title": "Click to call (CALL)",
"payload": "918788889688"
}
],
"footerText": "title footer"
}
}`), &want))
		require.Equal(t, want, s.JSON)
	})

	t.Run("ButtonsHeaderGoesAboveText", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, imageOK))
		_, err := c.Send(ctx, testPhone, templates.Message{Kind: templates.KindButtons, Buttons: &templates.Buttons{
			Header: "Order", Text: "Pay how?", Buttons: []templates.Button{{Type: "reply", Title: "Cash"}}}})
		require.NoError(t, err)
		require.Equal(t, "Order\n\nPay how?", f.Last(t).JSON["btndata"].(map[string]any)["text"])
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, imageOK))
		_, err := c.Send(ctx, testPhone, templates.Message{Kind: templates.KindList, List: &templates.List{
			Text: "Middle Text", Header: "Head Title", Footer: "Footer Description", Button: "Button Text",
			Sections: []templates.ListSection{{Title: "title", Rows: []templates.ListRow{
				{ID: "string", Title: "Title Option 1", Description: "Option Description"},
			}}}}})
		require.NoError(t, err)
		s := f.Last(t)
		require.Equal(t, "/whatsapp/message/list", s.Path)
		requireAuth(t, s, testBearer)
		var want map[string]any
		require.NoError(t, json.Unmarshal([]byte(`{
"chatId": "2349048988056",
"msgdata": {
"buttonText": "Button Text",
"text": "Middle Text",
"title": "Head Title",
"description": "Footer Description",
"sections": [
{
"title": "title",
"rows": [
{
"title": "Title Option 1",
"description": "Option Description",
"rowId": "string"
}
]
}
],
"listType": 0
}
}`), &want))
		require.Equal(t, want, s.JSON)
	})
}

func TestSendAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	text := templates.Message{Kind: templates.KindText, Text: "Hello dear"}
	tests := []struct {
		name, body, want string
	}{
		{"ImageSample", sample(t, "send_image_answer.json"), "BAE59F1807A62E0D"},
		{"TextSampleHasNoID", sample(t, "send_text_answer.json"), ""},
		{"DeprecatedSendTextSample", sample(t, "send_text_deprecated_answer.json"), "3EB015715C3A6439227F"},
		{"StatusAsString", `{"status":"true","data":{"key":{"id":"ABC"}}}`, "ABC"},
		{"KeyAtTop", `{"status":true,"key":{"remoteJid":"1@s.whatsapp.net","fromMe":true,"id":"TOPKEY"}}`, "TOPKEY"},
		{"DataArray", `{"status":1,"data":[{"key":{"id":"ARR"}}]}`, "ARR"},
		{"NoStatusButID", `{"data":{"key":{"id":"NOSTATUS"},"status":"PENDING"}}`, "NOSTATUS"},
		{"MessageKeyInData", `{"status":true,"message":"Message sent successfully","data":{"message":{"key":{"remoteJid":"2349048988056@s.whatsapp.net","fromMe":true,"id":"INMSG"}},"image":{},"location":{}}}`, "INMSG"},
		{"LocationKeyInData", `{"status":true,"data":{"message":{},"location":{"key":{"id":"INLOC"},"message":{"locationMessage":{}}}}}`, "INLOC"},
		{"ExtraFieldsAndNumbers", `{"status":true,"extra":[1,2],"data":{"key":{"id":"X1","fromMe":"true"},"messageTimestamp":1688996225}}`, "X1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := setup(t, wiretest.Reply(200, tt.body))
			res, err := c.Send(ctx, testPhone, text)
			require.NoError(t, err)
			require.Equal(t, tt.want, res.WAMID)
		})
	}
}

func TestSendErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	text := templates.Message{Kind: templates.KindText, Text: "Hello"}
	tests := []struct {
		name   string
		status int
		body   string
		header map[string]string
		class  provider.Class
		code   string
	}{
		// The doc shows no error answer; these follow its {"status", "message"} shape.
		{"Unauthorized401", 401, `{"status":false,"message":"Unauthorized"}`, nil, provider.ClassHaltAccount, ""},
		{"Forbidden403AnyText", 403, `{"status":false,"message":"Something odd"}`, nil, provider.ClassHaltAccount, ""},
		{"InvalidAccessToken", 200, `{"status":false,"message":"Invalid access_token"}`, nil, provider.ClassHaltAccount, ""},
		{"ExpiredAccessToken", 400, `{"status":false,"message":"Access token has expired"}`, nil, provider.ClassHaltAccount, ""},
		{"SessionNotFound", 404, `{"status":false,"message":"Session not found"}`, nil, provider.ClassHaltAccount, ""},
		{"NotConnected", 500, `{"status":false,"message":"WhatsApp instance is not connected"}`, nil, provider.ClassHaltAccount, ""},
		{"InstanceNotReady", 200, `{"status":false,"message":"Whatsapp instance not ready"}`, nil, provider.ClassHaltAccount, ""},
		{"InstanceNotFound", 404, `{"status":false,"message":"Instance not found"}`, nil, provider.ClassHaltAccount, ""},
		{"InstanceDoesNotExist", 400, `{"status":false,"message":"Instance does not exist"}`, nil, provider.ClassHaltAccount, ""},
		{"ClientNotReady", 200, `{"status":false,"message":"Client is not ready"}`, nil, provider.ClassHaltAccount, ""},
		{"LoggedOut", 200, `{"status":false,"message":"Phone logged out, scan the QR code again"}`, nil, provider.ClassHaltAccount, ""},
		{"InvalidNumber", 400, `{"status":false,"message":"Invalid number"}`, nil, provider.ClassPermanent, ""},
		{"NotOnWhatsApp", 200, `{"status":false,"message":"This number is not on WhatsApp"}`, nil, provider.ClassPermanent, ""},
		{"NotExists", 500, `{"status":false,"message":"Number 2349048988056 does not exist"}`, nil, provider.ClassPermanent, ""},
		{"BadRequest", 400, `{"status":false,"message":"chatId is required"}`, nil, provider.ClassHaltCampaign, ""}, // the request's shape
		{"UnknownRefusal", 200, `{"status":false,"message":"Something went wrong"}`, nil, provider.ClassPermanent, ""},
		{"RateLimit429", 429, `{"status":false,"message":"(#130429) Rate limit hit"}`, map[string]string{"Retry-After": "2"}, provider.ClassTransient, "130429"},
		{"PairRate", 429, `{"status":false,"message":"(#131056) pair rate limit hit"}`, nil, provider.ClassTransient, "131056"},
		{"MetaCodeUndeliverable", 200, `{"status":false,"message":"(#131026) Message undeliverable."}`, nil, provider.ClassPermanent, "131026"},
		{"MetaCodeInErrorObject", 200, `{"status":false,"error":{"code":131048,"message":"Spam rate limit hit"}}`, nil, provider.ClassHaltAccount, "131048"},
		{"Unavailable503", 503, `{"status":false,"message":"Service Unavailable"}`, map[string]string{"Retry-After": "1"}, provider.ClassTransient, ""},
		{"HTML502", 502, `<html><body>Bad Gateway</body></html>`, nil, provider.ClassTransient, ""},
		{"Template404Text", 200, `{"status":false,"message":"template not found"}`, nil, provider.ClassHaltCampaign, ""},
		{"NonJSON2xx", 200, `<html>ok?</html>`, nil, provider.ClassAmbiguous, ""},
		{"Truncated2xx", 200, `{"status":true,"data":{"key":`, nil, provider.ClassAmbiguous, ""},
		{"NoVerdict2xx", 200, `{"hello":"world"}`, nil, provider.ClassAmbiguous, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				wiretest.Reply(tt.status, tt.body)(w, r)
			})
			_, err := c.Send(ctx, testPhone, text)
			pe := requireProviderError(t, err)
			require.Equal(t, tt.class, pe.Class, "%v", pe)
			require.Equal(t, tt.status, pe.HTTPStatus)
			require.Equal(t, tt.code, pe.Code)
			if ra := tt.header["Retry-After"]; ra != "" {
				require.Equal(t, ra+"s", pe.RetryAfter.String())
			}
		})
	}
}

func TestSendRefusedWithoutCall(t *testing.T) {
	t.Parallel()
	c, f := setup(t, wiretest.Reply(200, `{"status":true}`))
	tests := []struct {
		to    string
		m     templates.Message
		class provider.Class
	}{
		{"abc", templates.Message{Kind: templates.KindText, Text: "x"}, provider.ClassPermanent},
		{"", templates.Message{Kind: templates.KindText, Text: "x"}, provider.ClassPermanent},
		{testPhone, templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{Name: "hello", Language: "en"}}, provider.ClassPermanent},
		{testPhone, templates.Message{Kind: templates.KindBotFlow, BotFlow: "flow-1"}, provider.ClassPermanent},
		{testPhone, templates.Message{Kind: "fax"}, provider.ClassPermanent},
		{testPhone, templates.Message{Kind: templates.KindMedia, Media: &templates.Media{URL: "https://x/y.webp", Type: "sticker"}}, provider.ClassPermanent},
		{testPhone, templates.Message{Kind: templates.KindButtons, Buttons: &templates.Buttons{Text: "t", Buttons: []templates.Button{{Type: "flow", Title: "x"}}}}, provider.ClassPermanent},
		{testPhone, templates.Message{Kind: templates.KindButtons, Buttons: &templates.Buttons{Text: "t", Buttons: []templates.Button{
			{Type: "reply", Title: "1"}, {Type: "reply", Title: "2"}, {Type: "reply", Title: "3"}, {Type: "reply", Title: "4"}}}}, provider.ClassPermanent},
		{testPhone, templates.Message{Kind: templates.KindText}, provider.ClassHaltCampaign},
		{testPhone, templates.Message{Kind: templates.KindMedia}, provider.ClassHaltCampaign},
		{testPhone, templates.Message{Kind: templates.KindLocation}, provider.ClassHaltCampaign},
		{testPhone, templates.Message{Kind: templates.KindButtons}, provider.ClassHaltCampaign},
		{testPhone, templates.Message{Kind: templates.KindList}, provider.ClassHaltCampaign},
	}
	for _, tt := range tests {
		_, err := c.Send(context.Background(), tt.to, tt.m)
		pe := requireProviderError(t, err)
		require.Equal(t, tt.class, pe.Class, "%q %+v", tt.to, tt.m)
	}
	require.Zero(t, f.Count())
}

func TestSendLostAnswer(t *testing.T) {
	t.Parallel()

	t.Run("HangUpAfterWriteIsAmbiguous", func(t *testing.T) {
		t.Parallel()
		c, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		})
		_, err := c.Send(context.Background(), testPhone, templates.Message{Kind: templates.KindText, Text: "x"})
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassAmbiguous, pe.Class)
		require.NotContains(t, err.Error(), testAccess)
		require.NotContains(t, err.Error(), testSession)
	})

	t.Run("ContextCancelledAfterWriteIsAmbiguous", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		release := make(chan struct{})
		c, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
			cancel()
			<-release
		})
		t.Cleanup(func() { close(release) })
		_, err := c.Send(ctx, testPhone, templates.Message{Kind: templates.KindText, Text: "x"})
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassAmbiguous, pe.Class)
		require.ErrorIs(t, err, context.Canceled)
		require.NotContains(t, err.Error(), testAccess)
	})

	t.Run("ConnectionRefusedIsTransient", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close()
		c := New(Config{BaseURL: base, SessionID: testSession, AccessToken: testAccess, BearerToken: testBearer})
		_, err := c.Send(context.Background(), testPhone, templates.Message{Kind: templates.KindText, Text: "x"})
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassTransient, pe.Class)
		require.NotContains(t, err.Error(), testAccess, "the URL with access_token must be scrubbed")
		require.NotContains(t, err.Error(), "access_token")
		require.NotContains(t, err.Error(), testSession)
	})

	t.Run("CancelledBeforeWriteIsTransient", func(t *testing.T) {
		t.Parallel()
		c, f := setup(t, wiretest.Reply(200, `{"status":true}`))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Send(ctx, testPhone, templates.Message{Kind: templates.KindText, Text: "x"})
		pe := requireProviderError(t, err)
		require.Equal(t, provider.ClassTransient, pe.Class)
		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, f.Count())
	})
}

func TestUnsupportedCalls(t *testing.T) {
	t.Parallel()
	c, f := setup(t, wiretest.Reply(200, `{"status":true}`))
	_, err := c.Conversation(context.Background(), testPhone, 10)
	require.ErrorIs(t, err, provider.ErrUnsupported)
	require.Contains(t, err.Error(), "waapi conversation")
	_, err = c.MessageStatus(context.Background(), "BAE59F1807A62E0D")
	require.ErrorIs(t, err, provider.ErrUnsupported)
	require.Zero(t, f.Count())
	require.Equal(t, Capabilities, c.Capabilities())
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := Config{BaseURL: "https://api.example.com", SessionID: testSession, AccessToken: testAccess}
	require.NoError(t, good.Validate())

	err := Config{BearerToken: testBearer}.Validate()
	require.Error(t, err)
	for _, name := range []string{"BaseURL", "SessionID", "AccessToken"} {
		require.Contains(t, err.Error(), name)
	}
	bad := good
	bad.BaseURL = "api.example.com/" + testAccess
	err = bad.Validate()
	require.ErrorContains(t, err, "BaseURL")
	require.NotContains(t, err.Error(), testAccess)
}

func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	cfg := Config{BaseURL: "https://api.example.com", SessionID: testSession, AccessToken: testAccess, BearerToken: testBearer}
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := New(cfg)
	texts := []string{
		cfg.String(), cfg.GoString(), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg),
		c.String(), c.GoString(), fmt.Sprintf("%v %+v %#v", c, c, c),
	}
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "cfg", cfg, "client", c)

	// An answer echoing the tokens, and a transport error carrying the URL.
	srv := httptest.NewServer(wiretest.Reply(400, fmt.Sprintf(`{"status":false,"message":"bad token %s / %s / %s"}`,
		testAccess, url.QueryEscape(testBearer), testBearer)))
	defer srv.Close()
	cfg.BaseURL, cfg.HTTPClient = srv.URL, srv.Client()
	c2 := New(cfg)
	_, err := c2.Send(context.Background(), testPhone, templates.Message{Kind: templates.KindText, Text: "x"})
	require.Error(t, err)
	texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))

	cfg.BaseURL = "http://127.0.0.1:1"
	cfg.HTTPClient = &http.Client{Transport: failingTransport{}}
	_, err = New(cfg).Send(context.Background(), testPhone, templates.Message{Kind: templates.KindText, Text: "x"})
	require.Error(t, err)
	texts = append(texts, err.Error(), logs.String())

	for _, s := range texts {
		for _, secret := range []string{testAccess, testBearer, url.QueryEscape(testBearer), testSession} {
			require.NotContains(t, s, secret)
		}
	}
	require.Contains(t, cfg.String(), "[REDACTED]")
	require.Contains(t, cfg.String(), "...eb8b")
}

// failingTransport fails with an error that quotes the request URL, as some
// transports and proxies do.
type failingTransport struct{}

func (failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, errors.New("dial failed for " + r.URL.String())
}

func TestRetryAfterDate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	c, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", now.Add(30*time.Second).Format(http.TimeFormat))
		wiretest.Reply(503, `{"status":false,"message":"busy"}`)(w, r)
	})
	c.k.Now = func() time.Time { return now }
	_, err := c.Send(context.Background(), testPhone, templates.Message{Kind: templates.KindText, Text: "x"})
	pe := requireProviderError(t, err)
	require.Equal(t, provider.ClassTransient, pe.Class)
	require.Equal(t, 30*time.Second, pe.RetryAfter)
}

// TestAgainstSimulator runs the driver against waapisim: the happy path and
// each fault knob, with the class the engine must see.
func TestAgainstSimulator(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tests := []struct {
		name   string
		opts   waapisim.Options
		cfg    func(*Config)
		sends  int // sends before the checked one, to other numbers
		class  provider.Class
		code   string
		wantOK bool
	}{
		{name: "Happy", wantOK: true},
		{name: "Fail5xx", opts: waapisim.Options{Knobs: sim.Knobs{Fail5xxRate: 1}}, class: provider.ClassTransient},
		{name: "DropAfterAccept", opts: waapisim.Options{Knobs: sim.Knobs{DropAfterAcceptRate: 1}}, class: provider.ClassAmbiguous},
		{name: "RateLimit", opts: waapisim.Options{Knobs: sim.Knobs{RatePerSecond: 1}}, sends: 1, class: provider.ClassTransient, code: "130429"},
		{name: "SubscriberLimit", opts: waapisim.Options{Knobs: sim.Knobs{SubscriberLimit: 1}}, sends: 1, class: provider.ClassHaltAccount},
		{name: "WrongAccessToken", cfg: func(c *Config) { c.AccessToken = "revoked" }, class: provider.ClassHaltAccount},
		{name: "WrongBearer", cfg: func(c *Config) { c.BearerToken = "revoked" }, class: provider.ClassHaltAccount},
		{name: "UnknownSession", cfg: func(c *Config) { c.SessionID = "gone" }, class: provider.ClassHaltAccount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.opts
			opts.Now = clock
			opts.BearerTokens = []string{testBearer}
			opts.Sessions = []waapisim.Session{{ID: testSession, AccessToken: testAccess}}
			sim := waapisim.New(opts)
			srv := httptest.NewServer(sim)
			t.Cleanup(func() { srv.Close(); sim.Close() })
			cfg := Config{BaseURL: srv.URL, SessionID: testSession, AccessToken: testAccess, BearerToken: testBearer, HTTPClient: srv.Client()}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			c := New(cfg)
			for i := range tt.sends {
				_, err := c.Send(context.Background(), fmt.Sprintf("23400000000%02d", i), templates.Message{Kind: templates.KindText, Text: "x"})
				require.NoError(t, err)
			}
			res, err := c.Send(context.Background(), testPhone, templates.Message{Kind: templates.KindText, Text: "Hello"})
			if tt.wantOK {
				require.NoError(t, err)
				require.Equal(t, sim.Sends()[0].ID, res.WAMID)
				return
			}
			pe := requireProviderError(t, err)
			require.Equal(t, tt.class, pe.Class, "%v", pe)
			require.Equal(t, tt.code, pe.Code)
		})
	}
}

// TestHostile: an answer that echoes the access token or the Bearer token
// as error.code or error_code and JSON-escaped in its message leaves no
// form of it in the error; a base_url that redirects (to another host,
// from https to http) never gets access_token or the Bearer token to the
// other origin, and the error names the Location's host only.
func TestHostile(t *testing.T) { hostileDriver.Run(t) }

// FuzzAnswer feeds the driver's sends one answer of any status,
// Retry-After, Location and body (seeded with the doc's send answers in
// testdata): see wiretest.Driver.
func FuzzAnswer(f *testing.F) {
	d := hostileDriver
	for _, name := range []string{"send_text_answer.json", "send_text_deprecated_answer.json", "send_image_answer.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		d.Samples = append(d.Samples, string(b))
	}
	d.Fuzz(f)
}

// hostileDriver is the driver as its fuzz target and redirect test call
// it: its sends, with a hostile access token and Bearer token. The access
// token travels in the request's query, so transport errors must not show
// it either.
var hostileDriver = wiretest.Driver{
	Name:    providerName,
	Secrets: []string{wiretest.HostileToken, wiretest.HostileSecret},
	Echoes: func(secret string) map[string]map[string]any {
		msg := wiretest.EchoMessage(secret)
		return map[string]map[string]any{
			"error.code": {"status": "error", "error": map[string]any{"message": msg, "code": secret}},
			"error_code": {"status": "error", "message": msg, "error_code": secret},
		}
	},
	Calls: func(baseURL string, hc *http.Client, log *slog.Logger) (sends, others []wiretest.Call) {
		c := New(Config{BaseURL: baseURL, SessionID: testSession, AccessToken: wiretest.HostileToken,
			BearerToken: wiretest.HostileSecret, HTTPClient: hc, Logger: log})
		return wiretest.Sends(c, testPhone, templates.Message{Kind: templates.KindText, Text: "Hi"},
			templates.Message{Kind: templates.KindMedia, Media: &templates.Media{URL: "https://example.com/a.png", Type: "image"}}), nil
	},
}
