package sqlstore

// The schedules group's store (core/schedule.Store), written once for both
// dialects: schedules and their runs, and the compare-and-set that claims a
// due fire for exactly one replica.

import (
	"context"
	"fmt"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/schedule"
)

// scheduleColumns and scheduleRunColumns are the tables' columns, in scan
// order.
var (
	scheduleColumns = Columns{"id", "name", "description", "method", "endpoint", "payload", "cron_expr", "timezone",
		"timeout_seconds", "max_retries", "retry_delay_seconds", "enabled", "next_run_at", "created_at", "updated_at",
		"target_kind", "target_id", "user_id", "catch_up"}
	scheduleRunColumns = Columns{"id", "schedule_id", "attempt", "manual", "due_at", "triggered_at", "completed_at",
		"status", "status_code", "run_id", "session_id", "error", "input", "output", "requirements", "retry_at",
		"timeout_at", "created_at"}
)

// Schedules implements schedule.Store on a backend's schedules and
// schedule_runs tables. A backend embeds it in its store.
type Schedules struct{ db *DB }

// NewSchedules returns the schedules' store of db.
func NewSchedules(db *DB) *Schedules { return &Schedules{db: db} }

func (s *Schedules) scan(row Row, extra ...any) (*schedule.Schedule, error) {
	d := s.db.d
	var (
		sc   schedule.Schedule
		kind string
		f    Fields
	)
	f.Add(&sc.ID, &sc.Name, &sc.Description, &sc.Method, &sc.Endpoint)
	f.JSON(d, "payload", &sc.Payload)
	f.Add(&sc.CronExpr, &sc.Timezone, &sc.TimeoutSeconds, &sc.MaxRetries, &sc.RetryDelaySeconds, &sc.Enabled,
		&sc.NextRunAt, &sc.CreatedAt, &sc.UpdatedAt, &kind, &sc.Target.ID, &sc.UserID, &sc.CatchUp)
	if err := f.Scan(row, extra...); err != nil {
		return nil, err
	}
	sc.Target.Kind = core.Kind(kind)
	return &sc, nil
}

func (s *Schedules) scanRun(row Row, extra ...any) (*schedule.ScheduleRun, error) {
	d := s.db.d
	var (
		r schedule.ScheduleRun
		f Fields
	)
	f.Add(&r.ID, &r.ScheduleID, &r.Attempt, &r.Manual, &r.DueAt, &r.TriggeredAt, &r.CompletedAt, &r.Status,
		&r.StatusCode, &r.RunID, &r.SessionID, &r.Error)
	f.JSON(d, "input", &r.Input)
	f.JSON(d, "output", &r.Output)
	f.JSON(d, "requirements", &r.Requirements)
	f.Add(&r.RetryAt, &r.TimeoutAt, &r.CreatedAt)
	if err := f.Scan(row, extra...); err != nil {
		return nil, err
	}
	return &r, nil
}

// values are sc's column values, in scheduleColumns order.
func (s *Schedules) values(sc *schedule.Schedule) ([]any, error) {
	payload, err := EncodeJSON(s.db.d, "payload", sc.Payload)
	if err != nil {
		return nil, err
	}
	return []any{sc.ID, sc.Name, sc.Description, sc.Method, sc.Endpoint, payload, sc.CronExpr, sc.Timezone,
		sc.TimeoutSeconds, sc.MaxRetries, sc.RetryDelaySeconds, sc.Enabled, sc.NextRunAt, sc.CreatedAt, sc.UpdatedAt,
		string(sc.Target.Kind), sc.Target.ID, sc.UserID, sc.CatchUp}, nil
}

// runValues are r's column values, in scheduleRunColumns order.
func (s *Schedules) runValues(r *schedule.ScheduleRun) ([]any, error) {
	d := s.db.d
	in, err := EncodeJSON(d, "input", r.Input)
	if err != nil {
		return nil, err
	}
	out, err := EncodeJSON(d, "output", r.Output)
	if err != nil {
		return nil, err
	}
	reqs, err := EncodeJSON(d, "requirements", r.Requirements)
	if err != nil {
		return nil, err
	}
	return []any{r.ID, r.ScheduleID, r.Attempt, r.Manual, r.DueAt, r.TriggeredAt, r.CompletedAt, r.Status,
		r.StatusCode, r.RunID, r.SessionID, r.Error, in, out, reqs, r.RetryAt, r.TimeoutAt, r.CreatedAt}, nil
}

// CreateSchedule inserts sc; a taken name (or id) is core.ErrConflict.
func (s *Schedules) CreateSchedule(ctx context.Context, sc *schedule.Schedule) error {
	name := s.db.d.Name
	if sc == nil || sc.ID == "" {
		return invalidf("%s: create schedule: id is required", name)
	}
	vals, err := s.values(sc)
	if err != nil {
		return err
	}
	var n int64
	err = s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `INSERT INTO schedules (`+scheduleColumns.String()+`) VALUES (`+
			scheduleColumns.Placeholders()+`) ON CONFLICT DO NOTHING`, vals...)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: create schedule %q: %w", name, sc.ID, s.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("schedule %q (named %q) already exists: %w", sc.ID, sc.Name, core.ErrConflict)
	}
	return nil
}

// GetSchedule returns the schedule or core.ErrNotFound.
func (s *Schedules) GetSchedule(ctx context.Context, id string) (*schedule.Schedule, error) {
	var sc *schedule.Schedule
	err := s.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		sc, err = s.scan(q.QueryRow(ctx, `SELECT `+scheduleColumns.String()+` FROM schedules WHERE id = ?`, id))
		return err
	})
	if isNoRows(err) {
		return nil, fmt.Errorf("schedule %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get schedule %q: %w", s.db.d.Name, id, s.db.Err(ctx, err))
	}
	return sc, nil
}

// ListSchedules returns one page of the schedules matching p, oldest first.
func (s *Schedules) ListSchedules(ctx context.Context, p schedule.ListParams) ([]*schedule.Schedule, int, error) {
	var (
		conds []string
		args  []any
	)
	if p.UserID != "" {
		conds, args = append(conds, "user_id = ?"), append(args, p.UserID)
	}
	if p.Enabled != nil {
		conds, args = append(conds, "enabled = ?"), append(args, *p.Enabled)
	}
	if p.IDs != nil {
		cond, ids := s.db.d.InStrings("id", p.IDs)
		conds, args = append(conds, cond), append(args, ids...)
	}
	l := List{Columns: scheduleColumns.String(), From: "schedules", Where: Where(conds), Args: args,
		OrderBy: " ORDER BY seq ASC", Page: Page{Limit: p.Limit, Page: p.Page}}
	return collect(ctx, s.db, l, "list schedules", s.scan)
}

// UpdateSchedule writes every field of sc but id, user_id and created_at.
func (s *Schedules) UpdateSchedule(ctx context.Context, sc *schedule.Schedule) error {
	name := s.db.d.Name
	vals, err := s.values(sc)
	if err != nil {
		return err
	}
	var sets []string
	var args []any
	for i, c := range scheduleColumns {
		if c == "id" || c == "user_id" || c == "created_at" {
			continue
		}
		sets, args = append(sets, c+" = ?"), append(args, vals[i])
	}
	var n int64
	err = s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `UPDATE schedules SET `+Columns(sets).String()+` WHERE id = ?`, append(args, sc.ID)...)
		return err
	})
	if s.db.IsUnique(err) {
		return fmt.Errorf("a schedule named %q already exists: %w", sc.Name, core.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("%s: update schedule %q: %w", name, sc.ID, s.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("schedule %q: %w", sc.ID, core.ErrNotFound)
	}
	return nil
}

// DeleteSchedule deletes the schedule and its runs, in one transaction.
func (s *Schedules) DeleteSchedule(ctx context.Context, id string) error {
	var n int64
	err := s.db.Write(ctx, func(ctx context.Context, q Querier) error {
		var err error
		if n, err = q.Exec(ctx, `DELETE FROM schedules WHERE id = ?`, id); err != nil {
			return err
		}
		_, err = q.Exec(ctx, `DELETE FROM schedule_runs WHERE schedule_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: delete schedule %q: %w", s.db.d.Name, id, s.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("schedule %q: %w", id, core.ErrNotFound)
	}
	return nil
}

// DueSchedules returns up to limit enabled schedules due at or before now,
// the most overdue first.
func (s *Schedules) DueSchedules(ctx context.Context, now int64, limit int) ([]*schedule.Schedule, error) {
	var out []*schedule.Schedule
	err := s.db.View(ctx, func(ctx context.Context, q Querier) error {
		out = nil
		rows, err := q.Query(ctx, `SELECT `+scheduleColumns.String()+` FROM schedules
			WHERE enabled AND next_run_at > 0 AND next_run_at <= ? ORDER BY next_run_at, seq LIMIT ?`, now, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			sc, err := s.scan(rows)
			if err != nil {
				return err
			}
			out = append(out, sc)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("%s: due schedules: %w", s.db.d.Name, s.db.Err(ctx, err))
	}
	return out, nil
}

// errLost rolls back a claim that lost.
var errLost = fmt.Errorf("claim lost")

// ClaimFire moves next_run_at from due to next and inserts run, in one
// transaction; it reports whether it won.
func (s *Schedules) ClaimFire(ctx context.Context, scheduleID string, due, next int64, run *schedule.ScheduleRun) (bool, error) {
	var vals []any
	if run != nil {
		var err error
		if vals, err = s.runValues(run); err != nil {
			return false, err
		}
	}
	err := s.db.Write(ctx, func(ctx context.Context, q Querier) error {
		n, err := q.Exec(ctx, `UPDATE schedules SET next_run_at = ? WHERE id = ? AND next_run_at = ? AND enabled`,
			next, scheduleID, due)
		if err != nil {
			return err
		}
		if n != 1 {
			return errLost
		}
		if run == nil {
			return nil
		}
		return s.insertRun(ctx, q, vals)
	})
	switch {
	case err == errLost:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("%s: claim a fire of schedule %q: %w", s.db.d.Name, scheduleID, s.db.Err(ctx, err))
	}
	return true, nil
}

// insertRun inserts a schedule run; one that exists (its id, or its
// schedule's due time and attempt) is errLost.
func (s *Schedules) insertRun(ctx context.Context, q Querier, vals []any) error {
	n, err := q.Exec(ctx, `INSERT INTO schedule_runs (`+scheduleRunColumns.String()+`) VALUES (`+
		scheduleRunColumns.Placeholders()+`) ON CONFLICT DO NOTHING`, vals...)
	if err != nil {
		return err
	}
	if n != 1 {
		return errLost
	}
	return nil
}

// CreateScheduleRun inserts run; one that exists is core.ErrConflict.
func (s *Schedules) CreateScheduleRun(ctx context.Context, run *schedule.ScheduleRun) error {
	vals, err := s.runValues(run)
	if err != nil {
		return err
	}
	err = s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error { return s.insertRun(ctx, q, vals) })
	switch {
	case err == errLost:
		return fmt.Errorf("schedule run %q (attempt %d of the fire due at %d) already exists: %w", run.ID, run.Attempt, run.DueAt, core.ErrConflict)
	case err != nil:
		return fmt.Errorf("%s: create schedule run %q: %w", s.db.d.Name, run.ID, s.db.Err(ctx, err))
	}
	return nil
}

// GetScheduleRun returns the schedule run or core.ErrNotFound.
func (s *Schedules) GetScheduleRun(ctx context.Context, id string) (*schedule.ScheduleRun, error) {
	var r *schedule.ScheduleRun
	err := s.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		r, err = s.scanRun(q.QueryRow(ctx, `SELECT `+scheduleRunColumns.String()+` FROM schedule_runs WHERE id = ?`, id))
		return err
	})
	if isNoRows(err) {
		return nil, fmt.Errorf("schedule run %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get schedule run %q: %w", s.db.d.Name, id, s.db.Err(ctx, err))
	}
	return r, nil
}

// ListScheduleRuns returns one page of a schedule's runs, newest first.
func (s *Schedules) ListScheduleRuns(ctx context.Context, scheduleID string, limit, page int) ([]*schedule.ScheduleRun, int, error) {
	l := List{Columns: scheduleRunColumns.String(), From: "schedule_runs", Where: " WHERE schedule_id = ?",
		Args: []any{scheduleID}, OrderBy: " ORDER BY seq DESC", Page: Page{Limit: limit, Page: page}}
	return collect(ctx, s.db, l, "list schedule runs", s.scanRun)
}

// runsWhere returns up to limit schedule runs matching where, oldest first.
func (s *Schedules) runsWhere(ctx context.Context, what, where string, args ...any) ([]*schedule.ScheduleRun, error) {
	var out []*schedule.ScheduleRun
	err := s.db.View(ctx, func(ctx context.Context, q Querier) error {
		out = nil
		rows, err := q.Query(ctx, `SELECT `+scheduleRunColumns.String()+` FROM schedule_runs WHERE `+where+
			` ORDER BY seq LIMIT ?`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := s.scanRun(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s.db.d.Name, what, s.db.Err(ctx, err))
	}
	return out, nil
}

// ActiveScheduleRuns returns up to limit running or paused schedule runs.
func (s *Schedules) ActiveScheduleRuns(ctx context.Context, limit int) ([]*schedule.ScheduleRun, error) {
	return s.runsWhere(ctx, "active schedule runs", `status IN ('running', 'paused')`, limit)
}

// RetryableScheduleRuns returns up to limit schedule runs due for a retry.
func (s *Schedules) RetryableScheduleRuns(ctx context.Context, now int64, limit int) ([]*schedule.ScheduleRun, error) {
	return s.runsWhere(ctx, "retryable schedule runs", `retry_at > 0 AND retry_at <= ?`, now, limit)
}

// UpdateScheduleRun writes run's mutable fields if its status is still
// from.
func (s *Schedules) UpdateScheduleRun(ctx context.Context, run *schedule.ScheduleRun, from string) (bool, error) {
	d := s.db.d
	out, err := EncodeJSON(d, "output", run.Output)
	if err != nil {
		return false, err
	}
	reqs, err := EncodeJSON(d, "requirements", run.Requirements)
	if err != nil {
		return false, err
	}
	var n int64
	err = s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `UPDATE schedule_runs SET status = ?, triggered_at = ?, completed_at = ?, status_code = ?,
			run_id = ?, session_id = ?, error = ?, output = ?, requirements = ?, retry_at = ?, timeout_at = ?
			WHERE id = ? AND status = ?`,
			run.Status, run.TriggeredAt, run.CompletedAt, run.StatusCode, run.RunID, run.SessionID, run.Error,
			out, reqs, run.RetryAt, run.TimeoutAt, run.ID, from)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("%s: update schedule run %q: %w", d.Name, run.ID, s.db.Err(ctx, err))
	}
	return n == 1, nil
}

// ClaimRetry clears failedID's retry_at and inserts next (nil: none), in
// one transaction, if retry_at was still set.
func (s *Schedules) ClaimRetry(ctx context.Context, failedID string, next *schedule.ScheduleRun) (bool, error) {
	var vals []any
	if next != nil {
		var err error
		if vals, err = s.runValues(next); err != nil {
			return false, err
		}
	}
	err := s.db.Write(ctx, func(ctx context.Context, q Querier) error {
		n, err := q.Exec(ctx, `UPDATE schedule_runs SET retry_at = 0 WHERE id = ? AND retry_at > 0`, failedID)
		if err != nil {
			return err
		}
		if n != 1 {
			return errLost
		}
		if next == nil {
			return nil
		}
		return s.insertRun(ctx, q, vals)
	})
	switch {
	case err == errLost:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("%s: claim a retry of schedule run %q: %w", s.db.d.Name, failedID, s.db.Err(ctx, err))
	}
	return true, nil
}

var _ schedule.Store = (*Schedules)(nil)
