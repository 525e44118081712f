package sqlstore

// The memories group's store (core/memory.Store), written once for both
// dialects; only the full-text match (FTS5 / tsvector) and the JSON topics
// go through dialect hooks (Dialect.FullText, JSONHasAny, JSONElements).

import (
	"context"
	"fmt"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/memory"
)

// memoryColumns are the memories table's columns, in scan order.
var memoryColumns = Columns{"memory_id", "memory", "topics", "user_id", "agent_id", "team_id", "input", "feedback",
	"created_at", "updated_at"}

// memoryFTS is the memories' full-text index (migration 00009).
var memoryFTS = FullTextIndex{Tables: []string{"memories_fts", "memories_fts_raw"}, Rowid: "seq",
	Vector: "search_tsv", Configs: []string{"english", "simple"}}

// memorySort is the whitelist of memory sort keys.
var memorySort = Sort{"updated_at": "updated_at", "created_at": "created_at"}

// defaultMemoryLimit is a list's page size when the filter gives none.
const defaultMemoryLimit = 20

// Memories implements memory.Store on a backend's memories table. A
// backend embeds it in its store.
type Memories struct{ db *DB }

// NewMemories returns the memories' store of db.
func NewMemories(db *DB) *Memories { return &Memories{db: db} }

func (s *Memories) scan(row Row, extra ...any) (memory.Memory, error) {
	var (
		m memory.Memory
		f Fields
	)
	f.Add(&m.ID, &m.Memory)
	f.JSON(s.db.d, "topics", &m.Topics)
	f.Add(&m.UserID, &m.AgentID, &m.TeamID, &m.Input, &m.Feedback, &m.CreatedAt, &m.UpdatedAt)
	if err := f.Scan(row, extra...); err != nil {
		return m, err
	}
	if m.Topics == nil {
		m.Topics = []string{}
	}
	return m, nil
}

// topics encodes a memory's topics (never NULL: none is []).
func (s *Memories) topics(t []string) (any, error) {
	if t == nil {
		t = []string{}
	}
	return EncodeJSON(s.db.d, "topics", t)
}

// values are m's column values, in memoryColumns order.
func (s *Memories) values(m *memory.Memory) ([]any, error) {
	topics, err := s.topics(m.Topics)
	if err != nil {
		return nil, err
	}
	return []any{m.ID, m.Memory, topics, m.UserID, m.AgentID, m.TeamID, m.Input, m.Feedback, m.CreatedAt, m.UpdatedAt}, nil
}

// insertMemory inserts one memory unless its id is taken.
var insertMemory = `INSERT INTO memories (` + memoryColumns.String() + `) VALUES (` + memoryColumns.Placeholders() +
	`) ON CONFLICT DO NOTHING`

// CreateMemory inserts m; a taken id is core.ErrConflict.
func (s *Memories) CreateMemory(ctx context.Context, m *memory.Memory) error {
	name := s.db.d.Name
	if m == nil || m.ID == "" {
		return invalidf("%s: create memory: memory_id is required", name)
	}
	vals, err := s.values(m)
	if err != nil {
		return err
	}
	var n int64
	err = s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, insertMemory, vals...)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: create memory %q: %w", name, m.ID, s.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("memory %q already exists: %w", m.ID, core.ErrConflict)
	}
	return nil
}

// GetMemory returns the memory or core.ErrNotFound.
func (s *Memories) GetMemory(ctx context.Context, id string) (*memory.Memory, error) {
	var m memory.Memory
	err := s.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		m, err = s.scan(q.QueryRow(ctx, `SELECT `+memoryColumns.String()+` FROM memories WHERE memory_id = ?`, id))
		return err
	})
	if isNoRows(err) {
		return nil, fmt.Errorf("memory %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get memory %q: %w", s.db.d.Name, id, s.db.Err(ctx, err))
	}
	return &m, nil
}

// UpdateMemory writes m's text, topics, input, feedback and updated_at.
func (s *Memories) UpdateMemory(ctx context.Context, m *memory.Memory) error {
	name := s.db.d.Name
	topics, err := s.topics(m.Topics)
	if err != nil {
		return err
	}
	var n int64
	err = s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `UPDATE memories SET memory = ?, topics = ?, input = ?, feedback = ?, updated_at = ?
			WHERE memory_id = ?`, m.Memory, topics, m.Input, m.Feedback, m.UpdatedAt, m.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: update memory %q: %w", name, m.ID, s.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("memory %q: %w", m.ID, core.ErrNotFound)
	}
	return nil
}

// DeleteMemories deletes the memories with those ids (of userID only, when
// set) and reports how many.
func (s *Memories) DeleteMemories(ctx context.Context, userID string, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	in, args := s.db.d.InStrings("memory_id", ids)
	where := in
	if userID != "" {
		where, args = where+" AND user_id = ?", append(args, userID)
	}
	var n int64
	err := s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `DELETE FROM memories WHERE `+where, args...)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: delete memories: %w", s.db.d.Name, s.db.Err(ctx, err))
	}
	return int(n), nil
}

// ListMemories returns one page of the memories f selects and their total.
// Limit 0 is a page of 20; a negative Limit lists every memory.
func (s *Memories) ListMemories(ctx context.Context, f memory.Filter) ([]memory.Memory, int, error) {
	d := s.db.d
	var (
		conds []string
		args  []any
	)
	for _, c := range []struct{ col, v string }{{"user_id", f.UserID}, {"agent_id", f.AgentID}, {"team_id", f.TeamID}} {
		if c.v != "" {
			conds, args = append(conds, c.col+" = ?"), append(args, c.v)
		}
	}
	if len(f.Topics) > 0 {
		cond, a := d.JSONHasAny("topics", f.Topics)
		conds, args = append(conds, cond), append(args, a...)
	}
	if f.Search != "" {
		cond, a := d.FullText(memoryFTS, f.Search)
		conds, args = append(conds, cond), append(args, a...)
	}
	by := f.SortBy
	if by == "" {
		by = "updated_at"
	}
	var asc bool
	switch f.SortOrder {
	case "", "desc":
	case "asc":
		asc = true
	default:
		return nil, 0, invalidf("unknown sort order %q (want asc or desc)", f.SortOrder)
	}
	order, err := memorySort.OrderBy(by, asc, "seq")
	if err != nil {
		return nil, 0, err
	}
	page := Page{Limit: f.Limit, Page: f.Page}
	switch {
	case f.Limit == 0:
		page.Limit = defaultMemoryLimit
	case f.Limit < 0:
		page = Page{}
	}
	l := List{Columns: memoryColumns.String(), From: "memories", Where: Where(conds), Args: args, OrderBy: order, Page: page}
	return collect(ctx, s.db, l, "list memories", s.scan)
}

// MemoryTopics lists the distinct topics (of userID's memories, when set),
// sorted by code point.
func (s *Memories) MemoryTopics(ctx context.Context, userID string) ([]string, error) {
	d := s.db.d
	q := `SELECT DISTINCT t.value AS topic FROM memories, ` + d.JSONElements("memories.topics", "t")
	var args []any
	if userID != "" {
		q, args = q+` WHERE memories.user_id = ?`, []any{userID}
	}
	q = `SELECT topic FROM (` + q + `) AS topics ORDER BY ` + d.ByteOrder("topic")
	out := []string{}
	err := s.db.View(ctx, func(ctx context.Context, qr Querier) error {
		out = out[:0]
		rows, err := qr.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				return err
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("%s: memory topics: %w", d.Name, s.db.Err(ctx, err))
	}
	return out, nil
}

// UserMemoryStats lists per user (userID only, when set; memories without
// a user are not counted) how many memories they have and when one last
// changed, most recent first, one page (limit 0: 20; negative: all), and
// how many users in all.
func (s *Memories) UserMemoryStats(ctx context.Context, userID string, limit, page int) ([]memory.UserStats, int, error) {
	where := "user_id <> ''"
	var args []any
	if userID != "" {
		where, args = where+" AND user_id = ?", []any{userID}
	}
	p := Page{Limit: limit, Page: page}
	switch {
	case limit == 0:
		p.Limit = defaultMemoryLimit
	case limit < 0:
		p = Page{}
	}
	l := List{Columns: "user_id, total, last_updated",
		From: "(SELECT user_id, count(*) AS total, max(updated_at) AS last_updated FROM memories WHERE " + where +
			" GROUP BY user_id) AS stats",
		Args: args, OrderBy: " ORDER BY last_updated DESC, " + s.db.d.ByteOrder("user_id") + " ASC", Page: p}
	return collect(ctx, s.db, l, "user memory stats", func(row Row, extra ...any) (memory.UserStats, error) {
		var st memory.UserStats
		var total int64
		err := row.Scan(append([]any{&st.UserID, &total, &st.LastMemoryUpdatedAt}, extra...)...)
		st.TotalMemories = int(total)
		return st, err
	})
}

// ReplaceUserMemories deletes every memory of userID and inserts add (each
// of userID: one with another user id is core.ErrInvalid), in one
// transaction; a taken id rolls it all back with core.ErrConflict.
func (s *Memories) ReplaceUserMemories(ctx context.Context, userID string, add []memory.Memory) error {
	return s.replace(ctx, userID, nil, true, add)
}

// ReplaceMemories is ReplaceUserMemories that deletes only the memories of
// userID among remove (those an optimisation read: one written meanwhile
// is kept), in one transaction (memory.Replacer).
func (s *Memories) ReplaceMemories(ctx context.Context, userID string, remove []string, add []memory.Memory) error {
	return s.replace(ctx, userID, remove, false, add)
}

func (s *Memories) replace(ctx context.Context, userID string, remove []string, all bool, add []memory.Memory) error {
	name := s.db.d.Name
	if userID == "" {
		return invalidf("%s: replace user memories: user_id is required", name)
	}
	vals := make([][]any, len(add))
	for i := range add {
		m := add[i]
		switch {
		case m.ID == "":
			return invalidf("%s: replace user memories: memory_id is required", name)
		case m.UserID != "" && m.UserID != userID:
			return invalidf("%s: replace user memories of %q: memory %q belongs to %q", name, userID, m.ID, m.UserID)
		}
		m.UserID = userID
		v, err := s.values(&m)
		if err != nil {
			return err
		}
		vals[i] = v
	}
	var dup string
	err := s.db.Write(ctx, func(ctx context.Context, q Querier) error {
		dup = ""
		if all {
			if _, err := q.Exec(ctx, `DELETE FROM memories WHERE user_id = ?`, userID); err != nil {
				return err
			}
		}
		for start := 0; !all && start < len(remove); start += deleteChunk {
			in, args := s.db.d.InStrings("memory_id", remove[start:min(start+deleteChunk, len(remove))])
			if _, err := q.Exec(ctx, `DELETE FROM memories WHERE user_id = ? AND `+in, append([]any{userID}, args...)...); err != nil {
				return err
			}
		}
		for i, v := range vals {
			n, err := q.Exec(ctx, insertMemory, v...)
			if err != nil {
				return err
			}
			if n == 0 {
				dup = add[i].ID
				return errLost
			}
		}
		return nil
	})
	switch {
	case err == errLost:
		return fmt.Errorf("replace user memories of %q: memory %q already exists: %w", userID, dup, core.ErrConflict)
	case err != nil:
		return fmt.Errorf("%s: replace user memories of %q: %w", name, userID, s.db.Err(ctx, err))
	}
	return nil
}

var _ memory.Replacer = (*Memories)(nil)

var _ memory.Store = (*Memories)(nil)
