package sqlstore

// The metrics group's store (core/metric.Store), written once for both
// dialects: the aggregate queries over the runs and sessions tables, the
// daily rows (metrics_days) and the refresh status row (metrics_refresh),
// whose conditional update is the claim that keeps one refresh running at
// a time across replicas.

import (
	"context"
	"fmt"
	"strconv"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/metric"
)

// metricsDayColumns are metrics_days' columns, in scan order.
var metricsDayColumns = Columns{"id", "day", "aggregation_period", "agent_runs_count", "agent_sessions_count",
	"team_runs_count", "team_sessions_count", "workflow_runs_count", "workflow_sessions_count", "users_count",
	"token_metrics", "model_metrics", "completed", "created_at", "updated_at"}

// refreshRow is the id of the refresh status row (migration 00013).
const refreshRow = "daily"

// Metrics implements metric.Store. A backend embeds it in its store.
type Metrics struct{ db *DB }

// NewMetrics returns the metrics' store of db.
func NewMetrics(db *DB) *Metrics { return &Metrics{db: db} }

// jsonInt is the sum-able integer at key of the JSON object in col: NULL
// when col has no number there.
func jsonInt(d Dialect, col, key string) string {
	if d.Engine == Postgres {
		return "CASE WHEN jsonb_typeof(" + col + "->'" + key + "') = 'number' THEN CAST(" + col + "->>'" + key + "' AS NUMERIC) END"
	}
	return "CASE WHEN json_type(" + col + ", '$." + key + "') IN ('integer', 'real') THEN json_extract(" + col + ", '$." + key + "') END"
}

// sumInt is SUM(expr) as a 64-bit integer, 0 for no row.
func sumInt(expr string) string { return "CAST(COALESCE(SUM(" + expr + "), 0) AS BIGINT)" }

// MetricsAggregate adds up the runs and sessions created in [from, to).
func (s *Metrics) MetricsAggregate(ctx context.Context, from, to int64) (metric.Aggregate, error) {
	d := s.db.d
	var a metric.Aggregate
	runs := sumInt("CASE WHEN parent_run_id = '' AND team_id = '' AND workflow_id = '' THEN 1 ELSE 0 END") + ", " +
		sumInt("CASE WHEN parent_run_id = '' AND team_id <> '' THEN 1 ELSE 0 END") + ", " +
		sumInt("CASE WHEN parent_run_id = '' AND team_id = '' AND workflow_id <> '' THEN 1 ELSE 0 END")
	for _, k := range metric.TokenKeys {
		runs += ", " + sumInt(jsonInt(d, "metrics", k))
	}
	err := s.db.View(ctx, func(ctx context.Context, q Querier) error {
		a = metric.Aggregate{}
		dest := []any{&a.AgentRuns, &a.TeamRuns, &a.WorkflowRuns}
		for _, p := range a.Tokens.Fields() {
			dest = append(dest, p)
		}
		if err := q.QueryRow(ctx, `SELECT `+runs+` FROM runs WHERE created_at >= ? AND created_at < ?`, from, to).Scan(dest...); err != nil {
			return fmt.Errorf("runs: %w", err)
		}
		rows, err := q.Query(ctx, `SELECT session_type, COUNT(*) FROM sessions WHERE created_at >= ? AND created_at < ? GROUP BY session_type`, from, to)
		if err != nil {
			return fmt.Errorf("sessions: %w", err)
		}
		for rows.Next() {
			var (
				typ string
				n   int64
			)
			if err := rows.Scan(&typ, &n); err != nil {
				rows.Close()
				return err
			}
			switch core.SessionType(typ) {
			case core.SessionTeam:
				a.TeamSessions += n
			case core.SessionWorkflow:
				a.WorkflowSessions += n
			default:
				a.AgentSessions += n
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT user_id FROM runs WHERE created_at >= ? AND created_at < ? AND user_id <> ''
			UNION SELECT user_id FROM sessions WHERE created_at >= ? AND created_at < ? AND user_id <> '') u`, from, to, from, to).Scan(&a.Users); err != nil {
			return fmt.Errorf("users: %w", err)
		}
		rows, err = q.Query(ctx, `SELECT model, model_provider, COUNT(*) FROM runs WHERE created_at >= ? AND created_at < ? AND model <> ''
			GROUP BY model, model_provider ORDER BY COUNT(*) DESC, `+d.ByteOrder("model")+`, `+d.ByteOrder("model_provider"), from, to)
		if err != nil {
			return fmt.Errorf("models: %w", err)
		}
		defer rows.Close()
		a.Models = []metric.MetricsModelCount{}
		for rows.Next() {
			var m metric.MetricsModelCount
			if err := rows.Scan(&m.ModelID, &m.ModelProvider, &m.Count); err != nil {
				return err
			}
			a.Models = append(a.Models, m)
		}
		return rows.Err()
	})
	if err != nil {
		return metric.Aggregate{}, fmt.Errorf("%s: metrics aggregate: %w", d.Name, s.db.Err(ctx, err))
	}
	return a, nil
}

// MetricsChangedDays returns the UTC days of the runs and sessions created
// or updated at or after since, ascending.
func (s *Metrics) MetricsChangedDays(ctx context.Context, since int64) ([]int64, error) {
	day := "created_at - (created_at % " + strconv.Itoa(metric.DaySeconds) + ")"
	var out []int64
	err := s.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		out = nil
		rows, err := q.Query(ctx, `SELECT d FROM (SELECT `+day+` AS d FROM runs WHERE updated_at >= ? OR created_at >= ?
			UNION SELECT `+day+` AS d FROM sessions WHERE updated_at >= ? OR created_at >= ?) x ORDER BY d`, since, since, since, since)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d int64
			if err := rows.Scan(&d); err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("%s: metrics changed days: %w", s.db.d.Name, s.db.Err(ctx, err))
	}
	return out, nil
}

// UpsertMetricsDays writes the rows in one transaction.
func (s *Metrics) UpsertMetricsDays(ctx context.Context, days []metric.Day) error {
	d := s.db.d
	type enc struct{ tokens, models any }
	encs := make([]enc, len(days))
	for i, day := range days {
		t, err := EncodeJSON(d, "token_metrics", day.Aggregate.Tokens)
		if err != nil {
			return err
		}
		models := day.Aggregate.Models
		if models == nil {
			models = []metric.MetricsModelCount{}
		}
		m, err := EncodeJSON(d, "model_metrics", models)
		if err != nil {
			return err
		}
		encs[i] = enc{t, m}
	}
	up := Upsert{Table: "metrics_days", Columns: metricsDayColumns, Key: []string{"day", "aggregation_period"},
		Update: []string{"agent_runs_count", "agent_sessions_count", "team_runs_count", "team_sessions_count",
			"workflow_runs_count", "workflow_sessions_count", "users_count", "token_metrics", "model_metrics", "completed", "updated_at"}}.SQL()
	err := s.db.Write(ctx, func(ctx context.Context, q Querier) error {
		for i, day := range days {
			a := day.Aggregate
			period := day.Period
			if period == "" {
				period = metric.Period
			}
			if _, err := q.Exec(ctx, up, day.ID, day.Day, period, a.AgentRuns, a.AgentSessions, a.TeamRuns, a.TeamSessions,
				a.WorkflowRuns, a.WorkflowSessions, a.Users, encs[i].tokens, encs[i].models, day.Completed, day.CreatedAt, day.UpdatedAt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: upsert metrics days: %w", d.Name, s.db.Err(ctx, err))
	}
	return nil
}

// ListMetricsDays returns the daily rows of the days in [from, to) (to <=
// 0: unbounded), ascending.
func (s *Metrics) ListMetricsDays(ctx context.Context, from, to int64) ([]metric.Day, error) {
	d := s.db.d
	query := `SELECT ` + metricsDayColumns.String() + ` FROM metrics_days WHERE aggregation_period = ? AND day >= ?`
	args := []any{metric.Period, from}
	if to > 0 {
		query, args = query+` AND day < ?`, append(args, to)
	}
	query += ` ORDER BY day`
	var out []metric.Day
	err := s.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		out = []metric.Day{}
		rows, err := q.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				day metric.Day
				f   Fields
			)
			a := &day.Aggregate
			f.Add(&day.ID, &day.Day, &day.Period, &a.AgentRuns, &a.AgentSessions, &a.TeamRuns, &a.TeamSessions,
				&a.WorkflowRuns, &a.WorkflowSessions, &a.Users)
			f.JSON(d, "token_metrics", &a.Tokens)
			f.JSON(d, "model_metrics", &a.Models)
			f.Add(&day.Completed, &day.CreatedAt, &day.UpdatedAt)
			if err := f.Scan(rows); err != nil {
				return err
			}
			if a.Models == nil {
				a.Models = []metric.MetricsModelCount{}
			}
			out = append(out, day)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("%s: list metrics days: %w", d.Name, s.db.Err(ctx, err))
	}
	return out, nil
}

// ClaimMetricsRefresh marks the refresh running for token unless one
// started after staleBefore is running: one conditional UPDATE, so of two
// concurrent claims (on any replicas) one wins.
func (s *Metrics) ClaimMetricsRefresh(ctx context.Context, token string, now, staleBefore int64) (bool, metric.RefreshState, error) {
	var (
		st      metric.RefreshState
		claimed bool
	)
	err := s.db.Write(ctx, func(ctx context.Context, q Querier) error {
		st, claimed = metric.RefreshState{}, false
		err := q.QueryRow(ctx, `UPDATE metrics_refresh SET status = ?, token = ?, started_at = ?, finished_at = 0, error = ''
			WHERE id = ? AND (status <> ? OR started_at < ?) RETURNING status, started_at, finished_at, error, watermark, token`,
			metric.StatusRunning, token, now, refreshRow, metric.StatusRunning, staleBefore).
			Scan(&st.Status, &st.StartedAt, &st.FinishedAt, &st.Error, &st.Watermark, &st.Token)
		if isNoRows(err) {
			return nil
		}
		claimed = err == nil
		return err
	})
	if err != nil {
		return false, st, fmt.Errorf("%s: claim metrics refresh: %w", s.db.d.Name, s.db.Err(ctx, err))
	}
	if !claimed {
		st, err = s.MetricsRefreshState(ctx)
		return false, st, err
	}
	return true, st, nil
}

// FinishMetricsRefresh ends token's claim.
func (s *Metrics) FinishMetricsRefresh(ctx context.Context, token string, finishedAt int64, errMsg string, watermark int64) (bool, error) {
	var n int64
	err := s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		if errMsg == "" {
			n, err = q.Exec(ctx, `UPDATE metrics_refresh SET status = ?, finished_at = ?, error = '', token = '', watermark = ?
				WHERE id = ? AND token = ?`, metric.StatusCompleted, finishedAt, watermark, refreshRow, token)
		} else {
			n, err = q.Exec(ctx, `UPDATE metrics_refresh SET status = ?, finished_at = ?, error = ?, token = ''
				WHERE id = ? AND token = ?`, metric.StatusFailed, finishedAt, errMsg, refreshRow, token)
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("%s: finish metrics refresh: %w", s.db.d.Name, s.db.Err(ctx, err))
	}
	return n == 1, nil
}

// MetricsRefreshState returns the refresh status row.
func (s *Metrics) MetricsRefreshState(ctx context.Context) (metric.RefreshState, error) {
	var st metric.RefreshState
	err := s.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		return q.QueryRow(ctx, `SELECT status, started_at, finished_at, error, watermark, token FROM metrics_refresh WHERE id = ?`, refreshRow).
			Scan(&st.Status, &st.StartedAt, &st.FinishedAt, &st.Error, &st.Watermark, &st.Token)
	})
	if isNoRows(err) {
		return st, fmt.Errorf("%s: the metrics refresh row is missing (migration 00013): %w", s.db.d.Name, core.ErrUnavailable)
	}
	if err != nil {
		return st, fmt.Errorf("%s: metrics refresh state: %w", s.db.d.Name, s.db.Err(ctx, err))
	}
	return st, nil
}

var _ metric.Store = (*Metrics)(nil)
