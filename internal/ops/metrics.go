package ops

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/templates"
)

// The metric families wacamp exports (besides the Go runtime's go_* and
// the process's process_*). Labels are bounded: provider (a driver name),
// account and campaign (names from the campaign files), result, reason,
// state and queue (a few fixed words each); never a phone number.
const (
	// Worker: one provider send request, by its result (see SendResults).
	NameSends = "wacamp_sends_total"
	// Worker: how long a provider send request took (histogram).
	NameSendSeconds = "wacamp_send_duration_seconds"
	// Worker: status polls of the provider, by result ("ok", "error").
	NameStatusPolls = "wacamp_status_polls_total"
	// Worker: how long a send waited for its number's rate token (histogram).
	NameRateWait = "wacamp_rate_limit_wait_seconds"
	// Worker: deliveries put off, by reason (delivery.WaitKind).
	NameDeferrals = "wacamp_deferrals_total"
	// Webhook receiver (worker --webhook-addr): requests by result.
	NameWebhooks = "wacamp_webhook_requests_total"
	// Scheduler: deliveries per state of each live broadcast (gauge).
	NameDeliveries = "wacamp_deliveries"
	// Scheduler: 1 for each live broadcast's current status (gauge).
	NameBroadcastStatus = "wacamp_broadcast_status"
	// Scheduler: how long the oldest due status poll has waited (gauge).
	NamePollLag = "wacamp_status_poll_lag_seconds"
	// Scheduler: each sequence's steps in flight (gauge).
	NameStepsInFlight = "wacamp_sequence_steps_in_flight"
	// Scheduler: how long each sequence's earliest planned step has been
	// due (gauge).
	NameStepLag = "wacamp_sequence_step_lag_seconds"
	// Scheduler: tasks in each Asynq queue by state (gauge).
	NameQueueTasks = "wacamp_queue_tasks"
	// Scheduler: age of each queue's oldest pending task (gauge).
	NameQueueAge = "wacamp_queue_oldest_task_age_seconds"
	// Any process: scrape-time reads that failed, by collector.
	NameCollectErrors = "wacamp_collect_errors_total"
)

// Names lists every wacamp_* metric family above; histograms by their
// base name (Prometheus adds _bucket, _sum and _count).
var Names = []string{NameSends, NameSendSeconds, NameStatusPolls, NameRateWait, NameDeferrals, NameWebhooks,
	NameDeliveries, NameBroadcastStatus, NamePollLag, NameStepsInFlight, NameStepLag, NameQueueTasks, NameQueueAge, NameCollectErrors}

// Histograms are the families of Names that are histograms.
var Histograms = []string{NameSendSeconds, NameRateWait}

// SendResults are the values of wacamp_sends_total's result label:
// accepted (the provider took the message), rate_limited (HTTP 429 or
// Meta's 130429), then the provider error classes (transient, permanent,
// ambiguous: the answer was lost, halt_campaign, halt_account), and error
// (no provider error: the request was cut off).
var SendResults = []string{"accepted", "rate_limited", "transient", "permanent", "ambiguous", "halt_campaign", "halt_account", "error"}

// sendResult is the index in SendResults of a send that returned err.
func sendResult(err error) int {
	if err == nil {
		return 0
	}
	var pe *provider.Error
	if !errors.As(err, &pe) {
		return 7
	}
	if pe.HTTPStatus == http.StatusTooManyRequests || pe.Code == "130429" {
		return 1
	}
	switch pe.Class {
	case provider.ClassTransient:
		return 2
	case provider.ClassPermanent:
		return 3
	case provider.ClassAmbiguous:
		return 4
	case provider.ClassHaltCampaign:
		return 5
	case provider.ClassHaltAccount:
		return 6
	}
	return 7
}

// Metrics are one process's metrics, in a registry of their own (not
// Prometheus' global default one). It satisfies delivery.Metrics. Build
// it with New; the zero value is not usable.
type Metrics struct {
	reg *prometheus.Registry

	sends, statusPolls, deferrals, webhooks, collectErrors *prometheus.CounterVec
	sendSeconds, rateWait                                  *prometheus.HistogramVec

	// Curried children by label values, so the send path looks a counter
	// up without building a label map (sync.Map: read-mostly).
	rateWaits sync.Map // account → prometheus.Observer
	deferred  sync.Map // deferKey → prometheus.Counter
	hooks     [len(webhookResults)]prometheus.Counter
}

type deferKey struct {
	account string
	kind    delivery.WaitKind
}

var _ delivery.Metrics = (*Metrics)(nil)

// New returns a process's metrics, with the Go runtime and process
// collectors registered.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.sends = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameSends,
		Help: "Provider send requests by provider, account and result (" + strings.Join(SendResults, ", ") + ")."}, []string{"provider", "account", "result"})
	m.sendSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameSendSeconds,
		Help:    "How long a provider send request took, answer or error.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"provider", "account"})
	m.statusPolls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameStatusPolls,
		Help: "Status polls of the provider by provider, account and result (ok, error)."}, []string{"provider", "account", "result"})
	m.rateWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameRateWait,
		Help:    "How long a send waited for its number's rate token (the throttle).",
		Buckets: []float64{.001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, []string{"account"})
	m.deferrals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameDeferrals,
		Help: "Deliveries put off, by account and reason (pair_interval, budget, cap, window, not_due, rate_limit, in_flight, reconcile, settle, account, stalled, shutdown, other)."},
		[]string{"account", "reason"})
	m.webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameWebhooks,
		Help: "Provider webhook requests by result (" + strings.Join(webhookResults[:], ", ") + ")."}, []string{"result"})
	m.collectErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameCollectErrors,
		Help: "Scrape-time reads (Postgres, Redis) that failed, by collector."}, []string{"collector"})
	m.reg.MustRegister(m.sends, m.sendSeconds, m.statusPolls, m.rateWait, m.deferrals, m.webhooks, m.collectErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for i, r := range webhookResults {
		m.hooks[i] = m.webhooks.WithLabelValues(r)
	}
	return m
}

// Registry is the registry the metrics are in: serve it (Serve), or add a
// process's own collectors to it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// RateWaited implements delivery.Metrics.
func (m *Metrics) RateWaited(account string, d time.Duration) {
	o, ok := m.rateWaits.Load(account)
	if !ok {
		o, _ = m.rateWaits.LoadOrStore(account, m.rateWait.WithLabelValues(account))
	}
	o.(prometheus.Observer).Observe(d.Seconds())
}

// Deferred implements delivery.Metrics.
func (m *Metrics) Deferred(account string, kind delivery.WaitKind) {
	k := deferKey{account, kind}
	c, ok := m.deferred.Load(k)
	if !ok {
		c, _ = m.deferred.LoadOrStore(k, m.deferrals.WithLabelValues(account, string(kind)))
	}
	c.(prometheus.Counter).Inc()
}

// Sender returns s, an account's provider client, counting and timing its
// send requests and status polls. The account's counters are looked up
// here, once: a send only increments.
func (m *Metrics) Sender(s delivery.Sender, a delivery.Account) delivery.Sender {
	is := &sender{Sender: s, took: m.sendSeconds.WithLabelValues(a.Provider, a.Name),
		polled: [2]prometheus.Counter{m.statusPolls.WithLabelValues(a.Provider, a.Name, "ok"), m.statusPolls.WithLabelValues(a.Provider, a.Name, "error")}}
	for i, r := range SendResults {
		is.sent[i] = m.sends.WithLabelValues(a.Provider, a.Name, r)
	}
	return is
}

// sender is a delivery.Sender that counts.
type sender struct {
	delivery.Sender
	sent   [8]prometheus.Counter // by SendResults
	took   prometheus.Observer
	polled [2]prometheus.Counter // ok, error
}

func (s *sender) Send(ctx context.Context, to string, msg templates.Message) (provider.SendResult, error) {
	start := time.Now()
	r, err := s.Sender.Send(ctx, to, msg)
	s.took.Observe(time.Since(start).Seconds())
	s.sent[sendResult(err)].Inc()
	return r, err
}

func (s *sender) MessageStatus(ctx context.Context, wamid string) (provider.StatusReport, error) {
	r, err := s.Sender.MessageStatus(ctx, wamid)
	if err != nil {
		s.polled[1].Inc()
	} else {
		s.polled[0].Inc()
	}
	return r, err
}

// webhookResults are the values of wacamp_webhook_requests_total's
// result label, by the receiver's answer: accepted (2xx), unauthorized
// (401: unknown account or wrong secret), malformed (400), too_large
// (413), unavailable (503: nothing could take the events; the provider
// retries), refused (any other answer).
var webhookResults = [...]string{"accepted", "unauthorized", "malformed", "too_large", "unavailable", "refused"}

// Webhooks wraps the webhook receiver h, counting its answers by result.
func (m *Metrics) Webhooks(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		m.hooks[webhookResult(sw.code)].Inc()
	})
}

func webhookResult(code int) int {
	switch {
	case code >= 200 && code < 300:
		return 0
	case code == http.StatusUnauthorized:
		return 1
	case code == http.StatusBadRequest:
		return 2
	case code == http.StatusRequestEntityTooLarge:
		return 3
	case code == http.StatusServiceUnavailable:
		return 4
	}
	return 5
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Senders returns s counting and timing the provider calls of each
// account's client (see Sender); each account's counting client is built
// once.
func (m *Metrics) Senders(s delivery.Senders) delivery.Senders { return &senders{inner: s, m: m} }

type senders struct {
	inner delivery.Senders
	m     *Metrics
	built sync.Map // delivery.Account → *sender
}

func (s *senders) Sender(ctx context.Context, a delivery.Account) (delivery.Sender, error) {
	if c, ok := s.built.Load(a); ok {
		return c.(delivery.Sender), nil
	}
	c, err := s.inner.Sender(ctx, a)
	if err != nil {
		return nil, err
	}
	got, _ := s.built.LoadOrStore(a, s.m.Sender(c, a))
	return got.(delivery.Sender), nil
}
