package cli

import (
	"bytes"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/console"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/throttle"
)

// ConsolePath is where the web UI server serves the campaign console; the
// Asynq UI stays at the root.
const ConsolePath = "/console"

// NewConsole returns the campaign console over conns (the database for
// the broadcasts and sequences, Redis for their queued tasks and budgets)
// and a function that releases what it opened. It starts nothing: no
// scheduler, no worker.
func NewConsole(conns *app.Conns, readOnly bool, log *slog.Logger) (http.Handler, func()) {
	insp := asynq.NewInspector(conns.Redis)
	svc := campaign.NewService(conns.Store, nil, insp, delivery.Options{})
	svc.UseBudgets(throttle.NewRecipients(conns.RedisClient))
	h := console.New(console.Options{Broadcasts: svc, Sequences: sequence.NewService(conns.Store, nil), Store: conns.Store,
		ReadOnly: readOnly, Prefix: ConsolePath, QueuesURL: "/", Log: log})
	return h, func() { _ = insp.Close() }
}

// WithConsole serves the campaign console c under ConsolePath and the
// Asynq UI ui everywhere else, with a link to the console.
func WithConsole(ui, c http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(ConsolePath+"/", c)
	mux.Handle("/", LinkConsole(ui))
	return mux
}

// noConsole answers the console's paths when the server has no database.
var noConsole = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "the campaign console needs the database: start asynqmon with DATABASE_URL set", http.StatusServiceUnavailable)
})

// consoleLink is the link to the console that LinkConsole adds to the
// Asynq UI's page (which allows inline styles: see uiCSP).
const consoleLink = `<a href="` + ConsolePath + `/" id="wacamp-console-link" ` +
	`style="position:fixed;left:50%;bottom:10px;transform:translateX(-50%);z-index:2000;background:#1d2330;color:#fff;` +
	`padding:6px 14px;border-radius:16px;font:14px system-ui,sans-serif;text-decoration:none;opacity:.9">Campaign console</a>`

// LinkConsole adds a link to the campaign console to the Asynq UI's page:
// its index page, which it serves at every path that is not an API call or
// an asset (a file name with an extension); the rest passes untouched.
func LinkConsole(ui http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || strings.HasPrefix(r.URL.Path, "/api/") || path.Ext(r.URL.Path) != "" {
			ui.ServeHTTP(w, r)
			return
		}
		rec := &pageRecorder{header: http.Header{}, status: http.StatusOK}
		ui.ServeHTTP(rec, r)
		body := rec.body.Bytes()
		if ct := rec.header.Get("Content-Type"); ct == "" || strings.HasPrefix(ct, "text/html") {
			if i := bytes.LastIndex(body, []byte("</body>")); i >= 0 {
				body = slices.Concat(body[:i], []byte(consoleLink), body[i:])
			}
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.status)
		_, _ = w.Write(body)
	})
}

// pageRecorder keeps a page the Asynq UI writes, to add the link to it.
type pageRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (p *pageRecorder) Header() http.Header         { return p.header }
func (p *pageRecorder) WriteHeader(status int)      { p.status = status }
func (p *pageRecorder) Write(b []byte) (int, error) { return p.body.Write(b) }
