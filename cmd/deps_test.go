package cmd_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Each binary links only what it runs: the production commands carry no
// provider simulator, no embedded Redis (miniredis) and no SQLite; only
// the demo and bench do.
func TestProductionBinariesLinkNoDemoParts(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "./worker", "./scheduler", "./asynqmon").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
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
	out, err := exec.Command("go", "list", "-deps", "github.com/wacamp/wacamp/store", "github.com/wacamp/wacamp/spec").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/wacamp/wacamp/provider/") {
			t.Errorf("store or spec links %s", pkg)
		}
	}
}
