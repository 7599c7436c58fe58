package cmd_test

import (
	"os/exec"
	"strings"
	"testing"
)

// goList returns what `go list` prints for args, one package a field.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

// Each binary links only what it runs: the production commands carry no
// provider simulator, no embedded Redis (miniredis) and no SQLite; only
// the demo and bench do.
func TestProductionBinariesLinkNoDemoParts(t *testing.T) {
	t.Parallel()
	for _, pkg := range goList(t, "-deps", "./worker", "./scheduler", "./asynqmon") {
		if strings.HasSuffix(pkg, "sim") || strings.Contains(pkg, "miniredis") || strings.Contains(pkg, "sqlite") ||
			strings.Contains(pkg, "wacamp/internal/demo") || strings.Contains(pkg, "wacamp/internal/bench") {
			t.Errorf("a production binary links %s", pkg)
		}
	}
}

// The store and the campaign-file loader link no provider driver: spec is
// given the drivers' capabilities (spec.Providers) instead of importing
// them, so nothing that stores or validates a campaign carries every
// provider's HTTP client.
func TestStoreLinksNoDriver(t *testing.T) {
	t.Parallel()
	for _, pkg := range goList(t, "-deps", "github.com/wacamp/wacamp/store", "github.com/wacamp/wacamp/spec") {
		if strings.HasPrefix(pkg, "github.com/wacamp/wacamp/provider/") {
			t.Errorf("store or spec links %s", pkg)
		}
	}
}

// config, the process settings, stays tiny: the standard library only (no
// gorm, no Redis client, no driver), so every package may read settings.
func TestConfigLinksOnlyTheStandardLibrary(t *testing.T) {
	t.Parallel()
	for _, pkg := range goList(t, "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "github.com/wacamp/wacamp/config") {
		if pkg != "github.com/wacamp/wacamp/config" {
			t.Errorf("config links %s", pkg)
		}
	}
}

// internal/ops, the metrics and health server every long-running process
// (and the API) serves, links no store, database driver or provider
// driver: the processes hand it what to read (small interfaces and
// functions), so a process links only what it runs.
func TestOpsLinksNoStoreOrDriver(t *testing.T) {
	t.Parallel()
	for _, pkg := range goList(t, "-deps", "github.com/wacamp/wacamp/internal/ops") {
		if strings.Contains(pkg, "gorm") || strings.Contains(pkg, "pgx") || strings.Contains(pkg, "sqlite") ||
			pkg == "github.com/wacamp/wacamp/store" || strings.HasPrefix(pkg, "github.com/wacamp/wacamp/provider/") {
			t.Errorf("internal/ops links %s", pkg)
		}
	}
}
