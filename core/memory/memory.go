// Package memory is the memories resource group: what agents remember about
// their users (AgentOS's user memories, agno os/routers/memory), its store
// interface and its service (isolation, validation, optimisation with a
// model). The built-in agent's memory manager (core/agent) reads and writes
// memories through Store.
package memory

import "context"

// Memory is one user memory: AgentOS's UserMemorySchema plus the stored
// input and feedback. Times are Unix seconds.
type Memory struct {
	ID        string   `json:"memory_id"`
	Memory    string   `json:"memory"`
	Topics    []string `json:"topics"`
	UserID    string   `json:"user_id,omitempty"`
	AgentID   string   `json:"agent_id,omitempty"`
	TeamID    string   `json:"team_id,omitempty"`
	Input     string   `json:"input,omitempty"`
	Feedback  string   `json:"feedback,omitempty"`
	CreatedAt int64    `json:"created_at,omitempty"`
	UpdatedAt int64    `json:"updated_at"`
}

// Filter selects memories. Empty fields do not filter. Search is a
// full-text (fuzzy) match on the memory's text, never a LIKE scan. Topics
// match memories having any of them. Limit 0 means the store's default
// (20), a negative Limit every memory; Page counts from 1.
type Filter struct {
	UserID    string
	AgentID   string
	TeamID    string
	Topics    []string
	Search    string
	Limit     int
	Page      int
	SortBy    string // "updated_at" (default), "created_at"
	SortOrder string // "desc" (default), "asc"
}

// UserStats is one row of /user_memory_stats.
type UserStats struct {
	UserID              string `json:"user_id"`
	TotalMemories       int    `json:"total_memories"`
	LastMemoryUpdatedAt int64  `json:"last_memory_updated_at"`
}

// Store keeps memories. A missing memory is core.ErrNotFound (wrapped).
type Store interface {
	// CreateMemory inserts m (ID, CreatedAt and UpdatedAt set by the
	// caller); a duplicate id is core.ErrConflict.
	CreateMemory(ctx context.Context, m *Memory) error
	// GetMemory reads one memory.
	GetMemory(ctx context.Context, id string) (*Memory, error)
	// UpdateMemory replaces the memory's text, topics, input, feedback and
	// UpdatedAt.
	UpdateMemory(ctx context.Context, m *Memory) error
	// DeleteMemories deletes the memories with those ids; with userID set
	// only those of that user. It reports how many it deleted.
	DeleteMemories(ctx context.Context, userID string, ids []string) (int, error)
	// ListMemories lists one page of the memories f selects and how many
	// it selects in all.
	ListMemories(ctx context.Context, f Filter) ([]Memory, int, error)
	// MemoryTopics lists the distinct topics of the memories (of userID,
	// when set), sorted.
	MemoryTopics(ctx context.Context, userID string) ([]string, error)
	// UserMemoryStats lists per user (only userID when set) how many
	// memories they have and when one last changed, most recent first,
	// one page, and how many users in all.
	UserMemoryStats(ctx context.Context, userID string, limit, page int) ([]UserStats, int, error)
	// ReplaceUserMemories deletes every memory of userID and inserts add,
	// in one transaction (an optimisation applied).
	ReplaceUserMemories(ctx context.Context, userID string, add []Memory) error
}
