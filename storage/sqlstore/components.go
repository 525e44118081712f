package sqlstore

// The components group's store (core/component.Store), written once for
// both dialects: components (soft-deleted) and their numbered versions.

import (
	"context"
	"fmt"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/component"
)

var (
	componentColumns = Columns{"component_id", "component_type", "name", "description", "current_version", "metadata",
		"created_at", "updated_at", "deleted_at"}
	componentConfigColumns = Columns{"component_id", "version", "label", "stage", "config", "notes", "created_at", "updated_at"}
)

// Components implements component.Store on a backend's components and
// component_configs tables. A backend embeds it in its store.
type Components struct{ db *DB }

// NewComponents returns the components' store of db.
func NewComponents(db *DB) *Components { return &Components{db: db} }

func (s *Components) scan(row Row, extra ...any) (component.Component, error) {
	var (
		c       component.Component
		f       Fields
		cur     *int64
		deleted *int64
	)
	f.Add(&c.ID, &c.Type, &c.Name, &c.Description, &cur)
	f.JSON(s.db.d, "metadata", &c.Metadata)
	f.Add(&c.CreatedAt, &c.UpdatedAt, &deleted)
	if err := f.Scan(row, extra...); err != nil {
		return c, err
	}
	if cur != nil {
		v := int(*cur)
		c.CurrentVersion = &v
	}
	if deleted != nil {
		c.DeletedAt = *deleted
	}
	return c, nil
}

func (s *Components) scanConfig(row Row, extra ...any) (component.Config, error) {
	var (
		c component.Config
		f Fields
		v int64
	)
	f.Add(&c.ComponentID, &v, &c.Label, &c.Stage)
	f.JSON(s.db.d, "config", &c.Config)
	f.Add(&c.Notes, &c.CreatedAt, &c.UpdatedAt)
	if err := f.Scan(row, extra...); err != nil {
		return c, err
	}
	c.Version = int(v)
	if c.Config == nil {
		c.Config = map[string]any{}
	}
	return c, nil
}

func current(c *component.Component) any {
	if c.CurrentVersion == nil {
		return nil
	}
	return int64(*c.CurrentVersion)
}

// CreateComponent inserts c; a taken id (a deleted component's too) is
// core.ErrConflict.
func (s *Components) CreateComponent(ctx context.Context, c *component.Component) error {
	name := s.db.d.Name
	if c == nil || c.ID == "" {
		return invalidf("%s: create component: id is required", name)
	}
	meta, err := EncodeJSON(s.db.d, "metadata", c.Metadata)
	if err != nil {
		return err
	}
	var n int64
	err = s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `INSERT INTO components (`+componentColumns.String()+`) VALUES (`+
			componentColumns.Placeholders()+`) ON CONFLICT DO NOTHING`,
			c.ID, c.Type, c.Name, c.Description, current(c), meta, c.CreatedAt, c.UpdatedAt, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: create component %q: %w", name, c.ID, s.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("component %q already exists: %w", c.ID, core.ErrConflict)
	}
	return nil
}

// GetComponent returns the component or core.ErrNotFound.
func (s *Components) GetComponent(ctx context.Context, id string, withDeleted bool) (*component.Component, error) {
	var c component.Component
	q := `SELECT ` + componentColumns.String() + ` FROM components WHERE component_id = ?`
	if !withDeleted {
		q += ` AND deleted_at IS NULL`
	}
	err := s.db.ReadStmt(ctx, func(ctx context.Context, qr Querier) error {
		var err error
		c, err = s.scan(qr.QueryRow(ctx, q, id))
		return err
	})
	if isNoRows(err) {
		return nil, fmt.Errorf("component %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get component %q: %w", s.db.d.Name, id, s.db.Err(ctx, err))
	}
	return &c, nil
}

// UpdateComponent replaces a live component's name, description, metadata,
// current version and updated_at.
func (s *Components) UpdateComponent(ctx context.Context, c *component.Component) error {
	meta, err := EncodeJSON(s.db.d, "metadata", c.Metadata)
	if err != nil {
		return err
	}
	var n int64
	err = s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `UPDATE components SET name = ?, description = ?, metadata = ?, current_version = ?, updated_at = ?
			WHERE component_id = ? AND deleted_at IS NULL`, c.Name, c.Description, meta, current(c), c.UpdatedAt, c.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: update component %q: %w", s.db.d.Name, c.ID, s.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("component %q: %w", c.ID, core.ErrNotFound)
	}
	return nil
}

// DeleteComponent marks a live component deleted.
func (s *Components) DeleteComponent(ctx context.Context, id string, at int64) error {
	var n int64
	err := s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `UPDATE components SET deleted_at = ?, updated_at = ? WHERE component_id = ? AND deleted_at IS NULL`,
			at, at, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: delete component %q: %w", s.db.d.Name, id, s.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("component %q: %w", id, core.ErrNotFound)
	}
	return nil
}

// ListComponents returns one page of the live components of f, newest
// first (ties by insertion order).
func (s *Components) ListComponents(ctx context.Context, f component.Filter) ([]component.Component, int, error) {
	conds, args := []string{"deleted_at IS NULL"}, []any{}
	if f.Type != "" {
		conds, args = append(conds, "component_type = ?"), append(args, f.Type)
	}
	l := List{Columns: componentColumns.String(), From: "components", Where: Where(conds), Args: args,
		OrderBy: " ORDER BY created_at DESC, seq DESC", Page: Page{Limit: f.Limit, Page: f.Page}}
	return collect(ctx, s.db, l, "list components", s.scan)
}

// CreateConfig inserts a version (the next number when cfg.Version is 0);
// a taken version is core.ErrConflict.
func (s *Components) CreateConfig(ctx context.Context, cfg *component.Config) error {
	name := s.db.d.Name
	if cfg == nil || cfg.ComponentID == "" {
		return invalidf("%s: create component config: component id is required", name)
	}
	conf := cfg.Config
	if conf == nil {
		conf = map[string]any{}
	}
	enc, err := EncodeJSON(s.db.d, "config", conf)
	if err != nil {
		return err
	}
	var (
		n       int64
		version = int64(cfg.Version)
	)
	err = s.db.Write(ctx, func(ctx context.Context, q Querier) error {
		version = int64(cfg.Version)
		if version == 0 {
			if err := q.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM component_configs WHERE component_id = ?`,
				cfg.ComponentID).Scan(&version); err != nil {
				return err
			}
		}
		var err error
		n, err = q.Exec(ctx, `INSERT INTO component_configs (`+componentConfigColumns.String()+`) VALUES (`+
			componentConfigColumns.Placeholders()+`) ON CONFLICT DO NOTHING`,
			cfg.ComponentID, version, cfg.Label, cfg.Stage, enc, cfg.Notes, cfg.CreatedAt, cfg.UpdatedAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: create config of component %q: %w", name, cfg.ComponentID, s.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("component %q version %d already exists: %w", cfg.ComponentID, version, core.ErrConflict)
	}
	cfg.Version = int(version)
	return nil
}

// GetConfig returns one version or core.ErrNotFound.
func (s *Components) GetConfig(ctx context.Context, componentID string, version int) (*component.Config, error) {
	var c component.Config
	err := s.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		c, err = s.scanConfig(q.QueryRow(ctx, `SELECT `+componentConfigColumns.String()+
			` FROM component_configs WHERE component_id = ? AND version = ?`, componentID, int64(version)))
		return err
	})
	if isNoRows(err) {
		return nil, fmt.Errorf("component %q version %d: %w", componentID, version, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get component %q version %d: %w", s.db.d.Name, componentID, version, s.db.Err(ctx, err))
	}
	return &c, nil
}

// ListConfigs returns a component's versions, newest first.
func (s *Components) ListConfigs(ctx context.Context, componentID string) ([]component.Config, error) {
	l := List{Columns: componentConfigColumns.String(), From: "component_configs", Where: " WHERE component_id = ?",
		Args: []any{componentID}, OrderBy: " ORDER BY version DESC"}
	out, _, err := collect(ctx, s.db, l, "list component configs", s.scanConfig)
	return out, err
}

// draftGone tells a published version (core.ErrConflict) from a missing
// one after a statement on drafts changed no row.
func (s *Components) draftGone(ctx context.Context, componentID string, version int) error {
	if _, err := s.GetConfig(ctx, componentID, version); err != nil {
		return err
	}
	return fmt.Errorf("component %q version %d is published: %w", componentID, version, core.ErrConflict)
}

// UpdateDraft replaces a draft's label, stage, config, notes and
// updated_at.
func (s *Components) UpdateDraft(ctx context.Context, cfg *component.Config) error {
	conf := cfg.Config
	if conf == nil {
		conf = map[string]any{}
	}
	enc, err := EncodeJSON(s.db.d, "config", conf)
	if err != nil {
		return err
	}
	var n int64
	err = s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `UPDATE component_configs SET label = ?, stage = ?, config = ?, notes = ?, updated_at = ?
			WHERE component_id = ? AND version = ? AND stage = ?`,
			cfg.Label, cfg.Stage, enc, cfg.Notes, cfg.UpdatedAt, cfg.ComponentID, int64(cfg.Version), component.StageDraft)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: update component %q version %d: %w", s.db.d.Name, cfg.ComponentID, cfg.Version, s.db.Err(ctx, err))
	}
	if n == 0 {
		return s.draftGone(ctx, cfg.ComponentID, cfg.Version)
	}
	return nil
}

// DeleteDraft deletes a draft.
func (s *Components) DeleteDraft(ctx context.Context, componentID string, version int) error {
	var n int64
	err := s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `DELETE FROM component_configs WHERE component_id = ? AND version = ? AND stage = ?`,
			componentID, int64(version), component.StageDraft)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: delete component %q version %d: %w", s.db.d.Name, componentID, version, s.db.Err(ctx, err))
	}
	if n == 0 {
		return s.draftGone(ctx, componentID, version)
	}
	return nil
}

var _ component.Store = (*Components)(nil)
