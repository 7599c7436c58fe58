package cli

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/wacamp/wacamp/spec"
)

// A pass over a CSV audience that takes longer than csvProgressAfter is
// shown, a line every csvProgressEvery and one when it ends.
const (
	csvProgressAfter = 2 * time.Second
	csvProgressEvery = 2 * time.Second
)

// csvProgress prints how reading large CSV audiences goes (validate's two
// passes, apply's copy into the database); a file read quickly shows
// nothing.
type csvProgress struct {
	w io.Writer
	// readStage names spec.StageRead: what reads a file again (apply
	// copies an audience into the database).
	readStage string
	now       func() time.Time
	pass      string    // file and stage of the pass under way
	start     time.Time // of that pass
	last      time.Time // when a line was last printed for it; zero: none yet
}

// CSVProgress returns a spec.LoadOptions.Progress that prints to w how
// reading large CSV audiences goes, as validate and apply do.
func CSVProgress(w io.Writer) func(spec.Progress) { return newCSVProgress(w).report }

func newCSVProgress(w io.Writer) *csvProgress {
	return &csvProgress{w: w, now: time.Now, readStage: "copying into the database"}
}

// report is a spec.LoadOptions.Progress.
func (p *csvProgress) report(pr spec.Progress) {
	now := p.now()
	if pass := pr.File + "\x00" + pr.Stage; pass != p.pass {
		p.pass, p.start, p.last = pass, now, time.Time{}
	}
	stage := pr.Stage
	if stage == spec.StageRead {
		stage = p.readStage
	}
	switch {
	case pr.Done && p.last.IsZero():
		return
	case pr.Done:
		fmt.Fprintf(p.w, "%s: %s: done, %s rows (%s) in %s\n", pr.File, stage, thousands(pr.Rows), mebibytes(pr.Bytes),
			now.Sub(p.start).Round(time.Second))
		return
	case now.Sub(p.start) < csvProgressAfter, !p.last.IsZero() && now.Sub(p.last) < csvProgressEvery:
		return
	}
	p.last = now
	done := ""
	if pr.Size > 0 {
		done = fmt.Sprintf(", %d%% of %s", min(100, pr.Bytes*100/pr.Size), mebibytes(pr.Size))
	}
	fmt.Fprintf(p.w, "%s: %s: %s rows%s\n", pr.File, stage, thousands(pr.Rows), done)
}

// thousands writes n with thousands separators: 10,000,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func mebibytes(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}
