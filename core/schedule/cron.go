package schedule

import (
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/agentgate/agentgate/core"
)

// spec is a parsed cron expression in its time zone.
type spec struct {
	sched cron.Schedule
	loc   *time.Location
	// wall is set for cron expressions (evaluated on the zone's wall
	// clock), not for @every (real time).
	wall bool
}

// parseSpec parses cron_expr and timezone; an invalid one is a 422 naming
// the field.
func parseSpec(expr, tz string) (*spec, error) {
	loc, err := loadZone(tz)
	if err != nil {
		return nil, err
	}
	e := strings.TrimSpace(expr)
	if e == "" {
		return nil, core.Errorf(core.CodeUnprocessable, "cron_expr: is required")
	}
	if strings.HasPrefix(e, "TZ=") || strings.HasPrefix(e, "CRON_TZ=") {
		return nil, core.Errorf(core.CodeUnprocessable, "cron_expr: give the time zone in the timezone field, not in the expression")
	}
	if d, ok := strings.CutPrefix(e, "@every "); ok {
		// robfig rounds a shorter delay up to a second: refuse it instead.
		if dur, err := time.ParseDuration(strings.TrimSpace(d)); err == nil && dur < time.Second {
			return nil, core.Errorf(core.CodeUnprocessable, "cron_expr: @every needs at least 1s")
		}
	}
	sched, err := cron.ParseStandard(e)
	if err != nil {
		return nil, core.Errorf(core.CodeUnprocessable, "cron_expr: invalid cron expression %q: %v", expr, err)
	}
	s := &spec{sched: sched, loc: loc}
	switch c := sched.(type) {
	case *cron.SpecSchedule:
		s.wall = true
		c.Location = time.UTC // the wall clock is computed as if in UTC
	case cron.ConstantDelaySchedule:
		if c.Delay < time.Second {
			return nil, core.Errorf(core.CodeUnprocessable, "cron_expr: @every needs at least 1s")
		}
	}
	// A valid expression that never fires (Feb 30) has no next time.
	if s.next(time.Now()).IsZero() {
		return nil, core.Errorf(core.CodeUnprocessable, "cron_expr: %q never fires", expr)
	}
	return s, nil
}

// loadZone loads an IANA time zone ("" is UTC).
func loadZone(tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	if tz == "Local" {
		// time.LoadLocation accepts it: the server's zone, not a name.
		return nil, core.Errorf(core.CodeUnprocessable, "timezone: %q is not an IANA time zone name", tz)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, core.Errorf(core.CodeUnprocessable, "timezone: unknown time zone %q", tz)
	}
	return loc, nil
}

// next is the first fire strictly after t (the zero time: none within
// five years). A cron expression is evaluated on the wall clock of the
// zone: the next wall-clock time is found by robfig/cron as if the wall
// clock were UTC (no DST), then placed in the zone (place). A placement at
// or before t (the day of a change) moves on to the next wall-clock time,
// so each instant fires once.
func (s *spec) next(t time.Time) time.Time {
	if !s.wall {
		return s.sched.Next(t)
	}
	lt := t.In(s.loc)
	w := time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), lt.Nanosecond(), time.UTC)
	for range 1000 { // a repeated hour: up to 60 minutes of wall times behind t
		w = s.sched.Next(w)
		if w.IsZero() {
			return time.Time{}
		}
		if at := place(w, s.loc); at.After(t) {
			return at
		}
	}
	return time.Time{}
}

// place is the instant the wall-clock time w (its fields, in UTC) names in
// loc: its first occurrence when a fall-back repeats it, and, when a
// spring-forward skips it, the instant the clock would show it had it not
// jumped (02:30 in America/New_York on the day of the change is 03:30
// daylight time). time.Date leaves both cases unspecified.
func place(w time.Time, loc *time.Location) time.Time {
	_, before := time.Unix(w.Unix()-12*3600, 0).In(loc).Zone()
	_, after := time.Unix(w.Unix()+12*3600, 0).In(loc).Zone()
	var best time.Time
	for _, off := range []int{before, after} {
		at := time.Unix(w.Unix()-int64(off), 0).In(loc)
		if sameWall(at, w) && (best.IsZero() || at.Before(best)) {
			best = at
		}
	}
	if best.IsZero() { // skipped: with the offset before the jump
		best = time.Unix(w.Unix()-int64(before), 0).In(loc)
	}
	return best
}

// sameWall reports whether at shows the wall-clock time w.
func sameWall(at, w time.Time) bool {
	y, mo, d := at.Date()
	h, mi, sec := at.Clock()
	wy, wmo, wd := w.Date()
	wh, wmi, wsec := w.Clock()
	return y == wy && mo == wmo && d == wd && h == wh && mi == wmi && sec == wsec
}

// nextUnix is next in Unix seconds (0: none).
func (s *spec) nextUnix(after int64) int64 {
	n := s.next(time.Unix(after, 0))
	if n.IsZero() {
		return 0
	}
	return n.Unix()
}
