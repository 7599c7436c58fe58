package cli

import (
	"log/slog"
	"net/http"

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
// Asynq UI ui everywhere else.
func WithConsole(ui, c http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(ConsolePath+"/", c)
	mux.Handle("/", ui)
	return mux
}

// noConsole answers the console's paths when the server has no database.
var noConsole = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "the campaign console needs the database: start asynqmon with DATABASE_URL set", http.StatusServiceUnavailable)
})
