package scheduletool_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/schedule"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/core/tool/scheduletool"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// engine serves one agent, "helper"; the tools never start runs.
type engine struct{ schedule.Runner }

func (engine) Runnable(k core.Kind, id string) (core.Runnable, error) {
	if k == core.KindAgent && id == "helper" {
		return nil, nil
	}
	return nil, core.Errorf(core.CodeNotFound, "%s %q not found", k, id)
}

func call(t *testing.T, tools map[string]*tool.Tool, user, name, args string) (string, error) {
	t.Helper()
	ctx := core.WithRun(context.Background(), &core.Run{RunID: "r", AgentID: "helper", UserID: user})
	return tools[name].Call(ctx, json.RawMessage(args))
}

// TestTools: a user creates, lists and disables their schedules from a
// run; another user's are invisible to them; outside a run they refuse.
func TestTools(t *testing.T) {
	st, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := schedule.New(schedule.Config{Store: st, Runner: engine{}})
	tools := map[string]*tool.Tool{}
	for _, tl := range scheduletool.Tools(svc) {
		tools[tl.Name] = tl
	}

	out, err := call(t, tools, "alice", "create_schedule", `{"name":"monday reminder","cron_expr":"0 9 * * 1","timezone":"Europe/Berlin","message":"remind me of the report"}`)
	if err != nil {
		t.Fatalf("create_schedule: %v", err)
	}
	var made struct {
		ID, Target, Message string
		Enabled             bool
	}
	if err := json.Unmarshal([]byte(out), &made); err != nil || made.Target != "agent helper" || !made.Enabled || made.Message != "remind me of the report" {
		t.Fatalf("create_schedule = %s, %v", out, err)
	}
	sc, err := svc.Get(t.Context(), "", made.ID)
	if err != nil || sc.UserID != "alice" {
		t.Fatalf("stored: %+v, %v; want alice's", sc, err)
	}
	if _, err := call(t, tools, "alice", "create_schedule", `{"name":"bad","cron_expr":"whenever","message":"x"}`); err == nil || !strings.Contains(err.Error(), "cron_expr") {
		t.Errorf("a bad cron: %v, want an error naming cron_expr", err)
	}
	if out, err := call(t, tools, "bob", "list_schedules", `{}`); err != nil || out != "[]" {
		t.Errorf("bob's list_schedules = %s, %v; want none", out, err)
	}
	if _, err := call(t, tools, "bob", "disable_schedule", `{"id":"`+made.ID+`"}`); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("bob disabling alice's: %v, want not found", err)
	}
	if out, err := call(t, tools, "alice", "list_schedules", `{}`); err != nil || !strings.Contains(out, made.ID) {
		t.Errorf("alice's list_schedules = %s, %v", out, err)
	}
	if out, err := call(t, tools, "alice", "disable_schedule", `{"id":"`+made.ID+`"}`); err != nil || !strings.Contains(out, `"enabled":false`) {
		t.Errorf("disable_schedule = %s, %v", out, err)
	}
	if _, err := tools["list_schedules"].Call(context.Background(), nil); err == nil {
		t.Error("a tool called outside a run worked")
	}
}
