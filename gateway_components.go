package agentgate

// The components' wiring (core/component): their config, the checker that
// validates a component's config as the config file's entry of its type
// (the same code as `agentgate config check`), and the engine's resolver
// that builds a component's versions into runnables, live on every
// replica: the current version is checked against the state database at
// most every components.refresh (default 1s), and at once on the replica
// that changed it.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/component"
)

// ComponentsConfig configures the components (/components).
type ComponentsConfig struct {
	// Enabled serves /components and runs the components (default true;
	// false answers /components with 503).
	Enabled *bool `yaml:"enabled"`
	// Refresh is how old a replica's view of a component's current version
	// may be (default 1s): a version made current on another replica runs
	// here within it.
	Refresh time.Duration `yaml:"refresh"`
}

// On reports whether components are served.
func (c ComponentsConfig) On() bool { return c.Enabled == nil || *c.Enabled }

// DefaultComponentsRefresh is components.refresh's default.
const DefaultComponentsRefresh = time.Second

// buildComponents builds the components' service and sets the engine's
// resolver, once the config file's runnables are registered.
func (g *Gateway) buildComponents() {
	if !g.cfg.Components.On() {
		return
	}
	refresh := g.cfg.Components.Refresh
	if refresh <= 0 {
		refresh = DefaultComponentsRefresh
	}
	r := &componentResolver{g: g, refresh: refresh, current: map[core.Ref]*resolved{},
		versions: map[versionKey]core.Runnable{}}
	g.components = component.New(component.Options{Store: g.store, Checker: componentChecker{g}, Changed: r.invalidate})
	r.svc = g.components
	g.componentRunnables = r
	g.eng.SetResolver(r)
}

// componentChecker checks components' configs against the gateway's
// config (component.Checker).
type componentChecker struct{ g *Gateway }

// decodeComponentEntry decodes a component's config as the config file's entry of its
// type: the same YAML decoding (strict: an unknown field is an error naming
// it). The entry's id is the component's.
func decodeComponentEntry[T any](config map[string]any, id string, idOf func(*T) *string) (T, error) {
	var entry T
	b, err := json.Marshal(config)
	if err != nil {
		return entry, fmt.Errorf("config: %w", err)
	}
	if err := yaml.UnmarshalWithOptions(b, &entry, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
		return entry, fmt.Errorf("config: %s", yaml.FormatError(err, false, false))
	}
	p := idOf(&entry)
	if *p != "" && *p != id {
		return entry, fmt.Errorf("config: id %q is not the component's id %q (leave it out)", *p, id)
	}
	*p = id
	return entry, nil
}

// candidate is g's config with the component's entry first in its list:
// what `agentgate config check` checks of a file holding it.
func (c componentChecker) candidate(typ, id string, config map[string]any) (*Config, error) {
	cfg := *c.g.cfg
	// Teams and workflows may name the components' agents and teams.
	if eng := c.g.eng; eng != nil {
		cfg.runnableElsewhere = func(k core.Kind, id string) bool {
			_, err := eng.Runnable(k, id)
			return err == nil
		}
	}
	switch typ {
	case component.TypeAgent:
		ac, err := decodeComponentEntry(config, id, func(a *AgentConfig) *string { return &a.ID })
		if err != nil {
			return nil, err
		}
		cfg.Agents = append([]AgentConfig{ac}, cfg.Agents...)
	case component.TypeTeam:
		tc, err := decodeComponentEntry(config, id, func(t *TeamConfig) *string { return &t.ID })
		if err != nil {
			return nil, err
		}
		cfg.Teams = append([]TeamConfig{tc}, cfg.Teams...)
	case component.TypeWorkflow:
		wc, err := decodeComponentEntry(config, id, func(w *WorkflowConfig) *string { return &w.ID })
		if err != nil {
			return nil, err
		}
		cfg.Workflows = append([]WorkflowConfig{wc}, cfg.Workflows...)
	default:
		return nil, fmt.Errorf("component_type must be agent, team or workflow, not %q", typ)
	}
	return &cfg, nil
}

// Check validates config as the entry of type typ with id.
func (c componentChecker) Check(typ, id string, config map[string]any) error {
	cfg, err := c.candidate(typ, id, config)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return core.Errorf(core.CodeUnprocessable, "invalid %s config: %s", typ, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return nil
}

// Taken reports whether the config file (or Go) registered typ id.
func (c componentChecker) Taken(typ, id string) bool { return c.g.eng.Registered(core.Kind(typ), id) }

// build builds a version of a component into its runnable.
func (g *Gateway) buildComponent(c *component.Component, v *component.Config) (core.Runnable, error) {
	cfg, err := componentChecker{g}.candidate(c.Type, c.ID, v.Config)
	if err != nil {
		return nil, err
	}
	var r core.Runnable
	switch c.Type {
	case component.TypeAgent:
		ac := cfg.Agents[0]
		if ac.Name == "" {
			ac.Name, ac.Description = c.Name, orString(ac.Description, c.Description)
		}
		r, err = g.buildAgent(context.Background(), ac)
	case component.TypeTeam:
		tc := cfg.Teams[0]
		if tc.Name == "" {
			tc.Name, tc.Description = c.Name, orString(tc.Description, c.Description)
		}
		r, err = g.buildTeam(tc)
	default:
		wc := cfg.Workflows[0]
		if wc.Name == "" {
			wc.Name, wc.Description = c.Name, orString(wc.Description, c.Description)
		}
		def, derr := wc.definition()
		if derr != nil {
			return nil, derr
		}
		r, err = g.newWorkflow(def)
	}
	if err != nil {
		return nil, err
	}
	return &componentRunnable{Runnable: r, version: v.Version, stage: v.Stage}, nil
}

func orString(s, or string) string {
	if s == "" {
		return or
	}
	return s
}

// componentRunnable is a component's version: the runnable built from its
// config, saying which version it is.
type componentRunnable struct {
	core.Runnable
	version int
	stage   string
}

func (c *componentRunnable) Info() core.AgentInfo {
	i := c.Runnable.Info()
	i.Component = &core.ComponentInfo{Version: c.version, Stage: c.stage}
	return i
}

// CancelPaused passes a paused run's cancellation on to the runnable.
func (c *componentRunnable) CancelPaused(ctx context.Context, run *core.Run) {
	if pc, ok := c.Runnable.(core.PausedCanceller); ok {
		pc.CancelPaused(ctx, run)
	}
}

// componentResolver is the engine's resolver of components
// (core.Resolver). Built versions are kept (a published version never
// changes); which version is current is read again once refresh old.
type componentResolver struct {
	g       *Gateway
	svc     *component.Service
	refresh time.Duration

	mu sync.Mutex
	// gen counts the invalidations: what a Resolve read before one is not
	// kept.
	gen      uint64
	current  map[core.Ref]*resolved
	versions map[versionKey]core.Runnable
	// build serialises building (the MCP connections are shared).
	build sync.Mutex
}

type versionKey struct {
	ref     core.Ref
	version int
}

// resolved is a (kind, id)'s current version as last read.
type resolved struct {
	r   core.Runnable
	err error
	at  time.Time
	// gen is the invalidations' count when it was read: an entry read
	// before an invalidation is never answered. (Checking only on store
	// looks equivalent but is not: without this check
	// TestComponentsReplicas answered a replaced version in 3 of 11 runs.)
	gen uint64
}

// invalidate forgets what this replica read of component id (it changed
// here).
func (r *componentResolver) invalidate(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	for _, k := range []core.Kind{core.KindAgent, core.KindTeam, core.KindWorkflow} {
		delete(r.current, core.Ref{Kind: k, ID: id})
	}
}

// Resolve returns component id's runnable at version (0: current).
func (r *componentResolver) Resolve(ctx context.Context, k core.Kind, id string, version int, started bool) (core.Runnable, error) {
	ref := core.Ref{Kind: k, ID: id}
	r.mu.Lock()
	e, gen := r.current[ref], r.gen
	r.mu.Unlock()
	if version == 0 && e != nil && e.gen == gen && time.Since(e.at) < r.refresh {
		return e.r, e.err
	}
	at := time.Now()
	c, v, err := r.svc.Resolve(ctx, string(k), id, version, started)
	var run core.Runnable
	if err == nil {
		run, err = r.built(ref, c, v)
	}
	if version == 0 && (err == nil || core.CodeOf(err) == core.CodeNotFound) {
		r.mu.Lock()
		if r.gen == gen {
			r.current[ref] = &resolved{r: run, err: err, at: at, gen: gen}
		}
		r.mu.Unlock()
	}
	return run, err
}

// built returns version v of component c, building it the first time.
func (r *componentResolver) built(ref core.Ref, c *component.Component, v *component.Config) (core.Runnable, error) {
	key := versionKey{ref: ref, version: v.Version}
	r.mu.Lock()
	run := r.versions[key]
	r.mu.Unlock()
	if run != nil {
		return run, nil
	}
	r.build.Lock()
	defer r.build.Unlock()
	r.mu.Lock()
	run = r.versions[key] // built while this waited
	r.mu.Unlock()
	if run != nil {
		return run, nil
	}
	run, err := r.g.buildComponent(c, v)
	if err != nil {
		r.g.logger.Warn("component: a version does not build", "component_id", c.ID, "version", v.Version, "error", err)
		return nil, core.Errorf(core.CodeUnprocessable, "%s %q version %d does not build: %v", ref.Kind, ref.ID, v.Version, err)
	}
	r.mu.Lock()
	r.versions[key] = run
	r.mu.Unlock()
	return run, nil
}

// List returns the components of kind k that have a current version
// (listed from the database each time; each at its current version as
// Resolve knows it).
func (r *componentResolver) List(ctx context.Context, k core.Kind) []core.Runnable {
	cs, _, err := r.svc.Store().ListComponents(ctx, component.Filter{Type: string(k)})
	if err != nil {
		r.g.logger.Warn("component: cannot list", "kind", k, "error", err)
		return nil
	}
	var out []core.Runnable
	for _, c := range cs {
		if c.CurrentVersion == nil {
			continue
		}
		run, err := r.Resolve(ctx, k, c.ID, 0, false)
		if err != nil {
			continue
		}
		out = append(out, run)
	}
	return out
}

var (
	_ core.Resolver     = (*componentResolver)(nil)
	_ component.Checker = componentChecker{}
)
