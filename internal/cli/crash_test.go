package cli_test

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/cli"
)

// TestKilledWorkerNeitherLosesNorDuplicates runs one worker as a real
// process beside an in-process one, kills it with SIGKILL mid-broadcast,
// and checks at the provider that every recipient got exactly one message.
// The killed worker's in-flight sends are reconciled through
// get/conversation once their lease (3 s here) ends; one not found there
// is sent again once the settle window (3 s here) since its request began
// has passed. Its tasks are taken back by the sweep (stale after 5 s here)
// once asynq shows them orphaned (its 30 s lease), not at asynq's next
// recoverer tick (up to a minute more).
func TestKilledWorkerNeitherLosesNorDuplicates(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.env["WACAMP_LEASE"] = "3s"
	w.env["WACAMP_SETTLE_WINDOW"] = "3s"
	w.env["WACAMP_STALE_AFTER"] = "5s"
	const n = 400
	path := w.campaign(n)
	code, out := w.run("apply", "-f", path)
	require.Equal(t, 0, code, out)

	victim := w.workerProcess(nil, "-concurrency", "20")

	w.daemon(cli.Scheduler, "run", "-interval", "100ms")
	require.Eventually(t, func() bool { return w.sim.Stats().Accepted >= n/4 }, 60*time.Second, 20*time.Millisecond)
	require.NoError(t, victim.Process.Signal(syscall.SIGKILL))
	_, _ = victim.Process.Wait()
	w.daemon(cli.Worker, "-concurrency", "10")

	require.Eventually(t, func() bool {
		code, out := w.run("status", "promo", "--json")
		return code == 0 && strings.Contains(out, `"status": "completed"`)
	}, 120*time.Second, 200*time.Millisecond)
	perPhone := map[string]int{}
	for _, s := range w.sim.Sends() {
		perPhone[s.Phone]++
	}
	require.Len(t, perPhone, n, "every recipient reached")
	for p, c := range perPhone {
		require.Equal(t, 1, c, "%s got %d messages", p, c)
	}
}

// workerProcess starts a worker as a process of its own, with args, the
// world's environment and extra (KEY=value), killed when the test ends:
// this test binary again, told by its environment to run the worker
// command (see TestMain).
func (w *world) workerProcess(extra []string, args ...string) *exec.Cmd {
	w.t.Helper()
	self, err := os.Executable()
	require.NoError(w.t, err)
	cmd := exec.Command(self, append([]string{"-test.run=^$", "--"}, args...)...)
	for k, v := range w.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(append(cmd.Env, "WACAMP_LOG_LEVEL=warn", workerChildEnv+"=1"), extra...)
	cmd.Stderr = w.all
	require.NoError(w.t, cmd.Start())
	w.t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd
}
