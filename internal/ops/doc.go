// Package ops is what an operator watches a wacamp process by: its
// Prometheus metrics (Metrics, in a registry of its own) and a small HTTP
// server of its own (Serve) with
//
//   - /metrics: the metrics, in Prometheus' text format;
//   - /healthz: 200 while the process runs (liveness; no token needed);
//   - /readyz: 200 when every readiness check passes (Redis and Postgres
//     reachable, migrations current), else 503 naming what is not.
//
// The server listens on a loopback address by default; beyond loopback it
// needs a bearer token (WACAMP_METRICS_TOKEN or WACAMP_METRICS_TOKEN_FILE)
// or an explicit opt-out (CheckAuth). Every long-running process serves
// one (worker, scheduler run, asynqmon; default ports in README "Metrics
// and health"); a new one takes one call:
//
//	m := ops.New()                      // instrument with m (delivery.Options.Metrics, m.Senders, m.Webhooks)
//	err := ops.Serve(ctx, ops.Server{
//		Addr: "127.0.0.1:9473", Gatherer: m.Registry(),
//		Checks: app.ReadyChecks(conns), // internal/app: Redis, Postgres, migrations
//		Token: token, Logger: log,
//	})
//
// Metric names follow Prometheus' conventions (Names lists them); labels
// are bounded (account, provider and campaign names, and fixed words),
// never a phone number. The send path's counters are looked up once per
// account and then only incremented.
package ops
