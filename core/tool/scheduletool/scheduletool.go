// Package scheduletool is the schedule tool set (beyond AgentOS): tools an
// agent is given with `tools: [schedule]` to create, list and disable
// schedules for the user whose run it is, so "remind me every Monday at 9"
// works from a chat. They act through the schedules' service, as that
// user: what they create belongs to the run's user, and they see and touch
// only that user's schedules (a run without a user, on a gateway without
// auth, sees every schedule, as REST does there).
package scheduletool

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/schedule"
	"github.com/agentgate/agentgate/core/tool"
)

// SetName is the name agents list in their tools to get the set.
const SetName = "schedule"

// Tools returns create_schedule, list_schedules and disable_schedule on
// svc.
func Tools(svc *schedule.Service) []*tool.Tool {
	return []*tool.Tool{create(svc), list(svc), disable(svc)}
}

// caller is the run the tool is called in; without one (a tool called
// outside a run) the tools refuse.
func caller(ctx context.Context) (*core.Run, error) {
	run, ok := core.RunFromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("the schedule tools work inside a run only")
	}
	return run, nil
}

func decode(args json.RawMessage, v any) error {
	if len(args) == 0 {
		args = json.RawMessage("{}")
	}
	if err := json.Unmarshal(args, v); err != nil {
		return fmt.Errorf("bad arguments: %v", err)
	}
	return nil
}

// brief is a schedule as the tools show it to the model.
type brief struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CronExpr  string `json:"cron_expr"`
	Timezone  string `json:"timezone"`
	Message   string `json:"message"`
	Target    string `json:"target"`
	Enabled   bool   `json:"enabled"`
	NextRunAt int64  `json:"next_run_at,omitempty"`
}

func briefOf(sc *schedule.Schedule) brief {
	msg, _ := sc.Payload["message"].(string)
	return brief{ID: sc.ID, Name: sc.Name, CronExpr: sc.CronExpr, Timezone: sc.Timezone, Message: msg,
		Target: sc.Target.Ref().String(), Enabled: sc.Enabled, NextRunAt: sc.NextRunAt}
}

func result(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// failure is a service error as the model reads it.
func failure(err error) error { return fmt.Errorf("%s", core.MessageOf(err)) }

func create(svc *schedule.Service) *tool.Tool {
	return &tool.Tool{
		Name: "create_schedule",
		Description: "Schedule a recurring run for the current user: at each time of cron_expr (5-field cron, " +
			"minute hour day-of-month month day-of-week, e.g. \"0 9 * * 1\" for Mondays at 09:00) in timezone, " +
			"the agent (this one unless agent_id is given) runs with message.",
		Parameters: map[string]any{"type": "object", "required": []string{"name", "cron_expr", "message"},
			"properties": map[string]any{
				"name":      map[string]any{"type": "string", "description": "A unique name: letters, digits, spaces, '.', '_', '-'."},
				"cron_expr": map[string]any{"type": "string"},
				"timezone":  map[string]any{"type": "string", "description": "IANA time zone, e.g. Europe/Berlin (default UTC)."},
				"message":   map[string]any{"type": "string", "description": "What the run is asked each time."},
				"agent_id":  map[string]any{"type": "string", "description": "The agent to run (default: this one)."},
			}},
		Call: func(ctx context.Context, args json.RawMessage) (string, error) {
			run, err := caller(ctx)
			if err != nil {
				return "", err
			}
			var a struct {
				Name     string `json:"name"`
				CronExpr string `json:"cron_expr"`
				Timezone string `json:"timezone"`
				Message  string `json:"message"`
				AgentID  string `json:"agent_id"`
			}
			if err := decode(args, &a); err != nil {
				return "", err
			}
			target := schedule.Target{Kind: core.KindAgent, ID: strings.TrimSpace(a.AgentID)}
			if target.ID == "" {
				target.ID = run.AgentID
				if run.TeamID != "" && run.AgentID == "" {
					target = schedule.Target{Kind: core.KindTeam, ID: run.TeamID}
				}
			}
			payload := map[string]any{"message": a.Message}
			in := schedule.Input{Name: &a.Name, CronExpr: &a.CronExpr, Target: &target, Payload: &payload}
			if a.Timezone != "" {
				in.Timezone = &a.Timezone
			}
			sc, err := svc.Create(ctx, run.UserID, in)
			if err != nil {
				return "", failure(err)
			}
			return result(briefOf(sc))
		},
	}
}

func list(svc *schedule.Service) *tool.Tool {
	return &tool.Tool{
		Name:        "list_schedules",
		Description: "List the current user's schedules (id, name, cron_expr, timezone, message, enabled, next_run_at as Unix seconds).",
		Parameters:  map[string]any{"type": "object", "properties": map[string]any{}},
		Call: func(ctx context.Context, args json.RawMessage) (string, error) {
			run, err := caller(ctx)
			if err != nil {
				return "", err
			}
			list, _, err := svc.List(ctx, run.UserID, nil, nil, 100, 1)
			if err != nil {
				return "", failure(err)
			}
			out := make([]brief, 0, len(list))
			for _, sc := range list {
				out = append(out, briefOf(sc))
			}
			return result(out)
		},
	}
}

func disable(svc *schedule.Service) *tool.Tool {
	return &tool.Tool{
		Name:        "disable_schedule",
		Description: "Stop one of the current user's schedules (by the id list_schedules gives).",
		Parameters: map[string]any{"type": "object", "required": []string{"id"},
			"properties": map[string]any{"id": map[string]any{"type": "string"}}},
		Call: func(ctx context.Context, args json.RawMessage) (string, error) {
			run, err := caller(ctx)
			if err != nil {
				return "", err
			}
			var a struct {
				ID string `json:"id"`
			}
			if err := decode(args, &a); err != nil {
				return "", err
			}
			sc, err := svc.SetEnabled(ctx, run.UserID, a.ID, false)
			if err != nil {
				return "", failure(err)
			}
			return result(briefOf(sc))
		},
	}
}
