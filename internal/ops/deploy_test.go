package ops_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/wacamp/wacamp/internal/cli"
	"github.com/wacamp/wacamp/internal/ops"
)

const monitoring = "../../deploy/monitoring"

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, v), path)
}

// families maps each metric family a wacamp process exports (ours, the Go
// runtime's and the process's) to its label names, with what Prometheus
// adds (job, instance; le on a histogram's buckets).
func families(t *testing.T) map[string][]string {
	t.Helper()
	fams, err := exercised(t).Registry().Gather()
	require.NoError(t, err)
	out := map[string][]string{"up": {"job", "instance"}}
	for _, f := range fams {
		labels := []string{"job", "instance"}
		if ms := f.GetMetric(); len(ms) > 0 {
			for _, l := range ms[0].GetLabel() {
				labels = append(labels, l.GetName())
			}
		}
		if slices.Contains(ops.Histograms, f.GetName()) {
			out[f.GetName()+"_sum"], out[f.GetName()+"_count"] = labels, labels
			out[f.GetName()+"_bucket"] = append(slices.Clone(labels), "le")
		}
		out[f.GetName()] = labels
	}
	return out
}

var (
	quoted   = regexp.MustCompile(`"[^"]*"`)
	ident    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	selector = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
	matcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
	grouping = regexp.MustCompile(`\b(?:by|on|without|ignoring)\s*\(([^)]*)\)`)
)

// checkExpr fails unless every metric expr names is one a process exports
// and every label it matches or groups by is one those metrics carry.
func checkExpr(t *testing.T, fams map[string][]string, where, expr string) {
	t.Helper()
	var used []string
	for _, id := range ident.FindAllString(quoted.ReplaceAllString(expr, `""`), -1) {
		if strings.HasPrefix(id, "wacamp_") || strings.HasPrefix(id, "go_") || strings.HasPrefix(id, "process_") || id == "up" {
			_, ok := fams[id]
			require.True(t, ok, "%s: %s is no metric wacamp exports\n%s", where, id, expr)
			used = append(used, id)
		}
	}
	require.NotEmpty(t, used, "%s: names no metric: %s", where, expr)
	for _, m := range selector.FindAllStringSubmatch(expr, -1) {
		for _, l := range matcher.FindAllStringSubmatch(m[2], -1) {
			require.Contains(t, fams[m[1]], l[1], "%s: %s has no label %s", where, m[1], l[1])
		}
	}
	var all []string
	for _, u := range used {
		all = append(all, fams[u]...)
	}
	for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
		for l := range strings.SplitSeq(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				require.Contains(t, all, l, "%s: no metric of %q has the label %s", where, expr, l)
			}
		}
	}
}

// The alert rules and the Grafana dashboard parse, and every metric and
// label they use is one wacamp's processes export.
func TestAlertsAndDashboardUseOurMetrics(t *testing.T) {
	t.Parallel()
	fams := families(t)

	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert, Expr, For string
				Labels           map[string]string
				Annotations      map[string]string
			}
		}
	}
	readYAML(t, filepath.Join(monitoring, "alerts.yml"), &rules)
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert)
			require.NotEmpty(t, r.Labels["severity"], r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			checkExpr(t, fams, "alert "+r.Alert, r.Expr)
			alerts = append(alerts, r.Alert)
		}
	}
	for _, want := range []string{"WacampBroadcastStalled", "WacampSendErrorStorm", "WacampProviderRateLimited", "WacampQueueBacklogOld"} {
		require.Contains(t, alerts, want)
	}

	b, err := os.ReadFile(filepath.Join(monitoring, "grafana/dashboards/wacamp.json"))
	require.NoError(t, err)
	var dash struct {
		UID    string
		Panels []struct {
			Title   string
			Type    string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct{ Definition string }
		}
	}
	require.NoError(t, json.Unmarshal(b, &dash))
	require.NotEmpty(t, dash.UID)
	n := 0
	for _, p := range dash.Panels {
		if p.Type != "row" {
			require.NotEmpty(t, p.Targets, p.Title)
		}
		for _, tg := range p.Targets {
			checkExpr(t, fams, "panel "+p.Title, strings.NewReplacer("$campaign", ".*", "$account", ".*").Replace(tg.Expr))
			n++
		}
	}
	require.Greater(t, n, 10)
	for _, v := range dash.Templating.List {
		checkExpr(t, fams, "variable", v.Definition)
	}
}

// Prometheus scrapes each process on the port that process listens on by
// default, with the token, and loads the rules docker-compose mounts; the
// files docker-compose mounts exist.
func TestScrapeConfigMatchesTheProcesses(t *testing.T) {
	t.Parallel()
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			Authorization struct {
				Type            string
				CredentialsFile string `yaml:"credentials_file"`
			}
			DNSSDConfigs []struct {
				Names []string
				Type  string
				Port  string
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, filepath.Join(monitoring, "prometheus.yml"), &prom)
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	want := map[string]string{
		"wacamp-worker":    port(cli.DefaultWorkerMetricsAddr),
		"wacamp-scheduler": port(cli.DefaultSchedulerMetricsAddr),
		"wacamp-asynqmon":  port(cli.DefaultAsynqmonMetricsAddr),
	}
	require.Len(t, prom.ScrapeConfigs, len(want))
	for _, sc := range prom.ScrapeConfigs {
		require.Equal(t, "Bearer", sc.Authorization.Type, sc.JobName)
		require.Equal(t, "/run/secrets/metrics_token", sc.Authorization.CredentialsFile, sc.JobName)
		require.Len(t, sc.DNSSDConfigs, 1, sc.JobName)
		require.Equal(t, want[sc.JobName], sc.DNSSDConfigs[0].Port, sc.JobName)
	}

	var compose struct {
		Services map[string]struct {
			Command []string
			Volumes []string
			Secrets []string
		}
		Secrets map[string]map[string]string
	}
	readYAML(t, "../../docker-compose.yml", &compose)
	require.Equal(t, "WACAMP_METRICS_TOKEN", compose.Secrets["metrics_token"]["environment"])
	mounted := map[string]string{}
	for _, name := range []string{"prometheus", "grafana"} {
		svc, ok := compose.Services[name]
		require.True(t, ok, name)
		for _, v := range svc.Volumes {
			src, dst, ok := strings.Cut(v, ":")
			if !ok || !strings.HasPrefix(src, "./") {
				continue // a named volume
			}
			_, err := os.Stat(filepath.Join("../..", src))
			require.NoError(t, err, "%s mounts %s", name, src)
			mounted[strings.TrimSuffix(dst, ":ro")] = src
		}
	}
	require.Contains(t, compose.Services["prometheus"].Secrets, "metrics_token")
	for _, f := range prom.RuleFiles {
		require.Contains(t, mounted, f, "prometheus.yml loads %s, which docker-compose does not mount", f)
	}
	// Each scraped service listens beyond loopback on its job's port.
	for svc, job := range map[string]string{"worker": "wacamp-worker", "webhooks": "wacamp-worker", "scheduler": "wacamp-scheduler", "asynqmon": "wacamp-asynqmon"} {
		cmd := compose.Services[svc].Command
		i := slices.Index(cmd, "-metrics-addr")
		require.GreaterOrEqual(t, i, 0, "%s serves no metrics", svc)
		require.Equal(t, "0.0.0.0:"+want[job], cmd[i+1], svc)
	}
	var dashboards struct {
		Providers []struct{ Options struct{ Path string } }
	}
	readYAML(t, filepath.Join(monitoring, "grafana/provisioning/dashboards/wacamp.yml"), &dashboards)
	require.Len(t, dashboards.Providers, 1)
	require.Equal(t, "./deploy/monitoring/grafana/dashboards", mounted[dashboards.Providers[0].Options.Path])
}
