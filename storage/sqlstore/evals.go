package sqlstore

// The evals group's store (core/eval.Store), written once for both
// dialects: eval runs, their outcome, their filtered lists.

import (
	"context"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/eval"
)

// evalColumns are the eval_runs table's columns, in scan order.
var evalColumns = Columns{"id", "agent_id", "team_id", "workflow_id", "model_id", "model_provider", "name",
	"evaluated_component_name", "eval_type", "eval_data", "eval_input", "user_id", "status", "passed", "error", "run_ids",
	"created_at", "updated_at"}

// Evals implements eval.Store on a backend's eval_runs table. A backend
// embeds it in its store.
type Evals struct{ db *DB }

// NewEvals returns the evals' store of db.
func NewEvals(db *DB) *Evals { return &Evals{db: db} }

func (s *Evals) scan(row Row, extra ...any) (eval.EvalRun, error) {
	d := s.db.d
	var (
		e eval.EvalRun
		f Fields
	)
	f.Add(&e.ID, &e.AgentID, &e.TeamID, &e.WorkflowID, &e.ModelID, &e.ModelProvider, &e.Name, &e.EvaluatedComponentName, &e.EvalType)
	f.JSON(d, "eval_data", &e.EvalData)
	f.JSON(d, "eval_input", &e.EvalInput)
	f.Add(&e.UserID, &e.Status, &e.Passed, &e.Error)
	f.Strings(d, "run_ids", &e.RunIDs)
	f.Add(&e.CreatedAt, &e.UpdatedAt)
	if err := f.Scan(row, extra...); err != nil {
		return e, err
	}
	if e.EvalData == nil {
		e.EvalData = map[string]any{}
	}
	return e, nil
}

// outcome encodes an eval run's eval_data (never NULL), passed (NULL
// until completed) and run_ids.
func (s *Evals) outcome(e *eval.EvalRun) (data, passed, runs any, err error) {
	d := s.db.d
	m := e.EvalData
	if m == nil {
		m = map[string]any{}
	}
	if data, err = EncodeJSON(d, "eval_data", m); err != nil {
		return
	}
	if e.Passed != nil {
		passed = *e.Passed
	}
	ids := e.RunIDs
	if ids == nil {
		ids = []string{}
	}
	runs, err = EncodeStrings(d, "run_ids", ids)
	return
}

// CreateEvalRun inserts e; a taken id is core.ErrConflict.
func (s *Evals) CreateEvalRun(ctx context.Context, e *eval.EvalRun) error {
	name := s.db.d.Name
	if e == nil || e.ID == "" {
		return invalidf("%s: create eval run: id is required", name)
	}
	data, passed, runs, err := s.outcome(e)
	if err != nil {
		return err
	}
	input, err := EncodeJSON(s.db.d, "eval_input", e.EvalInput)
	if err != nil {
		return err
	}
	var n int64
	err = s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `INSERT INTO eval_runs (`+evalColumns.String()+`) VALUES (`+evalColumns.Placeholders()+`) ON CONFLICT DO NOTHING`,
			e.ID, e.AgentID, e.TeamID, e.WorkflowID, e.ModelID, e.ModelProvider, e.Name, e.EvaluatedComponentName, e.EvalType,
			data, input, e.UserID, e.Status, passed, e.Error, runs, e.CreatedAt, e.UpdatedAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: create eval run %q: %w", name, e.ID, s.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("eval run %q already exists: %w", e.ID, core.ErrConflict)
	}
	return nil
}

// GetEvalRun returns the eval run or core.ErrNotFound.
func (s *Evals) GetEvalRun(ctx context.Context, id string) (*eval.EvalRun, error) {
	var e eval.EvalRun
	err := s.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		e, err = s.scan(q.QueryRow(ctx, `SELECT `+evalColumns.String()+` FROM eval_runs WHERE id = ?`, id))
		return err
	})
	if isNoRows(err) {
		return nil, fmt.Errorf("eval run %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get eval run %q: %w", s.db.d.Name, id, s.db.Err(ctx, err))
	}
	return &e, nil
}

// exec runs one write and answers core.ErrNotFound when it changed no row.
func (s *Evals) exec(ctx context.Context, what, id, query string, args ...any) error {
	var n int64
	err := s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, query, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %s %q: %w", s.db.d.Name, what, id, s.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("eval run %q: %w", id, core.ErrNotFound)
	}
	return nil
}

// RenameEvalRun sets the name and updated_at.
func (s *Evals) RenameEvalRun(ctx context.Context, id, name string, updatedAt int64) error {
	return s.exec(ctx, "rename eval run", id, `UPDATE eval_runs SET name = ?, updated_at = ? WHERE id = ?`, name, updatedAt, id)
}

// SaveEvalResult replaces the outcome fields (never the name).
func (s *Evals) SaveEvalResult(ctx context.Context, e *eval.EvalRun) error {
	data, passed, runs, err := s.outcome(e)
	if err != nil {
		return err
	}
	return s.exec(ctx, "save eval result", e.ID, `UPDATE eval_runs SET status = ?, passed = ?, error = ?, eval_data = ?, run_ids = ?, `+
		`model_id = ?, model_provider = ?, updated_at = ? WHERE id = ?`,
		e.Status, passed, e.Error, data, runs, e.ModelID, e.ModelProvider, e.UpdatedAt, e.ID)
}

// DeleteEvalRuns deletes the eval runs of ids (userID's only, when set).
func (s *Evals) DeleteEvalRuns(ctx context.Context, ids []string, userID string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	args := make([]any, 0, len(ids)+1)
	for _, id := range ids {
		args = append(args, id)
	}
	q := `DELETE FROM eval_runs WHERE id IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + `)`
	if userID != "" {
		q, args = q+` AND user_id = ?`, append(args, userID)
	}
	var n int64
	err := s.db.WriteStmt(ctx, func(ctx context.Context, qr Querier) error {
		var err error
		n, err = qr.Exec(ctx, q, args...)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: delete eval runs: %w", s.db.d.Name, s.db.Err(ctx, err))
	}
	return int(n), nil
}

// evalSort maps the sort keys to ORDER BY keys.
func evalSort(d Dialect) Sort {
	return Sort{eval.SortCreatedAt: "created_at", eval.SortUpdatedAt: "updated_at", eval.SortName: d.ByteOrder("name")}
}

// ListEvalRuns returns one page of the eval runs f selects (Limit <= 0:
// every one), ordered by f's key, ties by insertion order.
func (s *Evals) ListEvalRuns(ctx context.Context, f eval.Filter) ([]eval.EvalRun, int, error) {
	var (
		conds []string
		args  []any
	)
	for _, c := range []struct{ col, v string }{{"agent_id", f.AgentID}, {"team_id", f.TeamID}, {"workflow_id", f.WorkflowID},
		{"model_id", f.ModelID}, {"user_id", f.UserID}} {
		if c.v != "" {
			conds, args = append(conds, c.col+" = ?"), append(args, c.v)
		}
	}
	switch core.Kind(f.Kind) {
	case "":
	case core.KindAgent:
		conds = append(conds, "agent_id <> ''")
	case core.KindTeam:
		conds = append(conds, "team_id <> ''")
	case core.KindWorkflow:
		conds = append(conds, "workflow_id <> ''")
	default:
		return nil, 0, invalidf("unknown eval filter type %q", f.Kind)
	}
	if len(f.EvalTypes) > 0 {
		conds = append(conds, "eval_type IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.EvalTypes)), ", ")+")")
		for _, t := range f.EvalTypes {
			args = append(args, t)
		}
	}
	by := f.SortBy
	if by == "" {
		by = eval.SortCreatedAt
	}
	order, err := evalSort(s.db.d).OrderBy(by, f.SortOrder == eval.OrderAsc, "seq")
	if err != nil {
		return nil, 0, err
	}
	l := List{Columns: evalColumns.String(), From: "eval_runs", Where: Where(conds), Args: args, OrderBy: order,
		Page: Page{Limit: f.Limit, Page: f.Page}}
	return collect(ctx, s.db, l, "list eval runs", s.scan)
}

var _ eval.Store = (*Evals)(nil)
