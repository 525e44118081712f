package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Kind is what a runnable is: an agent, a team (a leader and members) or
// a workflow (steps). Every kind runs through the same engine and the same
// run API; the kind decides the ids a run carries (agent_id, team_id or
// workflow_id) and the names of its own events (see EventType.ForKind).
type Kind string

const (
	KindAgent    Kind = "agent"
	KindTeam     Kind = "team"
	KindWorkflow Kind = "workflow"
)

// Valid reports whether k is one of the three kinds.
func (k Kind) Valid() bool { return k == KindAgent || k == KindTeam || k == KindWorkflow }

// OrAgent is k, or KindAgent when k is empty.
func (k Kind) OrAgent() Kind {
	if k == "" {
		return KindAgent
	}
	return k
}

// Ref names one runnable: its kind and id.
type Ref struct {
	Kind Kind
	ID   string
}

// ids are r's id in the field of its kind: agent, team, workflow.
func (r Ref) ids() (agent, team, workflow string) {
	switch r.Kind {
	case KindTeam:
		return "", r.ID, ""
	case KindWorkflow:
		return "", "", r.ID
	}
	return r.ID, "", ""
}

func (r Ref) String() string { return string(r.Kind.OrAgent()) + " " + r.ID }

// Runnable is anything the engine runs; Agent is its historical name and
// every runnable implements it. Its Info().Kind says which kind it is
// (empty: an agent).
type Runnable = Agent

// KindOf is the kind of a runnable's info (empty: agent).
func (i AgentInfo) KindOf() Kind { return i.Kind.OrAgent() }

// RegisterRunnable adds a runnable under its kind and id. An empty id, an
// unknown kind or a duplicate (kind, id) is an error. RegisterAgent is the
// same call.
func (e *Engine) RegisterRunnable(a Runnable) error {
	info := a.Info()
	id := info.ID
	if strings.TrimSpace(id) == "" {
		return errors.New("core: runnable id is empty")
	}
	k := info.KindOf()
	if !k.Valid() {
		return fmt.Errorf("core: %q has unknown kind %q", id, info.Kind)
	}
	ref := Ref{Kind: k, ID: id}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.agents[ref]; dup {
		return fmt.Errorf("core: %s %q registered twice", k, id)
	}
	e.agents[ref] = a
	e.order = append(e.order, ref)
	return nil
}

// Runnable returns the runnable of kind k with id: a registered one, else
// the resolver's at its current version (see Resolver), or a not_found
// error.
func (e *Engine) Runnable(k Kind, id string) (Runnable, error) {
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	return e.runnableAt(ctx, k, id, 0, false)
}

// Runnables returns the registered runnables of kind k in registration
// order, then the resolver's.
func (e *Engine) Runnables(k Kind) []Runnable {
	k = k.OrAgent()
	e.mu.RLock()
	var out []Runnable
	for _, ref := range e.order {
		if ref.Kind == k {
			out = append(out, e.agents[ref])
		}
	}
	r := e.resolver
	e.mu.RUnlock()
	if r != nil {
		ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
		defer cancel()
		for _, d := range r.List(ctx, k) {
			if !e.Registered(k, d.Info().ID) {
				out = append(out, d)
			}
		}
	}
	return out
}

// Kind is the kind of runnable that runs r: an agent when it has an
// agent_id, else a team when it has a team_id, else a workflow. (A
// member agent's run inside a workflow also carries the workflow's id.)
func (r *Run) Kind() Kind {
	switch {
	case r.AgentID != "":
		return KindAgent
	case r.TeamID != "":
		return KindTeam
	case r.WorkflowID != "":
		return KindWorkflow
	}
	return KindAgent
}

// Ref is the runnable that runs r.
func (r *Run) Ref() Ref {
	switch k := r.Kind(); k {
	case KindTeam:
		return Ref{Kind: k, ID: r.TeamID}
	case KindWorkflow:
		return Ref{Kind: k, ID: r.WorkflowID}
	default:
		return Ref{Kind: k, ID: r.AgentID}
	}
}

// RunnableID is the id of the runnable that runs r.
func (r *Run) RunnableID() string { return r.Ref().ID }

// setRunnable sets r's ids and names from the runnable's info.
func (r *Run) setRunnable(info AgentInfo) {
	switch info.KindOf() {
	case KindTeam:
		r.TeamID, r.TeamName = info.ID, info.Name
	case KindWorkflow:
		r.WorkflowID, r.WorkflowName = info.ID, info.Name
	default:
		r.AgentID, r.AgentName = info.ID, info.Name
	}
	if info.Model != nil {
		r.Model, r.ModelProvider = info.Model.Model, info.Model.Provider
	}
	if info.Component != nil {
		r.ComponentVersion = info.Component.Version
	}
}

// runnableOf returns the runnable that runs run: a component's run runs
// the version it started with (even once the component is deleted).
func (e *Engine) runnableOf(run *Run) (Runnable, error) {
	ref := run.Ref()
	if run.ComponentVersion == 0 {
		return e.Runnable(ref.Kind, ref.ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	return e.runnableAt(ctx, ref.Kind, ref.ID, run.ComponentVersion, true)
}
