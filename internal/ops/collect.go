package ops

import (
	"cmp"
	"context"
	"sort"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// collectTimeout bounds one scrape-time read.
const collectTimeout = 5 * time.Second

// Campaign is one live broadcast as the scheduler's collector reports it.
type Campaign struct {
	Name, Status string
	Counts       map[string]int // deliveries per state
}

// DeliveryStates are the states wacamp_deliveries always reports (0 when
// a broadcast has none), so a rate over any of them is defined.
var DeliveryStates = []string{"planned", "queued", "sending", "sent", "delivered", "read", "failed", "skipped", "expired"}

var (
	deliveriesDesc = prometheus.NewDesc(NameDeliveries,
		"Deliveries per state of each live broadcast (scheduled, running, paused, or finished within the last hour), read from the kept counts at scrape time.",
		[]string{"campaign", "state"}, nil)
	broadcastStatusDesc = prometheus.NewDesc(NameBroadcastStatus,
		"1 for each live broadcast's current status (scheduled, running, paused, completed, cancelled, failed).",
		[]string{"campaign", "status"}, nil)
	pollLagDesc = prometheus.NewDesc(NamePollLag,
		"How long the oldest due status poll has waited to be leased (0: none is late).", nil, nil)
	stepsInFlightDesc = prometheus.NewDesc(NameStepsInFlight,
		"Steps of each sequence queued, or sending and not awaiting a settle: what its account's release window holds.", []string{"sequence"}, nil)
	stepLagDesc = prometheus.NewDesc(NameStepLag,
		"How long each sequence's earliest planned step has been due and not released (0: none is due).", []string{"sequence"}, nil)
	queueTasksDesc = prometheus.NewDesc(NameQueueTasks,
		"Tasks in each Asynq queue by state (pending, active, scheduled, retry, archived).", []string{"queue", "state"}, nil)
	queueAgeDesc = prometheus.NewDesc(NameQueueAge,
		"How long the oldest pending task of each Asynq queue has waited (Asynq's queue latency).", []string{"queue"}, nil)
)

// funcCollector collects by calling collect at scrape time.
type funcCollector struct {
	descs   []*prometheus.Desc
	collect func(ctx context.Context, ch chan<- prometheus.Metric) error
	name    string
	errs    prometheus.Counter
}

func (c *funcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *funcCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	if err := c.collect(ctx, ch); err != nil {
		c.errs.Inc()
	}
}

func (m *Metrics) register(name string, collect func(ctx context.Context, ch chan<- prometheus.Metric) error, descs ...*prometheus.Desc) {
	m.reg.MustRegister(&funcCollector{descs: descs, collect: collect, name: name, errs: m.collectErrors.WithLabelValues(name)})
}

// CollectCampaigns reports, at each scrape, wacamp_deliveries and
// wacamp_broadcast_status for the broadcasts read returns (the scheduler
// passes the store's kept counts: a few indexed rows, never the
// deliveries). A failed read is counted in wacamp_collect_errors_total
// {collector="campaigns"} and reports nothing.
func (m *Metrics) CollectCampaigns(read func(ctx context.Context) ([]Campaign, error)) {
	m.register("campaigns", func(ctx context.Context, ch chan<- prometheus.Metric) error {
		cs, err := read(ctx)
		if err != nil {
			return err
		}
		for _, c := range cs {
			ch <- prometheus.MustNewConstMetric(broadcastStatusDesc, prometheus.GaugeValue, 1, c.Name, c.Status)
			for _, s := range DeliveryStates {
				ch <- prometheus.MustNewConstMetric(deliveriesDesc, prometheus.GaugeValue, float64(c.Counts[s]), c.Name, s)
			}
		}
		return nil
	}, deliveriesDesc, broadcastStatusDesc)
}

// CollectPollLag reports wacamp_status_poll_lag_seconds at each scrape:
// now less the earliest time a status poll is due (oldest, ok false when
// none is), 0 when that is not past.
func (m *Metrics) CollectPollLag(oldest func(ctx context.Context) (time.Time, bool, error), now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	m.register("status_polls", func(ctx context.Context, ch chan<- prometheus.Metric) error {
		at, ok, err := oldest(ctx)
		if err != nil {
			return err
		}
		lag := 0.0
		if ok {
			lag = max(now().Sub(at).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(pollLagDesc, prometheus.GaugeValue, lag)
		return nil
	}, pollLagDesc)
}

// Sequence is one sequence's steps as the scheduler's collector reports
// them: its steps in flight and the due time of its earliest planned step
// (zero: none is planned).
type Sequence struct {
	Name      string
	InFlight  int
	OldestDue time.Time
}

// CollectSequences reports, at each scrape, wacamp_sequence_steps_in_flight
// and wacamp_sequence_step_lag_seconds (now less the earliest planned
// step's due time, 0 when that is not past) for the sequences read returns.
func (m *Metrics) CollectSequences(read func(ctx context.Context) ([]Sequence, error), now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	m.register("sequences", func(ctx context.Context, ch chan<- prometheus.Metric) error {
		ss, err := read(ctx)
		if err != nil {
			return err
		}
		t := now()
		for _, s := range ss {
			lag := 0.0
			if !s.OldestDue.IsZero() {
				lag = max(t.Sub(s.OldestDue).Seconds(), 0)
			}
			ch <- prometheus.MustNewConstMetric(stepsInFlightDesc, prometheus.GaugeValue, float64(s.InFlight), s.Name)
			ch <- prometheus.MustNewConstMetric(stepLagDesc, prometheus.GaugeValue, lag, s.Name)
		}
		return nil
	}, stepsInFlightDesc, stepLagDesc)
}

// QueueInspector reads a queue's state (*asynq.Inspector).
type QueueInspector interface {
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

// CollectQueues reports wacamp_queue_tasks and
// wacamp_queue_oldest_task_age_seconds for queues at each scrape (a few
// Redis calls per queue). A queue that does not exist yet reports zeros.
func (m *Metrics) CollectQueues(insp QueueInspector, queues ...string) {
	queues = append([]string(nil), queues...)
	sort.Strings(queues)
	m.register("queues", func(_ context.Context, ch chan<- prometheus.Metric) error {
		var firstErr error
		for _, q := range queues {
			info, err := insp.GetQueueInfo(q)
			switch {
			case err != nil && isQueueNotFound(err):
				info = &asynq.QueueInfo{Queue: q} // no task was ever enqueued there
			case err != nil:
				firstErr = cmp.Or(firstErr, err)
				continue
			}
			for _, s := range []struct {
				state string
				n     int
			}{{"pending", info.Pending}, {"active", info.Active}, {"scheduled", info.Scheduled}, {"retry", info.Retry}, {"archived", info.Archived}} {
				ch <- prometheus.MustNewConstMetric(queueTasksDesc, prometheus.GaugeValue, float64(s.n), q, s.state)
			}
			ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, info.Latency.Seconds(), q)
		}
		return firstErr
	}, queueTasksDesc, queueAgeDesc)
}

// isQueueNotFound reports whether err is asynq's "queue not found" (its
// error type is internal: matched by its text).
func isQueueNotFound(err error) bool { return strings.Contains(err.Error(), "queue not found") }
