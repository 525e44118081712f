package agentgate

import (
	"fmt"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
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
	models := map[string]model.Model{}
	built := map[string]bool{}
	var build func(tc TeamConfig, depth int) error
	build = func(tc TeamConfig, depth int) error {
		if built[tc.ID] {
			return nil
		}
		if depth > len(byID) {
			return fmt.Errorf("team %s: a cycle of nested teams", tc.ID)
		}
		cfg := team.Config{
			ID: tc.ID, Name: tc.Name, Description: tc.Description, Instructions: tc.Instructions,
			ModelName: tc.Model, Mode: team.Mode(tc.Mode), MaxParallel: tc.MaxParallel,
			StreamMemberEvents: tc.StreamMemberEvents, OnMemberError: tc.OnMemberError,
			MaxIterations: tc.MaxIterations, MaxTurns: tc.MaxTurns,
		}
		if tc.Model != "" {
			m, ok := models[tc.Model]
			if !ok {
				mc, declared := g.cfg.Models[tc.Model]
				if !declared {
					return fmt.Errorf("team %s: model %q is not declared under models", tc.ID, tc.Model)
				}
				var err error
				if m, err = BuildModel(tc.Model, mc); err != nil {
					return fmt.Errorf("team %s: %w", tc.ID, err)
				}
				models[tc.Model] = m
			}
			cfg.Model = m
		}
		for _, id := range tc.Members {
			kind := core.KindAgent
			if sub, ok := byID[id]; ok {
				if err := build(sub, depth+1); err != nil {
					return err
				}
				kind = core.KindTeam
			}
			r, err := g.eng.Runnable(kind, id)
			if err != nil {
				return fmt.Errorf("team %s: member %s: %w", tc.ID, id, err)
			}
			info := r.Info()
			cfg.Members = append(cfg.Members, team.Member{Kind: kind, ID: id, Name: info.Name, Description: info.Description})
		}
		t, err := team.New(cfg)
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
