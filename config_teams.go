package agentgate

import (
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/team"
)

// TeamConfig declares a team (core/team): a leader model and members —
// agents (built-in or remote) or other teams, by id — in one of agno's
// modes.
type TeamConfig struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Model is the leader's model, a name under models: (optional in
	// broadcast mode: the members' answers are then joined).
	Model        string `yaml:"model"`
	Instructions string `yaml:"instructions"`
	// Members are agent ids (remote agents too) or team ids.
	Members []string `yaml:"members"`
	// Mode is coordinate (default), route, broadcast or tasks.
	Mode string `yaml:"mode"`
	// MaxParallel bounds the members a broadcast runs at once (default 4).
	MaxParallel int `yaml:"max_parallel"`
	// StreamMemberEvents forwards the members' events into the team's
	// stream (default true; false: only each member's start and end).
	StreamMemberEvents *bool `yaml:"stream_member_events"`
	// OnMemberError is tell_leader (default: the leader sees the error as
	// the delegation's result) or fail (the team's run ends in error).
	OnMemberError string `yaml:"on_member_error"`
	// MaxIterations bounds the tasks mode's iterations (default 10).
	MaxIterations int `yaml:"max_iterations"`
	// MaxTurns bounds the leader's model requests (default 10).
	MaxTurns int `yaml:"max_turns"`

	// line is where the entry starts in the YAML (0: not from YAML).
	line int
}

// UnmarshalYAML decodes the entry strictly and keeps its line, so that
// validation errors name it.
func (tc *TeamConfig) UnmarshalYAML(node ast.Node) error {
	type plain TeamConfig
	var p plain
	line, err := decodeEntry(node, &p)
	if err != nil {
		return err
	}
	*tc = TeamConfig(p)
	tc.line = line
	return nil
}

// decodeEntry decodes a list entry strictly into dst (the entry's plain
// type, without its UnmarshalYAML) and returns the line it starts on (0:
// unknown), for errors that name it.
func decodeEntry(node ast.Node, dst any) (line int, err error) {
	if err := yaml.NodeToValue(node, dst, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
		return 0, err
	}
	if tok := node.GetToken(); tok != nil && tok.Position != nil {
		line = tok.Position.Line
	}
	return line, nil
}

// where names teams[i] in errors: its index, id and line.
func (tc *TeamConfig) where(i int) string {
	s := fmt.Sprintf("teams[%d]", i)
	switch {
	case tc.ID != "" && tc.line > 0:
		s += fmt.Sprintf(" (%s, line %d)", tc.ID, tc.line)
	case tc.ID != "":
		s += " (" + tc.ID + ")"
	case tc.line > 0:
		s += fmt.Sprintf(" (line %d)", tc.line)
	}
	return s
}

// validateTeams checks the teams: ids, modes, models, members (each an
// agent or a team) and that no team contains itself through its members.
// Errors name the team.
func (c *Config) validateTeams() []error {
	var errs []error
	agents := c.agentIDs()
	teams := map[string]*TeamConfig{}
	for i := range c.Teams {
		tc := &c.Teams[i]
		where := tc.where(i)
		switch {
		case strings.TrimSpace(tc.ID) == "":
			errs = append(errs, fmt.Errorf("%s: id is required", where))
			continue
		case teams[tc.ID] != nil:
			errs = append(errs, fmt.Errorf("%s: id %q is used twice", where, tc.ID))
			continue
		case agents[tc.ID]:
			errs = append(errs, fmt.Errorf("%s: id %q is an agent's too (members name agents and teams by id)", where, tc.ID))
		}
		teams[tc.ID] = tc
	}
	for i := range c.Teams {
		tc := &c.Teams[i]
		if teams[tc.ID] != tc {
			continue
		}
		where := tc.where(i)
		mode := team.Mode(tc.Mode)
		if !mode.Valid() {
			errs = append(errs, fmt.Errorf("%s: unknown mode %q (coordinate, route, broadcast or tasks)", where, tc.Mode))
		}
		switch {
		case tc.Model == "" && mode != team.Broadcast:
			errs = append(errs, fmt.Errorf("%s: model is required (the leader's; a name under models)", where))
		case tc.Model != "":
			if _, ok := c.Models[tc.Model]; !ok {
				errs = append(errs, fmt.Errorf("%s: model %q is not declared under models", where, tc.Model))
			}
		}
		if len(tc.Members) == 0 {
			errs = append(errs, fmt.Errorf("%s: members is empty (list agent or team ids)", where))
		}
		seen := map[string]bool{}
		for _, m := range tc.Members {
			switch {
			case seen[m]:
				errs = append(errs, fmt.Errorf("%s: member %q is listed twice", where, m))
			case m == tc.ID:
				errs = append(errs, fmt.Errorf("%s: a team cannot be its own member", where))
			case !agents[m] && teams[m] == nil && !c.knownElsewhere(core.KindAgent, m) && !c.knownElsewhere(core.KindTeam, m):
				errs = append(errs, fmt.Errorf("%s: unknown member %q (not an agent or a team id)", where, m))
			}
			seen[m] = true
		}
		switch tc.OnMemberError {
		case "", team.TellLeader, team.Fail:
		default:
			errs = append(errs, fmt.Errorf("%s: on_member_error must be fail or tell_leader, not %q", where, tc.OnMemberError))
		}
		if tc.MaxParallel < 0 || tc.MaxIterations < 0 || tc.MaxTurns < 0 {
			errs = append(errs, fmt.Errorf("%s: max_parallel, max_iterations and max_turns must not be negative (0 takes the default)", where))
		}
	}
	// Cycles through nested teams (a team that is its own member is
	// reported above).
	const (
		visiting = 1
		done     = 2
	)
	mark := map[string]int{}
	var visit func(id string, path []string) []string
	visit = func(id string, path []string) []string {
		switch mark[id] {
		case visiting:
			return append(path, id)
		case done:
			return nil
		}
		mark[id] = visiting
		for _, m := range teams[id].Members {
			if teams[m] != nil && m != id {
				if cyc := visit(m, append(path, id)); cyc != nil {
					return cyc
				}
			}
		}
		mark[id] = done
		return nil
	}
	for i := range c.Teams {
		id := c.Teams[i].ID
		if teams[id] != &c.Teams[i] || mark[id] != 0 {
			continue
		}
		if cyc := visit(id, nil); cyc != nil {
			start := 0
			for j, x := range cyc {
				if x == cyc[len(cyc)-1] {
					start = j
					break
				}
			}
			errs = append(errs, fmt.Errorf("%s: a cycle of nested teams: %s", teams[cyc[start]].where(indexOf(c.Teams, cyc[start])), strings.Join(cyc[start:], " -> ")))
		}
	}
	return errs
}

func indexOf(teams []TeamConfig, id string) int {
	for i := range teams {
		if teams[i].ID == id {
			return i
		}
	}
	return -1
}
