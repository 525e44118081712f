package metric

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/core"
)

// Defaults of Config.
const (
	DefaultStaleAfter = 10 * time.Minute
	DefaultTimeout    = 5 * time.Minute
)

// maxCatchUpDays bounds the days a refresh recomputes for having passed
// since the previous one (a gateway stopped for long).
const maxCatchUpDays = 31

// ErrAlreadyRunning refuses a refresh while another one runs (on any
// replica).
var ErrAlreadyRunning = core.Errorf(core.CodeConflict, "a metrics refresh is already in progress for this database")

// Config configures a Service.
type Config struct {
	Store Store
	// Now is the clock (default time.Now).
	Now func() time.Time
	// StaleAfter is how old a running refresh's claim must be before
	// another refresh may take it over (default 10m).
	StaleAfter time.Duration
	// Timeout bounds one background or periodic refresh (default 5m).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Service computes and serves the daily aggregates.
type Service struct {
	cfg    Config
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns the service on cfg.Store.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	base, cancel := context.WithCancel(context.Background())
	return &Service{cfg: cfg, base: base, cancel: cancel}
}

// Close stops a background refresh and waits for it.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
}

// DayStart is the start of the UTC day holding the Unix second t.
func DayStart(t int64) int64 {
	d := t % DaySeconds
	if d < 0 {
		d += DaySeconds
	}
	return t - d
}

// dateLayout is a query date (AgentOS's YYYY-MM-DD).
const dateLayout = "2006-01-02"

// ParseDate parses a YYYY-MM-DD date into the Unix second its UTC day
// starts at; ok is false for "" (no bound). A date that does not parse is
// core.CodeUnprocessable, naming param.
func ParseDate(param, v string) (start int64, ok bool, err error) {
	if v == "" {
		return 0, false, nil
	}
	t, perr := time.Parse(dateLayout, v)
	if perr != nil || len(v) != len(dateLayout) {
		return 0, false, core.Errorf(core.CodeUnprocessable, "%s: %q is not a date (YYYY-MM-DD)", param, truncate(v, 40))
	}
	return t.Unix(), true, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Range is a window of days: From and To are Unix seconds, To exclusive;
// zero bounds do not bound.
type Range struct{ From, To int64 }

// ParseRange parses AgentOS's starting_date and ending_date (both
// inclusive, either may be empty). A starting date after the ending date is
// core.CodeInvalid.
func ParseRange(starting, ending string) (Range, error) {
	from, hasFrom, err := ParseDate("starting_date", starting)
	if err != nil {
		return Range{}, err
	}
	end, hasEnd, err := ParseDate("ending_date", ending)
	if err != nil {
		return Range{}, err
	}
	if hasFrom && hasEnd && from > end {
		return Range{}, core.Errorf(core.CodeInvalid, "starting_date %s is after ending_date %s", starting, ending)
	}
	r := Range{From: from}
	if hasEnd {
		r.To = end + DaySeconds
	}
	if !hasFrom {
		r.From = minDay
	}
	return r, nil
}

// minDay is the lower bound of an unbounded range.
const minDay = -1 << 62

// Get returns the stored rows of the days in r, ascending, and when they
// were last written (nil: no row).
func (s *Service) Get(ctx context.Context, r Range) ([]Day, *time.Time, error) {
	days, err := s.cfg.Store.ListMetricsDays(ctx, r.From, r.To)
	if err != nil {
		return nil, nil, err
	}
	var latest *time.Time
	for _, d := range days {
		if t := unixUTC(d.UpdatedAt); latest == nil || t.After(*latest) {
			latest = &t
		}
	}
	return days, latest, nil
}

// Status returns the refresh status row.
func (s *Service) Status(ctx context.Context) (RefreshState, error) {
	return s.cfg.Store.MetricsRefreshState(ctx)
}

// claim claims the refresh or answers ErrAlreadyRunning.
func (s *Service) claim(ctx context.Context) (token string, prev RefreshState, startedAt int64, err error) {
	token = uuid.NewString()
	now := s.cfg.Now()
	startedAt = now.Unix()
	ok, prev, err := s.cfg.Store.ClaimMetricsRefresh(ctx, token, startedAt, now.Add(-s.cfg.StaleAfter).Unix())
	if err != nil {
		return "", prev, 0, err
	}
	if !ok {
		return "", prev, 0, ErrAlreadyRunning
	}
	return token, prev, startedAt, nil
}

// Refresh claims the refresh and runs it: it recomputes the days changed
// since the previous refresh plus today, and returns their rows. While
// another refresh runs it answers ErrAlreadyRunning.
func (s *Service) Refresh(ctx context.Context) ([]Day, error) {
	token, prev, started, err := s.claim(ctx)
	if err != nil {
		return nil, err
	}
	return s.run(ctx, token, prev, started)
}

// RefreshBackground claims the refresh and runs it in the background;
// ErrAlreadyRunning while another runs.
func (s *Service) RefreshBackground(ctx context.Context) error {
	token, prev, started, err := s.claim(ctx)
	if err != nil {
		return err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.base, s.cfg.Timeout)
		defer cancel()
		if _, err := s.run(ctx, token, prev, started); err != nil {
			s.cfg.Logger.Warn("metrics: background refresh failed", "err", err)
		}
	}()
	return nil
}

// Tick is the periodic refresh (a job of the queue): a refresh already
// running elsewhere is not an error.
func (s *Service) Tick(ctx context.Context) error {
	_, err := s.Refresh(ctx)
	if errors.Is(err, ErrAlreadyRunning) {
		return nil
	}
	return err
}

// run computes and stores the days, then ends the claim.
func (s *Service) run(ctx context.Context, token string, prev RefreshState, started int64) (days []Day, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("metrics refresh panicked: %v", r)
		}
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		// The claim is ended even when ctx is done.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		owned, ferr := s.cfg.Store.FinishMetricsRefresh(fctx, token, s.cfg.Now().Unix(), msg, started)
		if err == nil && ferr != nil {
			err = ferr
		}
		if err == nil && !owned {
			s.cfg.Logger.Warn("metrics: the refresh's claim was taken over before it finished")
		}
	}()
	return s.compute(ctx, prev.Watermark, started)
}

// compute recomputes the days changed since watermark, plus today.
func (s *Service) compute(ctx context.Context, watermark, now int64) ([]Day, error) {
	changed, err := s.cfg.Store.MetricsChangedDays(ctx, watermark)
	if err != nil {
		return nil, err
	}
	// The days from the previous refresh's to today: a row computed while
	// its day was still running is computed again, and marked completed.
	today := DayStart(now)
	first := today
	if watermark > 0 {
		first = max(DayStart(watermark), today-maxCatchUpDays*DaySeconds)
	}
	for d := first; d <= today; d += DaySeconds {
		if !slices.Contains(changed, d) {
			changed = append(changed, d)
		}
	}
	slices.Sort(changed)
	rows := make([]Day, 0, len(changed))
	for _, d := range changed {
		agg, err := s.cfg.Store.MetricsAggregate(ctx, d, d+DaySeconds)
		if err != nil {
			return nil, err
		}
		rows = append(rows, Day{ID: time.Unix(d, 0).UTC().Format(dateLayout) + "_" + Period, Day: d, Period: Period,
			Aggregate: agg, Completed: d+DaySeconds <= now, CreatedAt: now, UpdatedAt: now})
	}
	if err := s.cfg.Store.UpsertMetricsDays(ctx, rows); err != nil {
		return nil, err
	}
	// The stored rows keep their first id and created_at.
	stored, err := s.cfg.Store.ListMetricsDays(ctx, changed[0], changed[len(changed)-1]+DaySeconds)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(stored, func(d Day) bool { return !slices.Contains(changed, d.Day) }), nil
}
