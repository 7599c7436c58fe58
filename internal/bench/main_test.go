package bench_test

import (
	"os"
	"testing"

	"github.com/wacamp/wacamp/internal/bench"
)

// TestMain lets RunThrottle start this test binary again as its worker
// processes, and RunAudience as the scheduler command: a child is told so
// by its environment and runs the worker or the command instead of the
// tests.
func TestMain(m *testing.M) {
	if bench.IsWorkerChild(os.Getenv) {
		os.Exit(bench.WorkerChildMain())
	}
	if bench.IsSchedulerChild(os.Getenv) {
		bench.SchedulerChildMain()
	}
	os.Exit(m.Run())
}
