package schedule_test

import (
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/schedule"
)

func TestCreateValidation(t *testing.T) {
	f := newFixture(t, time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC))
	long := strings.Repeat("x", 256)
	cases := []struct {
		name  string
		edit  func(in *schedule.Input)
		code  core.ErrorCode
		field string
	}{
		{"bad cron", func(in *schedule.Input) { in.CronExpr = ptr("61 * * * *") }, core.CodeUnprocessable, "cron_expr"},
		{"six fields", func(in *schedule.Input) { in.CronExpr = ptr("0 0 0 * * *") }, core.CodeUnprocessable, "cron_expr"},
		{"empty cron", func(in *schedule.Input) { in.CronExpr = ptr(" ") }, core.CodeUnprocessable, "cron_expr"},
		{"tz in cron", func(in *schedule.Input) { in.CronExpr = ptr("CRON_TZ=UTC 0 * * * *") }, core.CodeUnprocessable, "cron_expr"},
		{"every too short", func(in *schedule.Input) { in.CronExpr = ptr("@every 10ms") }, core.CodeUnprocessable, "cron_expr"},
		{"never fires", func(in *schedule.Input) { in.CronExpr = ptr("0 0 30 2 *") }, core.CodeUnprocessable, "cron_expr"},
		{"bad timezone", func(in *schedule.Input) { in.Timezone = ptr("Mars/Olympus") }, core.CodeUnprocessable, "timezone"},
		{"local timezone", func(in *schedule.Input) { in.Timezone = ptr("Local") }, core.CodeUnprocessable, "timezone"},
		{"bad name", func(in *schedule.Input) { in.Name = ptr("-leading dash") }, core.CodeUnprocessable, "name"},
		{"long name", func(in *schedule.Input) { in.Name = ptr(long) }, core.CodeUnprocessable, "name"},
		{"no name", func(in *schedule.Input) { in.Name = nil }, core.CodeUnprocessable, "name"},
		{"timeout 0", func(in *schedule.Input) { in.TimeoutSeconds = ptr(0) }, core.CodeUnprocessable, "timeout_seconds"},
		{"timeout big", func(in *schedule.Input) { in.TimeoutSeconds = ptr(86401) }, core.CodeUnprocessable, "timeout_seconds"},
		{"retries", func(in *schedule.Input) { in.MaxRetries = ptr(11) }, core.CodeUnprocessable, "max_retries"},
		{"retry delay", func(in *schedule.Input) { in.RetryDelaySeconds = ptr(0) }, core.CodeUnprocessable, "retry_delay_seconds"},
		{"catch up", func(in *schedule.Input) { in.CatchUp = ptr("all") }, core.CodeUnprocessable, "catch_up"},
		{"no message", func(in *schedule.Input) { in.Payload = &map[string]any{"x": 1} }, core.CodeUnprocessable, "payload.message"},
		{"missing target", func(in *schedule.Input) { in.Target = &schedule.Target{Kind: core.KindAgent, ID: "missing"} }, core.CodeUnprocessable, "target"},
		{"bad kind", func(in *schedule.Input) { in.Target = &schedule.Target{Kind: "robot", ID: "a"} }, core.CodeUnprocessable, "target.kind"},
		{"no target", func(in *schedule.Input) { in.Target = nil }, core.CodeUnprocessable, "target"},
		{"other endpoint", func(in *schedule.Input) { in.Target, in.Endpoint = nil, ptr("/sessions") }, core.CodeUnprocessable, "endpoint"},
		{"missing endpoint target", func(in *schedule.Input) { in.Target, in.Endpoint = nil, ptr("/agents/missing/runs") }, core.CodeUnprocessable, "target"},
		{"GET run endpoint", func(in *schedule.Input) { in.Target, in.Endpoint, in.Method = nil, ptr("/agents/a/runs"), ptr("GET") }, core.CodeUnprocessable, "method"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := input("n-"+strings.ReplaceAll(c.name, " ", "-"), "0 9 * * 1", "UTC")
			c.edit(&in)
			_, err := f.svc.Create(t.Context(), "alice", in)
			if core.CodeOf(err) != c.code || !strings.HasPrefix(core.MessageOf(err), c.field+":") {
				t.Fatalf("Create = %v (%s), want %s naming %s", err, core.CodeOf(err), c.code, c.field)
			}
		})
	}
}

func TestCreateDefaultsAndEndpointForm(t *testing.T) {
	now := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC) // a Monday
	f := newFixture(t, now)
	sc := f.create(t, input("weekly", "0 9 * * 1", ""))
	if sc.Timezone != "UTC" || sc.TimeoutSeconds != 3600 || sc.RetryDelaySeconds != 60 || sc.MaxRetries != 0 ||
		sc.CatchUp != schedule.CatchUpOnce || !sc.Enabled || sc.Method != "POST" || sc.Endpoint != "/agents/a/runs" || sc.UserID != "alice" {
		t.Errorf("defaults: %+v", sc)
	}
	if want := time.Date(2026, 1, 12, 9, 0, 0, 0, time.UTC).Unix(); sc.NextRunAt != want {
		t.Errorf("next_run_at = %d, want next Monday 09:00 (%d)", sc.NextRunAt, want)
	}
	// AgentOS's form: the run endpoint names the target.
	in := input("agentos form", "@hourly", "Europe/Berlin")
	in.Target, in.Endpoint, in.Method = nil, ptr("/teams/t1/runs"), ptr("post")
	sc = f.create(t, in)
	if sc.Target != (schedule.Target{Kind: core.KindTeam, ID: "t1"}) || sc.Endpoint != "/teams/t1/runs" || sc.Method != "POST" {
		t.Errorf("endpoint form: target %+v endpoint %q method %q", sc.Target, sc.Endpoint, sc.Method)
	}
	// A taken name is a conflict.
	if _, err := f.svc.Create(t.Context(), "bob", input("weekly", "@daily", "UTC")); core.CodeOf(err) != core.CodeConflict {
		t.Errorf("duplicate name: %v, want conflict", err)
	}
}

func TestOwnerScope(t *testing.T) {
	f := newFixture(t, time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC))
	sc := f.create(t, input("mine", "@daily", "UTC"))
	if _, err := f.svc.Get(t.Context(), "bob", sc.ID); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("another user's Get: %v, want not found", err)
	}
	if _, err := f.svc.SetEnabled(t.Context(), "bob", sc.ID, false); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("another user's disable: %v, want not found", err)
	}
	if err := f.svc.Delete(t.Context(), "bob", sc.ID); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("another user's delete: %v, want not found", err)
	}
	if list, total, err := f.svc.List(t.Context(), "bob", nil, nil, 10, 1); err != nil || total != 0 || len(list) != 0 {
		t.Errorf("another user's list = %d, %v", total, err)
	}
	if _, err := f.svc.Get(t.Context(), "alice", sc.ID); err != nil {
		t.Errorf("the owner's Get: %v", err)
	}
	if _, err := f.svc.Get(t.Context(), "", sc.ID); err != nil {
		t.Errorf("an unscoped Get: %v", err)
	}
}

func TestUpdateEnableDisable(t *testing.T) {
	now := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	f := newFixture(t, now)
	sc := f.create(t, input("upd", "0 9 * * *", "UTC"))
	other := f.create(t, input("other", "0 9 * * *", "UTC"))
	if _, err := f.svc.Update(t.Context(), "", sc.ID, schedule.Input{Name: ptr(other.Name)}); core.CodeOf(err) != core.CodeConflict {
		t.Errorf("rename to a taken name: %v, want conflict", err)
	}
	if _, err := f.svc.Update(t.Context(), "", sc.ID, schedule.Input{Timezone: ptr("Nowhere/Land")}); core.CodeOf(err) != core.CodeUnprocessable {
		t.Errorf("bad timezone: %v, want 422", err)
	}
	got, err := f.svc.Update(t.Context(), "", sc.ID, schedule.Input{Timezone: ptr("Asia/Tokyo"), Description: ptr("d")})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC).Unix(); got.NextRunAt != want || got.Description != "d" || got.UpdatedAt != now.Unix() {
		t.Errorf("after a new timezone: next %d (want %d, 09:00 Tokyo), %+v", got.NextRunAt, want, got)
	}
	off, err := f.svc.SetEnabled(t.Context(), "", sc.ID, false)
	if err != nil || off.Enabled {
		t.Fatalf("disable: %+v, %v", off, err)
	}
	if _, err := f.svc.Trigger(t.Context(), "", sc.ID); core.CodeOf(err) != core.CodeConflict {
		t.Errorf("trigger a disabled schedule: %v, want conflict", err)
	}
	// Enabled days later: next_run_at is from then, what was missed does
	// not fire.
	f.clock.Add(72 * time.Hour)
	on, err := f.svc.SetEnabled(t.Context(), "", sc.ID, true)
	if err != nil || !on.Enabled || on.NextRunAt <= f.clock.Now().Unix() {
		t.Fatalf("enable: %+v, %v", on, err)
	}
	f.tick(t)
	for _, p := range f.run.started() {
		if p.ScheduleID == sc.ID {
			t.Errorf("a run fired after enabling: %+v", p)
		}
	}
}
