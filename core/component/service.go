package component

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/agentgate/agentgate/core"
)

// Limits of the routes (AgentOS's).
const (
	DefaultLimit = 20
	MaxLimit     = 100
	// MaxField is the longest id, name, label or stage.
	MaxField = 255
	// MaxVersion is the highest version number (an INTEGER column).
	MaxVersion = 1<<31 - 1
)

// idPattern is a component id: it names a runnable in URLs and YAML.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Checker is how the wiring checks and guards a component's config.
type Checker interface {
	// Check validates config as the config file's entry of type typ with
	// id; a bad one is a core.CodeUnprocessable error naming the fields
	// as `agentgate config check` does.
	Check(typ, id string, config map[string]any) error
	// Taken reports whether a runnable of the config file (or registered
	// in Go) has that type and id.
	Taken(typ, id string) bool
}

// Options configures a Service.
type Options struct {
	Store   Store
	Checker Checker
	// Changed is called after a change that may change what a component
	// runs (its current version, a deletion), with its id.
	Changed func(id string)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service is the components' service.
type Service struct {
	store   Store
	check   Checker
	changed func(string)
	now     func() time.Time
}

// New returns the service of cfg.
func New(cfg Options) *Service {
	s := &Service{store: cfg.Store, check: cfg.Checker, changed: cfg.Changed, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.changed == nil {
		s.changed = func(string) {}
	}
	return s
}

// Store is the service's store.
func (s *Service) Store() Store { return s.store }

func unprocessable(format string, args ...any) error {
	return core.Errorf(core.CodeUnprocessable, format, args...)
}

func conflict(format string, args ...any) error {
	return core.Errorf(core.CodeConflict, format, args...)
}

// ValidType reports whether t is agent, team or workflow.
func ValidType(t string) bool { return t == TypeAgent || t == TypeTeam || t == TypeWorkflow }

// CreateInput is AgentOS's ComponentCreate. Name and Type are required;
// ID defaults to one made from Name. With Config, version 1 is created
// (Stage draft by default) and, when published, made current unless
// SetCurrent is false.
type CreateInput struct {
	ID          string
	Type        string
	Name        string
	Description string
	Metadata    map[string]any
	Config      map[string]any
	Label       string
	Stage       string
	Notes       string
	SetCurrent  *bool
}

// IDFromName is the id a component named name gets: lower case, runs of
// other characters than letters and digits made one "-".
func IDFromName(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimSpace(name)) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

func checkField(name, v string) error {
	if len(v) > MaxField {
		return unprocessable("%s is %d bytes long, over the limit of %d", name, len(v), MaxField)
	}
	return nil
}

func checkStage(stage string) error {
	if stage != StageDraft && stage != StagePublished {
		return unprocessable("stage must be draft or published, not %q", stage)
	}
	return nil
}

// Create creates a component, with its first version when in.Config is
// set.
func (s *Service) Create(ctx context.Context, in CreateInput) (*Component, *Config, error) {
	if strings.TrimSpace(in.Name) == "" {
		return nil, nil, unprocessable("name is required")
	}
	if !ValidType(in.Type) {
		return nil, nil, unprocessable("component_type must be agent, team or workflow, not %q", in.Type)
	}
	if in.ID == "" {
		in.ID = IDFromName(in.Name)
	}
	if err := errors.Join(checkField("name", in.Name), checkField("component_id", in.ID), checkField("label", in.Label)); err != nil {
		return nil, nil, err
	}
	if !idPattern.MatchString(in.ID) {
		return nil, nil, unprocessable("component_id %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", in.ID)
	}
	if in.Stage == "" {
		in.Stage = StageDraft
	}
	if err := checkStage(in.Stage); err != nil {
		return nil, nil, err
	}
	if in.Config == nil && (in.Label != "" || in.Notes != "" || in.Stage == StagePublished) {
		return nil, nil, unprocessable("label, stage and notes describe the first version: give its config too")
	}
	if in.SetCurrent != nil && *in.SetCurrent && (in.Config == nil || in.Stage != StagePublished) {
		return nil, nil, conflict("set_current needs a published version (create it with stage published)")
	}
	if s.check.Taken(in.Type, in.ID) {
		return nil, nil, conflict("%s %q is defined in the config file: a component may not shadow it", in.Type, in.ID)
	}
	if in.Config != nil {
		if err := s.check.Check(in.Type, in.ID, in.Config); err != nil {
			return nil, nil, err
		}
	}
	now := s.now().Unix()
	c := &Component{ID: in.ID, Type: in.Type, Name: in.Name, Description: in.Description, Metadata: in.Metadata,
		CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateComponent(ctx, c); err != nil {
		if errors.Is(err, core.ErrConflict) {
			return nil, nil, conflict("component %q already exists (a deleted component keeps its id)", in.ID)
		}
		return nil, nil, err
	}
	if in.Config == nil {
		return c, nil, nil
	}
	cfg := &Config{ComponentID: c.ID, Version: 1, Label: in.Label, Stage: in.Stage, Config: in.Config, Notes: in.Notes,
		CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateConfig(ctx, cfg); err != nil {
		return nil, nil, err
	}
	if cfg.Stage == StagePublished && (in.SetCurrent == nil || *in.SetCurrent) {
		v := cfg.Version
		c.CurrentVersion = &v
		if err := s.store.UpdateComponent(ctx, c); err != nil {
			return nil, nil, err
		}
		s.changed(c.ID)
	}
	return c, cfg, nil
}

// Get returns a live component.
func (s *Service) Get(ctx context.Context, id string) (*Component, error) {
	c, err := s.store.GetComponent(ctx, id, false)
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Errorf(core.CodeNotFound, "component %q not found", id)
	}
	return c, err
}

// List lists one page of the live components of f.
func (s *Service) List(ctx context.Context, f Filter) ([]Component, int, error) {
	if f.Type != "" && !ValidType(f.Type) {
		return nil, 0, unprocessable("component_type must be agent, team or workflow, not %q", f.Type)
	}
	if f.Limit <= 0 {
		f.Limit = DefaultLimit
	}
	if f.Limit > MaxLimit {
		return nil, 0, unprocessable("limit must be at most %d", MaxLimit)
	}
	return s.store.ListComponents(ctx, f)
}

// UpdateInput is AgentOS's ComponentUpdate: what is set replaces the
// stored value. The type may not change; CurrentVersion must name a
// published version (see SetCurrent).
type UpdateInput struct {
	Name           *string
	Description    *string
	Type           *string
	Metadata       map[string]any
	SetMetadata    bool
	CurrentVersion *int
}

// Update patches a component.
func (s *Service) Update(ctx context.Context, id string, in UpdateInput) (*Component, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if in.Type != nil && *in.Type != c.Type {
		return nil, unprocessable("component_type cannot change (%s): create another component", c.Type)
	}
	if in.Name != nil {
		if strings.TrimSpace(*in.Name) == "" {
			return nil, unprocessable("name must not be empty")
		}
		if err := checkField("name", *in.Name); err != nil {
			return nil, err
		}
		c.Name = *in.Name
	}
	if in.Description != nil {
		c.Description = *in.Description
	}
	if in.SetMetadata {
		c.Metadata = in.Metadata
	}
	moved := false
	if in.CurrentVersion != nil {
		if err := s.publishedVersion(ctx, id, *in.CurrentVersion); err != nil {
			return nil, err
		}
		v := *in.CurrentVersion
		moved = c.CurrentVersion == nil || *c.CurrentVersion != v
		c.CurrentVersion = &v
	}
	c.UpdatedAt = s.now().Unix()
	if err := s.store.UpdateComponent(ctx, c); err != nil {
		return nil, err
	}
	if moved {
		s.changed(id)
	}
	return c, nil
}

// Delete deletes a component (soft: its id stays taken and its versions
// stay readable, so runs that use it finish).
func (s *Service) Delete(ctx context.Context, id string) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	if err := s.store.DeleteComponent(ctx, id, s.now().Unix()); err != nil {
		return err
	}
	s.changed(id)
	return nil
}

// ConfigInput is AgentOS's ConfigCreate: a new version (Config required;
// Version 0 takes the next number; Stage draft by default). A published
// version becomes current unless SetCurrent is false.
type ConfigInput struct {
	Config     map[string]any
	Version    int
	Label      string
	Stage      string
	Notes      string
	SetCurrent *bool
}

// CreateConfig adds a version to a component.
func (s *Service) CreateConfig(ctx context.Context, id string, in ConfigInput) (*Config, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if in.Config == nil {
		return nil, unprocessable("config is required")
	}
	if in.Version < 0 || in.Version > MaxVersion {
		return nil, unprocessable("version %d is out of range (1 to %d)", in.Version, MaxVersion)
	}
	if in.Stage == "" {
		in.Stage = StageDraft
	}
	if err := errors.Join(checkStage(in.Stage), checkField("label", in.Label)); err != nil {
		return nil, err
	}
	if in.SetCurrent != nil && *in.SetCurrent && in.Stage != StagePublished {
		return nil, conflict("set_current needs a published version: a draft cannot be current")
	}
	if err := s.check.Check(c.Type, c.ID, in.Config); err != nil {
		return nil, err
	}
	now := s.now().Unix()
	cfg := &Config{ComponentID: id, Version: in.Version, Label: in.Label, Stage: in.Stage, Config: in.Config,
		Notes: in.Notes, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateConfig(ctx, cfg); err != nil {
		if errors.Is(err, core.ErrConflict) {
			return nil, conflict("component %q already has version %d", id, in.Version)
		}
		return nil, err
	}
	if cfg.Stage == StagePublished && (in.SetCurrent == nil || *in.SetCurrent) {
		if err := s.setCurrent(ctx, c, cfg.Version); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// GetConfig returns one version of a live component.
func (s *Service) GetConfig(ctx context.Context, id string, version int) (*Config, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	cfg, err := s.store.GetConfig(ctx, id, version)
	if errors.Is(err, core.ErrNotFound) {
		return nil, core.Errorf(core.CodeNotFound, "component %q has no version %d", id, version)
	}
	return cfg, err
}

// Current returns the component's current version.
func (s *Service) Current(ctx context.Context, id string) (*Config, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.CurrentVersion == nil {
		return nil, core.Errorf(core.CodeNotFound, "component %q has no current version (publish one)", id)
	}
	return s.GetConfig(ctx, id, *c.CurrentVersion)
}

// ListConfigs lists a live component's versions, newest first.
func (s *Service) ListConfigs(ctx context.Context, id string) ([]Config, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	return s.store.ListConfigs(ctx, id)
}

// ConfigUpdate is AgentOS's ConfigUpdate: what is set replaces the draft's
// value. Stage published publishes the draft (it is then immutable); it
// becomes current when SetCurrent says so or when the component has no
// current version.
type ConfigUpdate struct {
	Config     map[string]any
	Label      *string
	Stage      *string
	Notes      *string
	SetCurrent *bool
}

// UpdateConfig patches a draft; a published version is a conflict.
func (s *Service) UpdateConfig(ctx context.Context, id string, version int, in ConfigUpdate) (*Config, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	cfg, err := s.GetConfig(ctx, id, version)
	if err != nil {
		return nil, err
	}
	if cfg.Stage != StageDraft {
		return nil, conflict("version %d of %q is published: published versions are immutable (create a new version)", version, id)
	}
	if in.Label != nil {
		if err := checkField("label", *in.Label); err != nil {
			return nil, err
		}
		cfg.Label = *in.Label
	}
	if in.Notes != nil {
		cfg.Notes = *in.Notes
	}
	if in.Stage != nil {
		if err := checkStage(*in.Stage); err != nil {
			return nil, err
		}
		cfg.Stage = *in.Stage
	}
	if in.SetCurrent != nil && *in.SetCurrent && cfg.Stage != StagePublished {
		return nil, conflict("set_current needs a published version: a draft cannot be current")
	}
	if in.Config != nil {
		cfg.Config = in.Config
	}
	if in.Config != nil || cfg.Stage == StagePublished {
		if err := s.check.Check(c.Type, c.ID, cfg.Config); err != nil {
			return nil, err
		}
	}
	cfg.UpdatedAt = s.now().Unix()
	if err := s.store.UpdateDraft(ctx, cfg); err != nil {
		if errors.Is(err, core.ErrConflict) {
			return nil, conflict("version %d of %q is published: published versions are immutable", version, id)
		}
		return nil, err
	}
	if cfg.Stage == StagePublished && ((in.SetCurrent != nil && *in.SetCurrent) || (in.SetCurrent == nil && c.CurrentVersion == nil)) {
		if err := s.setCurrent(ctx, c, version); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// DeleteConfig deletes a draft that is not current; a published version is
// a conflict.
func (s *Service) DeleteConfig(ctx context.Context, id string, version int) error {
	cfg, err := s.GetConfig(ctx, id, version)
	if err != nil {
		return err
	}
	if cfg.Stage != StageDraft {
		return conflict("version %d of %q is published: published versions are immutable", version, id)
	}
	if err := s.store.DeleteDraft(ctx, id, version); err != nil {
		if errors.Is(err, core.ErrConflict) {
			return conflict("version %d of %q is published: published versions are immutable", version, id)
		}
		return err
	}
	return nil
}

// SetCurrent points the component at a published version (publish, roll
// back); a draft is a conflict.
func (s *Service) SetCurrent(ctx context.Context, id string, version int) (*Component, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.setCurrent(ctx, c, version); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Service) setCurrent(ctx context.Context, c *Component, version int) error {
	if err := s.publishedVersion(ctx, c.ID, version); err != nil {
		return err
	}
	if c.CurrentVersion != nil && *c.CurrentVersion == version {
		return nil
	}
	c.CurrentVersion = &version
	c.UpdatedAt = s.now().Unix()
	if err := s.store.UpdateComponent(ctx, c); err != nil {
		return err
	}
	s.changed(c.ID)
	return nil
}

// publishedVersion checks that version of id exists and is published.
func (s *Service) publishedVersion(ctx context.Context, id string, version int) error {
	cfg, err := s.store.GetConfig(ctx, id, version)
	if errors.Is(err, core.ErrNotFound) {
		return core.Errorf(core.CodeNotFound, "component %q has no version %d", id, version)
	}
	if err != nil {
		return err
	}
	if cfg.Stage != StagePublished {
		return conflict("version %d of %q is a draft: publish it first (PATCH its stage to published)", version, id)
	}
	return nil
}

// Resolve returns the live component id of type typ and the version to run:
// version when not 0 (published, or any stage of a deleted component's
// version a run already used: withDeleted), else its current one.
func (s *Service) Resolve(ctx context.Context, typ, id string, version int, withDeleted bool) (*Component, *Config, error) {
	c, err := s.store.GetComponent(ctx, id, withDeleted)
	if errors.Is(err, core.ErrNotFound) || (err == nil && c.Type != typ) {
		return nil, nil, core.Errorf(core.CodeNotFound, "%s %q not found", typ, id)
	}
	if err != nil {
		return nil, nil, err
	}
	if version == 0 {
		if c.CurrentVersion == nil {
			return nil, nil, core.Errorf(core.CodeNotFound, "%s %q has no published version yet", typ, id)
		}
		version = *c.CurrentVersion
	}
	cfg, err := s.store.GetConfig(ctx, id, version)
	if errors.Is(err, core.ErrNotFound) {
		return nil, nil, core.Errorf(core.CodeNotFound, "%s %q has no version %d", typ, id, version)
	}
	if err != nil {
		return nil, nil, err
	}
	if cfg.Stage != StagePublished {
		return nil, nil, conflict("version %d of %s %q is a draft: publish it to run it", version, typ, id)
	}
	return c, cfg, nil
}

// String is a version's name in messages.
func (c *Config) String() string {
	return fmt.Sprintf("%s v%d (%s)", c.ComponentID, c.Version, c.Stage)
}
