package console

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The chart has a bar per interval that had sends, as tall as its share of
// the busiest one, and a line that ends at the share of the audience sent;
// it is well-formed SVG.
func TestDrawChart(t *testing.T) {
	t.Parallel()
	from := time.Now()
	svg := drawChart([]int{0, 2, 4, 0}, 10, from, from.Add(4*time.Second))
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("not well-formed: %v\n%s", err, svg)
	}
	if n := strings.Count(svg, `<rect class="bar"`); n != 2 {
		t.Errorf("%d bars, want 2", n)
	}
	plotH := chartH - chartPad - 8
	if !strings.Contains(svg, fmt.Sprintf(`height="%.1f"`, plotH)) || !strings.Contains(svg, fmt.Sprintf(`height="%.1f"`, plotH/2)) {
		t.Errorf("the bars are not 100%% and 50%% of %g high:\n%s", plotH, svg)
	}
	if !strings.Contains(svg, fmt.Sprintf(`,%.1f" fill="none"`, 8+plotH-plotH*0.6)) {
		t.Errorf("the line does not end at 60%% sent:\n%s", svg)
	}
	if !strings.Contains(svg, "6 sends from") || !strings.Contains(svg, "sent per 1s") {
		t.Errorf("title or legend:\n%s", svg)
	}
	if empty := drawChart(make([]int, 3), 0, from, from.Add(3*time.Second)); strings.Contains(empty, "<rect") || strings.Contains(empty, "<polyline") {
		t.Errorf("nothing sent, no audience: %s", empty)
	}
}

// Counts read in the ladder's order, then enrollment states, then reason
// codes by name; zeros are left out.
func TestCountsLine(t *testing.T) {
	t.Parallel()
	got := countsLine(map[string]int{"read": 4, "failed": 1, "queued": 36, "opted_out": 2, "frequency_cap": 1, "sent": 0, "active": 3, "completed": 5})
	if want := "36 queued, 4 read, 1 failed, 3 active, 5 completed, 1 frequency_cap, 2 opted_out"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got := countsLine(nil); got != "none" {
		t.Errorf("no counts: %q", got)
	}
}
