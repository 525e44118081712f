package core

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Resolver supplies the runnables that are not registered with the engine
// but kept elsewhere and changed while it runs: the components of the
// state database (core/component). The engine asks it for a (kind, id) it
// has not registered, and lists its runnables after the registered ones.
// A registered runnable always wins: a resolver never shadows one.
type Resolver interface {
	// Resolve returns the runnable of kind k and id at version (0: its
	// current version). started says a run already started with that
	// version (it continues, or executes from the queue): the version is
	// then resolved even if the component was deleted since, so its runs
	// finish. An unknown (kind, id) is a CodeNotFound error.
	Resolve(ctx context.Context, k Kind, id string, version int, started bool) (Runnable, error)
	// List returns the runnables of kind k at their current versions.
	List(ctx context.Context, k Kind) []Runnable
}

// ComponentInfo is what a runnable resolved from a component says of it:
// the version it runs, and that version's stage.
type ComponentInfo struct {
	Version int    `json:"version"`
	Stage   string `json:"stage"`
}

// resolveTimeout bounds a resolver's answer when the caller has no
// context (Runnable, Runnables).
const resolveTimeout = 5 * time.Second

// SetResolver sets the engine's resolver (nil: none). Set it before the
// engine serves runs.
func (e *Engine) SetResolver(r Resolver) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.resolver = r
}

// registered returns the registered runnable of ref, and the resolver.
func (e *Engine) registered(ref Ref) (Runnable, Resolver) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.agents[ref], e.resolver
}

// Registered reports whether a runnable of kind k and id is registered
// (not only resolved).
func (e *Engine) Registered(k Kind, id string) bool {
	a, _ := e.registered(Ref{Kind: k.OrAgent(), ID: id})
	return a != nil
}

// RunnableAt returns the runnable of kind k with id at version: version 0
// is a registered runnable or a resolved one's current version; another
// version names one of a resolved runnable's versions (a registered one
// has none: CodeInvalid).
func (e *Engine) RunnableAt(ctx context.Context, k Kind, id string, version int) (Runnable, error) {
	return e.runnableAt(ctx, k, id, version, false)
}

func (e *Engine) runnableAt(ctx context.Context, k Kind, id string, version int, started bool) (Runnable, error) {
	k = k.OrAgent()
	if err := CheckID(string(k)+"_id", id); err != nil {
		return nil, err
	}
	a, r := e.registered(Ref{Kind: k, ID: id})
	if a != nil {
		if version != 0 {
			return nil, Errorf(CodeInvalid, "%s %q is defined in the config file and has no versions (version is for components)", k, id)
		}
		return a, nil
	}
	if r == nil {
		return nil, Errorf(CodeNotFound, "%s %q not found", k, id)
	}
	return r.Resolve(ctx, k, id, version, started)
}

// ParseVersion parses a run's version field: "" is 0 (the current
// version), else a positive integer.
func ParseVersion(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > 1<<31-1 {
		return 0, Errorf(CodeInvalid, "version %q is not a version number (a positive integer)", s)
	}
	return v, nil
}
