package sqlstore

// The learnings group's store (core/learning.Store), written once for both
// dialects: learning records, their filtered lists, the users owning them.

import (
	"context"
	"fmt"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/learning"
)

// learningColumns are the learnings table's columns, in scan order.
var learningColumns = Columns{"id", "learning_type", "namespace", "user_id", "agent_id", "team_id", "session_id",
	"entity_id", "entity_type", "content", "metadata", "created_at", "updated_at"}

// Learnings implements learning.Store on a backend's learnings table. A
// backend embeds it in its store.
type Learnings struct{ db *DB }

// NewLearnings returns the learnings' store of db.
func NewLearnings(db *DB) *Learnings { return &Learnings{db: db} }

func (s *Learnings) scan(row Row, extra ...any) (learning.Learning, error) {
	d := s.db.d
	var (
		l learning.Learning
		f Fields
	)
	f.Add(&l.ID, &l.LearningType, &l.Namespace, &l.UserID, &l.AgentID, &l.TeamID, &l.SessionID, &l.EntityID, &l.EntityType)
	f.JSON(d, "content", &l.Content)
	f.JSON(d, "metadata", &l.Metadata)
	f.Add(&l.CreatedAt, &l.UpdatedAt)
	if err := f.Scan(row, extra...); err != nil {
		return l, err
	}
	if l.Content == nil {
		l.Content = map[string]any{}
	}
	return l, nil
}

// content encodes a learning's content (never NULL: {} for none).
func (s *Learnings) content(l *learning.Learning) (any, error) {
	c := l.Content
	if c == nil {
		c = map[string]any{}
	}
	return EncodeJSON(s.db.d, "content", c)
}

// CreateLearning inserts l; a taken id is core.ErrConflict.
func (s *Learnings) CreateLearning(ctx context.Context, l *learning.Learning) error {
	name := s.db.d.Name
	if l == nil || l.ID == "" {
		return invalidf("%s: create learning: id is required", name)
	}
	content, err := s.content(l)
	if err != nil {
		return err
	}
	meta, err := EncodeJSON(s.db.d, "metadata", l.Metadata)
	if err != nil {
		return err
	}
	var n int64
	err = s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `INSERT INTO learnings (`+learningColumns.String()+`) VALUES (`+
			learningColumns.Placeholders()+`) ON CONFLICT DO NOTHING`,
			l.ID, l.LearningType, l.Namespace, l.UserID, l.AgentID, l.TeamID, l.SessionID, l.EntityID, l.EntityType,
			content, meta, l.CreatedAt, l.UpdatedAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: create learning %q: %w", name, l.ID, s.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("learning %q already exists: %w", l.ID, core.ErrConflict)
	}
	return nil
}

// GetLearning returns the learning or core.ErrNotFound.
func (s *Learnings) GetLearning(ctx context.Context, id string) (*learning.Learning, error) {
	var l learning.Learning
	err := s.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		l, err = s.scan(q.QueryRow(ctx, `SELECT `+learningColumns.String()+` FROM learnings WHERE id = ?`, id))
		return err
	})
	if isNoRows(err) {
		return nil, fmt.Errorf("learning %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get learning %q: %w", s.db.d.Name, id, s.db.Err(ctx, err))
	}
	return &l, nil
}

// UpdateLearning replaces content, metadata and updated_at.
func (s *Learnings) UpdateLearning(ctx context.Context, l *learning.Learning) error {
	content, err := s.content(l)
	if err != nil {
		return err
	}
	meta, err := EncodeJSON(s.db.d, "metadata", l.Metadata)
	if err != nil {
		return err
	}
	var n int64
	err = s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `UPDATE learnings SET content = ?, metadata = ?, updated_at = ? WHERE id = ?`,
			content, meta, l.UpdatedAt, l.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: update learning %q: %w", s.db.d.Name, l.ID, s.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("learning %q: %w", l.ID, core.ErrNotFound)
	}
	return nil
}

// DeleteLearning deletes the learning or answers core.ErrNotFound.
func (s *Learnings) DeleteLearning(ctx context.Context, id string) error {
	var n int64
	err := s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `DELETE FROM learnings WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: delete learning %q: %w", s.db.d.Name, id, s.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("learning %q: %w", id, core.ErrNotFound)
	}
	return nil
}

// learningSort and learningUserSort map the sort keys to ORDER BY keys.
var (
	learningSort = Sort{learning.SortUpdatedAt: "updated_at", learning.SortCreatedAt: "created_at"}
)

func learningUserSort(d Dialect) Sort {
	return Sort{learning.SortLastUpdated: "last_updated", learning.SortUserID: d.ByteOrder("user_id")}
}

// ListLearnings returns one page of the learnings f selects (Limit <= 0:
// every one), ordered by f's key, ties by insertion order.
func (s *Learnings) ListLearnings(ctx context.Context, f learning.Filter) ([]learning.Learning, int, error) {
	var (
		conds []string
		args  []any
	)
	for _, c := range []struct{ col, v string }{{"learning_type", f.LearningType}, {"agent_id", f.AgentID},
		{"team_id", f.TeamID}, {"session_id", f.SessionID}, {"namespace", f.Namespace}, {"entity_id", f.EntityID},
		{"entity_type", f.EntityType}} {
		if c.v != "" {
			conds, args = append(conds, c.col+" = ?"), append(args, c.v)
		}
	}
	switch {
	case f.UserID != "" && f.WithUnowned:
		conds, args = append(conds, "(user_id = ? OR user_id = '')"), append(args, f.UserID)
	case f.UserID != "":
		conds, args = append(conds, "user_id = ?"), append(args, f.UserID)
	}
	by := f.SortBy
	if by == "" {
		by = learning.SortUpdatedAt
	}
	order, err := learningSort.OrderBy(by, f.SortOrder == learning.OrderAsc, "seq")
	if err != nil {
		return nil, 0, err
	}
	l := List{Columns: learningColumns.String(), From: "learnings", Where: Where(conds), Args: args, OrderBy: order,
		Page: Page{Limit: f.Limit, Page: f.Page}}
	return collect(ctx, s.db, l, "list learnings", s.scan)
}

// LearningUsers returns one page of the users owning learnings, with their
// count and last update, ordered by f's key, ties by user id.
func (s *Learnings) LearningUsers(ctx context.Context, f learning.UsersFilter) ([]learning.LearningUserStats, int, error) {
	conds, args := []string{"user_id <> ''"}, []any{}
	if f.LearningType != "" {
		conds, args = append(conds, "learning_type = ?"), append(args, f.LearningType)
	}
	if f.UserID != "" {
		conds, args = append(conds, "user_id = ?"), append(args, f.UserID)
	}
	by := f.SortBy
	if by == "" {
		by = learning.SortLastUpdated
	}
	d := s.db.d
	order, err := learningUserSort(d).OrderBy(by, f.SortOrder == learning.OrderAsc, d.ByteOrder("user_id"))
	if err != nil {
		return nil, 0, err
	}
	l := List{Columns: "user_id, total, last_updated",
		From: "(SELECT user_id, count(*) AS total, max(updated_at) AS last_updated FROM learnings" + Where(conds) +
			" GROUP BY user_id) u",
		Args: args, OrderBy: order, Page: Page{Limit: f.Limit, Page: f.Page}}
	return collect(ctx, s.db, l, "learning users", func(row Row, extra ...any) (learning.LearningUserStats, error) {
		var u learning.LearningUserStats
		var total int64
		err := row.Scan(append([]any{&u.UserID, &total, &u.LastLearningUpdatedAt}, extra...)...)
		u.TotalLearnings = int(total)
		return u, err
	})
}

// DeleteUserLearnings deletes userID's learnings (of learningType, when
// set) and reports how many.
func (s *Learnings) DeleteUserLearnings(ctx context.Context, userID, learningType string) (int, error) {
	if userID == "" {
		return 0, invalidf("%s: delete user learnings: user id is required", s.db.d.Name)
	}
	q := `DELETE FROM learnings WHERE user_id = ?`
	args := []any{userID}
	if learningType != "" {
		q, args = q+` AND learning_type = ?`, append(args, learningType)
	}
	var n int64
	err := s.db.WriteStmt(ctx, func(ctx context.Context, qr Querier) error {
		var err error
		n, err = qr.Exec(ctx, q, args...)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: delete learnings of user %q: %w", s.db.d.Name, userID, s.db.Err(ctx, err))
	}
	return int(n), nil
}

var _ learning.Store = (*Learnings)(nil)
