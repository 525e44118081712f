// Package component is the components resource group (AgentOS's
// /components, agno os/routers/components): agents, teams and workflows
// kept in the state database as versioned configs, so they can be created,
// published and rolled back without a restart.
//
// A component has versions (1, 2, ...). A version is a draft (editable,
// deletable) or published (immutable). The component's current version is
// the published version its runs use; set-current points it at another
// published version (publish a draft by patching its stage to published,
// or create the version published). A version's config is the same agent,
// team or workflow entry as the YAML config file's, checked by the same
// code (a Checker the wiring gives).
package component

import "context"

// Types of component (AgentOS's ComponentType).
const (
	TypeAgent    = "agent"
	TypeTeam     = "team"
	TypeWorkflow = "workflow"
)

// Stages of a version.
const (
	StageDraft     = "draft"
	StagePublished = "published"
)

// Component is AgentOS's ComponentResponse. CurrentVersion is nil while no
// version is current. Times are Unix seconds.
type Component struct {
	ID             string         `json:"component_id"`
	Type           string         `json:"component_type"`
	Name           string         `json:"name"`
	Description    string         `json:"description,omitempty"`
	CurrentVersion *int           `json:"current_version,omitempty"`
	Metadata       map[string]any `json:"metadata,omitempty"`
	CreatedAt      int64          `json:"created_at"`
	UpdatedAt      int64          `json:"updated_at,omitempty"`
	// DeletedAt is set once the component is deleted (soft); never shown.
	DeletedAt int64 `json:"-"`
}

// Config is one version of a component: AgentOS's ComponentConfigResponse.
type Config struct {
	ComponentID string         `json:"component_id"`
	Version     int            `json:"version"`
	Label       string         `json:"label,omitempty"`
	Stage       string         `json:"stage"`
	Config      map[string]any `json:"config"`
	Notes       string         `json:"notes,omitempty"`
	CreatedAt   int64          `json:"created_at"`
	UpdatedAt   int64          `json:"updated_at,omitempty"`
}

// Filter selects components: of Type when set; Limit 0 is every one, Page
// counts from 1. Deleted components are never listed.
type Filter struct {
	Type  string
	Limit int
	Page  int
}

// Store keeps components and their versions. A missing one is
// core.ErrNotFound (wrapped); a taken id or version core.ErrConflict.
type Store interface {
	// CreateComponent inserts c (every field set by the caller).
	CreateComponent(ctx context.Context, c *Component) error
	// GetComponent reads one component; a deleted one is not found unless
	// withDeleted.
	GetComponent(ctx context.Context, id string, withDeleted bool) (*Component, error)
	// UpdateComponent replaces a live component's name, description,
	// metadata, current version and updated_at.
	UpdateComponent(ctx context.Context, c *Component) error
	// DeleteComponent marks a live component deleted at the time given.
	DeleteComponent(ctx context.Context, id string, at int64) error
	// ListComponents lists one page of the live components f selects,
	// newest first, and how many it selects in all.
	ListComponents(ctx context.Context, f Filter) ([]Component, int, error)
	// CreateConfig inserts a version; cfg.Version 0 takes the next number
	// (one more than the highest), set on cfg.
	CreateConfig(ctx context.Context, cfg *Config) error
	// GetConfig reads one version (of a deleted component too).
	GetConfig(ctx context.Context, componentID string, version int) (*Config, error)
	// ListConfigs lists a component's versions, newest first.
	ListConfigs(ctx context.Context, componentID string) ([]Config, error)
	// UpdateDraft replaces a draft's label, stage, config, notes and
	// updated_at; a published version is core.ErrConflict.
	UpdateDraft(ctx context.Context, cfg *Config) error
	// DeleteDraft deletes a draft; a published version is
	// core.ErrConflict.
	DeleteDraft(ctx context.Context, componentID string, version int) error
}
