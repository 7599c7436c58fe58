package bench_test

import (
	"os"
	"testing"

	"github.com/wacamp/wacamp/internal/bench"
)

// TestMain lets RunThrottle start this test binary again as its worker
// processes: a child is told so by its environment and runs the worker
// instead of the tests.
func TestMain(m *testing.M) {
	if bench.IsWorkerChild(os.Getenv) {
		os.Exit(bench.WorkerChildMain())
	}
	os.Exit(m.Run())
}
