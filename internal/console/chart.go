package console

import (
	"context"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/store"
)

// The chart's drawing area, in SVG user units.
const (
	chartW, chartH = 720.0, 180.0
	chartPad       = 36.0 // left and bottom, for the labels
)

// chart draws the broadcast's progress over time as an inline SVG: sends
// the provider accepted per interval (bars, scaled to the busiest one)
// and the share of the audience sent so far (a line, 0 to 100 %), from
// its start to its end (or now), in chartBuckets intervals.
func (h *handler) chart(ctx context.Context, b campaign.Broadcast, r campaign.Report) (template.HTML, error) {
	from := b.StartAt
	if b.StartedAt != nil {
		from = *b.StartedAt
	}
	to := h.o.Now()
	if b.FinishedAt != nil {
		to = *b.FinishedAt
	}
	return drawSpan(from, to, r.Total, func(from, to time.Time, n int) ([]int, error) {
		return h.o.Store.SendsOverTime(ctx, b.ID, from, to, n)
	})
}

// sequenceSpan is how far back a sequence's chart reaches: a sequence
// never ends, so its chart shows the recent past (or its whole life, when
// shorter).
const sequenceSpan = 24 * time.Hour

// sequenceChart draws the sequence's step sends the provider accepted per
// interval since it was created, over sequenceSpan at most, in
// chartBuckets intervals (no audience line: a sequence has none).
func (h *handler) sequenceChart(ctx context.Context, s store.ConsoleSequence) (template.HTML, error) {
	to := h.o.Now()
	from := s.CreatedAt
	if to.Sub(from) > sequenceSpan {
		from = to.Add(-sequenceSpan)
	}
	return drawSpan(from, to, 0, func(from, to time.Time, n int) ([]int, error) {
		return h.o.Store.StepSendsOverTime(ctx, s.ID, from, to, n)
	})
}

// drawSpan counts sends in [from, to] (count) in chartBuckets intervals,
// of a second at least, and draws them.
func drawSpan(from, to time.Time, total int, count func(from, to time.Time, n int) ([]int, error)) (template.HTML, error) {
	if !to.After(from) {
		return `<p class="muted">Nothing sent yet.</p>`, nil
	}
	// The end is inclusive: one more second keeps the last send in.
	to = to.Add(time.Second)
	// Buckets of a second at least: a young campaign has fewer.
	n := int(min(to.Sub(from)/time.Second, chartBuckets))
	counts, err := count(from, to, n)
	if err != nil {
		return "", err
	}
	return template.HTML(drawChart(counts, total, from, to)), nil // #nosec G203 -- built from numbers and formatted times only
}

// drawChart is the SVG of counts (sends per bucket of [from, to)) and
// their running total as a share of total.
func drawChart(counts []int, total int, from, to time.Time) string {
	peak, sum := 0, 0
	for _, n := range counts {
		peak = max(peak, n)
		sum += n
	}
	plotW, plotH := chartW-chartPad-8, chartH-chartPad-8
	x0, y0 := chartPad, 8.0
	bw := plotW / float64(len(counts))
	step := to.Sub(from) / time.Duration(len(counts))
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="chart" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">`,
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&s, `<title id="chart-title">%d sends from %s to %s; busiest interval (%s) %d sends</title>`,
		sum, template.HTMLEscapeString(when(from)), template.HTMLEscapeString(when(to)), step.Round(time.Second), peak)
	// Axes.
	fmt.Fprintf(&s, `<path d="M%g %gV%gH%g" fill="none" stroke="#888" stroke-width="1"/>`, x0, y0, y0+plotH, x0+plotW)
	if peak > 0 {
		for i, n := range counts {
			if n == 0 {
				continue
			}
			h := plotH * float64(n) / float64(peak)
			fmt.Fprintf(&s, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#4c8bf5"><title>%s: %d sent</title></rect>`,
				x0+float64(i)*bw+0.5, y0+plotH-h, max(bw-1, 0.5), h, template.HTMLEscapeString(when(from.Add(time.Duration(i)*step))), n)
		}
	}
	if total > 0 {
		var pts []string
		run := 0
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x0, y0+plotH))
		for i, n := range counts {
			run += n
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x0+float64(i+1)*bw, y0+plotH-plotH*min(float64(run)/float64(total), 1)))
		}
		fmt.Fprintf(&s, `<polyline points="%s" fill="none" stroke="#2a9d4b" stroke-width="2"/>`, strings.Join(pts, " "))
	}
	label := func(x, y float64, anchor, text string) {
		fmt.Fprintf(&s, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="11" fill="#555">%s</text>`, x, y, anchor, template.HTMLEscapeString(text))
	}
	label(x0-4, y0+10, "end", fmt.Sprint(peak))
	label(x0-4, y0+plotH, "end", "0")
	label(x0, chartH-12, "start", when(from))
	label(x0+plotW, chartH-12, "end", when(to))
	legend := fmt.Sprintf("bars: sent per %s", step.Round(time.Second))
	if total > 0 {
		legend += " · line: % of audience sent"
	}
	label(x0+plotW/2, chartH-12, "middle", legend)
	s.WriteString(`</svg>`)
	return s.String()
}
