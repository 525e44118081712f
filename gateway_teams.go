package agentgate

import (
	"fmt"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/team"
)

// buildTeams registers the configured teams, nested teams before the teams
// that contain them (validation refused cycles). It runs after the agents
// are registered: a member's name and description are its own.
func (g *Gateway) buildTeams() error {
	byID := map[string]TeamConfig{}
	for _, tc := range g.cfg.Teams {
		byID[tc.ID] = tc
	}
	built := map[string]bool{}
	var build func(tc TeamConfig, depth int) error
	build = func(tc TeamConfig, depth int) error {
		if built[tc.ID] {
			return nil
		}
		if depth > len(byID) {
			return fmt.Errorf("team %s: a cycle of nested teams", tc.ID)
		}
		for _, id := range tc.Members {
			if sub, ok := byID[id]; ok {
				if err := build(sub, depth+1); err != nil {
					return err
				}
			}
		}
		t, err := g.buildTeam(tc)
		if err != nil {
			return err
		}
		if err := g.eng.RegisterRunnable(t); err != nil {
			return err
		}
		built[tc.ID] = true
		return nil
	}
	for _, tc := range g.cfg.Teams {
		if err := build(tc, 0); err != nil {
			return err
		}
	}
	return nil
}

// buildTeam builds the team of a teams entry whose members are runnable
// already (a member that is a team is one, else an agent). The components
// build theirs with it too.
func (g *Gateway) buildTeam(tc TeamConfig) (core.Runnable, error) {
	cfg := team.Config{
		ID: tc.ID, Name: tc.Name, Description: tc.Description, Instructions: tc.Instructions,
		ModelName: tc.Model, Mode: team.Mode(tc.Mode), MaxParallel: tc.MaxParallel,
		StreamMemberEvents: tc.StreamMemberEvents, OnMemberError: tc.OnMemberError,
		MaxIterations: tc.MaxIterations, MaxTurns: tc.MaxTurns,
	}
	if tc.Model != "" {
		m, ok := g.models[tc.Model]
		if !ok {
			return nil, fmt.Errorf("team %s: model %q is not declared under models", tc.ID, tc.Model)
		}
		cfg.Model = m
	}
	for _, id := range tc.Members {
		kind := core.KindAgent
		r, err := g.eng.Runnable(core.KindTeam, id)
		if err == nil {
			kind = core.KindTeam
		} else if r, err = g.eng.Runnable(core.KindAgent, id); err != nil {
			return nil, fmt.Errorf("team %s: member %s: %w", tc.ID, id, err)
		}
		info := r.Info()
		cfg.Members = append(cfg.Members, team.Member{Kind: kind, ID: id, Name: info.Name, Description: info.Description})
	}
	return team.New(cfg)
}
