package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
)

// The throttle benchmark's simulator runs in a process of its own, as a
// provider runs on machines of its own: the times it records are when its
// handler took each request, and sharing a process with the bench's feeder
// (its planning, its garbage collection) would stall that handler now and
// then and bunch the requests it takes next. (It shares the CPU all the
// same; giving it priority, nice −10, cost the workers more than it kept
// the window: see the README's Throttle section.) simRole is WorkerEnv's value that makes a
// child the simulator; simRateEnv is its limit per number.
const (
	simRole    = "simulator"
	simRateEnv = "WACAMP_BENCH_SIM_RATE"
)

// The lines a simulator child writes to its stdout when it stops: one per
// accepted send, its rate-limit refusals, and the send requests of each
// worker.
const (
	simSendWord     = "sim-send"         // sim-send <phone_number_id> <phone> <unix ns>
	simRefusedWord  = "sim-rate-limited" // sim-rate-limited <n>
	simRequestsWord = "sim-requests"     // sim-requests <worker> <n>
)

// simReport is what a simulator child reported when it stopped.
type simReport struct {
	sends       []botsailorsim.Send
	rateLimited int
	requests    map[string]int // send requests by the worker header's value
}

// counts is the send requests of workers 1..processes, in order.
func (r simReport) counts(processes int) []int {
	out := make([]int, processes)
	for i := range out {
		out[i] = r.requests[strconv.Itoa(i+1)]
	}
	return out
}

// simLine takes one line of a simulator child's report; it reports
// whether the line was one. Call it with c.mu held.
func (c *childStdout) simLine(f []string) bool {
	if len(f) == 0 {
		return false
	}
	switch f[0] {
	case simSendWord:
		if len(f) != 4 {
			return false
		}
		ns, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return false
		}
		c.sim.sends = append(c.sim.sends, botsailorsim.Send{PhoneNumberID: f[1], Phone: f[2], At: time.Unix(0, ns)})
	case simRefusedWord:
		if len(f) != 2 {
			return false
		}
		c.sim.rateLimited, _ = strconv.Atoi(f[1])
	case simRequestsWord:
		if len(f) != 3 {
			return false
		}
		if c.sim.requests == nil {
			c.sim.requests = map[string]int{}
		}
		c.sim.requests[f[1]], _ = strconv.Atoi(f[2])
	default:
		return false
	}
	return true
}

// RunSimChild is the throttle benchmark's simulator process: the BotSailor
// simulator with the limit per number simRateEnv, accepting the token
// tokenVar, on a loopback port. It writes "ready <base URL>" to stdout once
// it serves, and when ctx ends or stdin reaches its end (the parent is
// gone) it stops serving and writes its report (see simSendWord).
func RunSimChild(ctx context.Context, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	rate, err := strconv.ParseFloat(getenv(simRateEnv), 64)
	if err != nil || rate <= 0 {
		return fmt.Errorf("%s must be a positive number, got %q", simRateEnv, getenv(simRateEnv))
	}
	ctx, cancel := untilParentGone(ctx, stdin)
	defer cancel()
	s := botsailorsim.New(botsailorsim.Options{Tokens: []string{getenv(tokenVar)}, Knobs: sim.Knobs{RatePerSecond: rate}})
	counter := &requestCounter{next: s}
	baseURL, stop, err := serve(counter)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(stdout, readyLine, baseURL); err != nil {
		stop()
		return fmt.Errorf("report ready: %w", err)
	}
	<-ctx.Done()
	stop()
	bw := bufio.NewWriter(stdout)
	w := &errWriter{w: bw}
	for _, snd := range s.Sends() {
		fmt.Fprintf(w, "%s %s %s %d\n", simSendWord, snd.PhoneNumberID, snd.Phone, snd.At.UnixNano())
	}
	fmt.Fprintf(w, "%s %d\n", simRefusedWord, s.Stats().RateLimited)
	counter.mu.Lock()
	for worker, n := range counter.n {
		fmt.Fprintf(w, "%s %s %d\n", simRequestsWord, worker, n)
	}
	counter.mu.Unlock()
	if err := errors.Join(w.err, bw.Flush()); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// startSimProcess starts the simulator process with the limit rate per number and
// returns it once it serves, with its base URL.
func startSimProcess(ctx context.Context, log *slog.Logger, progress io.Writer, rate float64) (*child, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("find own executable: %w", err)
	}
	env := []string{simRateEnv + "=" + strconv.FormatFloat(rate, 'f', -1, 64), tokenVar + "=" + simToken}
	c, err := startProcess(exe, 0, "simulator", simRole, progress, env)
	if err != nil {
		return nil, "", err
	}
	if err := awaitReady(ctx, log, []*child{c}); err != nil {
		return nil, "", err
	}
	c.stdout.mu.Lock()
	defer c.stdout.mu.Unlock()
	return c, c.stdout.url, nil
}
