package metric_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/metric"
)

func TestParseRange(t *testing.T) {
	day := func(s string) int64 {
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			t.Fatal(err)
		}
		return d.Unix()
	}
	r, err := metric.ParseRange("2026-01-30", "2026-02-01")
	if err != nil || r.From != day("2026-01-30") || r.To != day("2026-02-02") {
		t.Fatalf("range: %+v %v", r, err)
	}
	if r, err := metric.ParseRange("", ""); err != nil || r.To != 0 || r.From >= 0 {
		t.Fatalf("no bounds: %+v %v", r, err)
	}
	if r, err := metric.ParseRange("2026-02-01", "2026-02-01"); err != nil || r.To-r.From != metric.DaySeconds {
		t.Fatalf("one day: %+v %v", r, err)
	}
	for _, c := range []struct {
		start, end string
		code       core.ErrorCode
		detail     string
	}{
		{"2026-2-1", "", core.CodeUnprocessable, "starting_date"},
		{"", "2026-02-30", core.CodeUnprocessable, "ending_date"},
		{"2026-02-01T00:00:00Z", "", core.CodeUnprocessable, "YYYY-MM-DD"},
		{"2026-02-02", "2026-02-01", core.CodeInvalid, "after ending_date"},
	} {
		_, err := metric.ParseRange(c.start, c.end)
		if core.CodeOf(err) != c.code || !strings.Contains(err.Error(), c.detail) {
			t.Errorf("ParseRange(%q, %q) = %v, want %s with %q", c.start, c.end, err, c.code, c.detail)
		}
	}
}

func TestDayStart(t *testing.T) {
	ts := time.Date(2026, 12, 7, 23, 59, 59, 0, time.UTC).Unix()
	if got := metric.DayStart(ts); got != time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC).Unix() {
		t.Fatalf("DayStart = %d", got)
	}
	if metric.DayStart(-1) != -metric.DaySeconds {
		t.Fatalf("DayStart(-1) = %d", metric.DayStart(-1))
	}
}

func TestWire(t *testing.T) {
	d := metric.Day{ID: "2026-12-07_daily", Day: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC).Unix(), CreatedAt: 1, UpdatedAt: 2}
	w := d.Wire()
	if w.ModelMetrics == nil || !w.Date.Equal(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)) || w.Date.Location() != time.UTC {
		t.Fatalf("wire: %+v", w)
	}
}

// FuzzParseRange: the dates come from the query string of GET /metrics.
func FuzzParseRange(f *testing.F) {
	for _, s := range [][2]string{{"2026-01-01", "2026-01-31"}, {"", ""}, {"2026-02-30", ""}, {"9999-12-31", "0000-01-01"},
		{"2026-01-01\x00", "x"}, {"+2026-01-01", "2026-1-01"}, {"2026-01-01 ", "२०२६-०१-०१"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, start, end string) {
		r, err := metric.ParseRange(start, end)
		if err != nil {
			var ce *core.Error
			if !errors.As(err, &ce) || (ce.Code != core.CodeInvalid && ce.Code != core.CodeUnprocessable) {
				t.Fatalf("ParseRange(%q, %q): uncoded error %v", start, end, err)
			}
			return
		}
		if r.To != 0 && r.To <= r.From {
			t.Fatalf("ParseRange(%q, %q) = %+v: empty window", start, end, r)
		}
		if start != "" && metric.DayStart(r.From) != r.From {
			t.Fatalf("ParseRange(%q, %q) = %+v: From not a day start", start, end, r)
		}
	})
}
