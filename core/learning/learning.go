// Package learning is the learnings resource group (AgentOS's /learnings,
// agno os/routers/learnings): what agents learn and keep beyond a session —
// user profiles, user memories, session contexts, entity memories, decision
// logs — as typed records with a JSON content, its store interface and its
// service (validation, the identity-keyed ids, isolation).
//
// # Ids
//
// As in agno, the identity-keyed learning types get an id derived from their
// identity fields, so a record created through the API is the one an agent
// reads and writes: user_profile "user_profile_<user_id>", user_memory
// "memories_<user_id>", session_context "session_context_<session_id>",
// entity_memory "entity_<namespace>_<entity_type>_<entity_id>" (namespace
// "global" when none is given; under the "user" namespace the key also
// names the user: "entity_user_<16 hex digits of the SHA-256 of the user
// id>_<entity_type>_<entity_id>"). Creating one that exists is a conflict
// (update it with PATCH). Every other type gets a random id.
//
// # Isolation
//
// Under user isolation a caller that is not an admin (Scope.Bound) lists
// its own learnings and those with no owner (shared agent, team, session or
// entity learnings); it may read a record with no owner but not change or
// delete it (403); another user's record is not found (404); naming another
// user in a filter, a create or a user delete is forbidden (403). A create
// without a user_id is bound to the caller (agno would make it a record
// with no owner, which the caller could then neither change nor delete).
package learning

import "context"

// Learning is one learning record: AgentOS's LearningResponse. An empty
// UserID means the record has no owner. Times are Unix seconds.
type Learning struct {
	ID           string         `json:"learning_id"`
	LearningType string         `json:"learning_type"`
	Namespace    string         `json:"namespace,omitempty"`
	UserID       string         `json:"user_id,omitempty"`
	AgentID      string         `json:"agent_id,omitempty"`
	TeamID       string         `json:"team_id,omitempty"`
	SessionID    string         `json:"session_id,omitempty"`
	EntityID     string         `json:"entity_id,omitempty"`
	EntityType   string         `json:"entity_type,omitempty"`
	Content      map[string]any `json:"content"`
	Metadata     map[string]any `json:"metadata,omitempty"`
	CreatedAt    int64          `json:"created_at"`
	UpdatedAt    int64          `json:"updated_at"`
}

// Filter selects learnings. Empty fields do not filter. With UserID set,
// WithUnowned also selects the records with no owner. Limit 0 is the
// default (100); Page counts from 1.
type Filter struct {
	LearningType string
	UserID       string
	WithUnowned  bool
	AgentID      string
	TeamID       string
	SessionID    string
	Namespace    string
	EntityID     string
	EntityType   string
	Limit        int
	Page         int
	SortBy       string // "updated_at" (default), "created_at"
	SortOrder    string // "desc" (default), "asc"
}

// LearningUserStats is one row of /learnings/users (AgentOS's learnings UserStats; named apart from the memories' for the OpenAPI document).
type LearningUserStats struct {
	UserID                string `json:"user_id"`
	TotalLearnings        int    `json:"total_learnings"`
	LastLearningUpdatedAt int64  `json:"last_learning_updated_at"`
}

// UsersFilter selects the users that own learnings (records with no owner
// are never counted). Limit 0 is the default (20).
type UsersFilter struct {
	LearningType string
	UserID       string
	Limit        int
	Page         int
	SortBy       string // "last_learning_updated_at" (default), "user_id"
	SortOrder    string // "desc" (default), "asc"
}

// Sort keys and orders.
const (
	SortUpdatedAt   = "updated_at"
	SortCreatedAt   = "created_at"
	SortUserID      = "user_id"
	SortLastUpdated = "last_learning_updated_at"
	OrderAsc        = "asc"
	OrderDesc       = "desc"
)

// Store keeps learnings. A missing learning is core.ErrNotFound (wrapped).
type Store interface {
	// CreateLearning inserts l (every field set by the caller); a taken id
	// is core.ErrConflict.
	CreateLearning(ctx context.Context, l *Learning) error
	// GetLearning reads one learning.
	GetLearning(ctx context.Context, id string) (*Learning, error)
	// UpdateLearning replaces the learning's content, metadata and
	// updated_at (never inserts).
	UpdateLearning(ctx context.Context, l *Learning) error
	// DeleteLearning deletes one learning.
	DeleteLearning(ctx context.Context, id string) error
	// ListLearnings lists one page of the learnings f selects and how many
	// it selects in all.
	ListLearnings(ctx context.Context, f Filter) ([]Learning, int, error)
	// LearningUsers lists one page of the users owning learnings (of
	// f.LearningType, when set; only f.UserID, when set) and how many such
	// users there are.
	LearningUsers(ctx context.Context, f UsersFilter) ([]LearningUserStats, int, error)
	// DeleteUserLearnings deletes the learnings of userID (of learningType
	// only, when set) and reports how many.
	DeleteUserLearnings(ctx context.Context, userID, learningType string) (int, error)
}
