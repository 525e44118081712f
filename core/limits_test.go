package core_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model/scripted"
)

func TestStartBoundsMessageAndIDs(t *testing.T) {
	t.Parallel()
	b := setup(t, core.EventLogConfig{}, scriptedAgent(t, "a", scripted.Config{}))
	ctx := context.Background()
	max := strings.Repeat("m", core.DefaultMaxMessageBytes)
	if _, err := b.eng.Start(ctx, core.StartParams{AgentID: "a", Message: max + "x"}); core.CodeOf(err) != core.CodeTooLarge ||
		!strings.Contains(core.MessageOf(err), "limits.max_message_bytes") {
		t.Fatalf("message over the limit: %v", err)
	}
	r, err := b.eng.Start(ctx, core.StartParams{AgentID: "a", Message: max})
	if err != nil {
		t.Fatalf("message at the limit: %v", err)
	}
	if _, err := b.eng.Wait(ctx, r.RunID, -1); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("s", core.MaxIDLength+1)
	for name, p := range map[string]core.StartParams{
		"session_id": {AgentID: "a", Message: "hi", SessionID: long},
		"user_id":    {AgentID: "a", Message: "hi", UserID: long},
		"agent_id":   {AgentID: long, Message: "hi"},
	} {
		_, err := b.eng.Start(ctx, p)
		if core.CodeOf(err) != core.CodeInvalid || !strings.Contains(core.MessageOf(err), name) {
			t.Errorf("%s over the limit: %v", name, err)
		}
	}
	for _, bad := range []string{"a b", "a\nb", "a\x00b", "\xff"} {
		if _, err := b.eng.Start(ctx, core.StartParams{AgentID: "a", Message: "hi", SessionID: bad}); core.CodeOf(err) != core.CodeInvalid {
			t.Errorf("session id %q: %v", bad, err)
		}
	}
	if _, err := b.eng.Get(ctx, long); core.CodeOf(err) != core.CodeInvalid {
		t.Errorf("get with a run id over the limit: %v", err)
	}
	if _, err := b.eng.CreateSession(ctx, &core.Session{SessionID: long}); core.CodeOf(err) != core.CodeInvalid {
		t.Errorf("create session with an id over the limit: %v", err)
	}
	ok := strings.Repeat("s", core.MaxIDLength)
	if _, err := b.eng.Start(ctx, core.StartParams{AgentID: "a", Message: "hi", SessionID: ok, UserID: "user@example.com"}); err != nil {
		t.Errorf("ids at the limit: %v", err)
	}
}

func TestMessageBoundIsConfigurable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		limit int
		msg   int
		want  core.ErrorCode
	}{{10, 11, core.CodeTooLarge}, {10, 10, ""}, {-1, core.DefaultMaxMessageBytes + 1, ""}} {
		b := setup(t, core.EventLogConfig{})
		eng, err := core.NewEngine(core.EngineConfig{Store: b.store, Log: b.log, MaxMessageBytes: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = eng.Close(context.Background()) })
		if err := eng.RegisterAgent(scriptedAgent(t, "a", scripted.Config{})); err != nil {
			t.Fatal(err)
		}
		_, err = eng.Start(context.Background(), core.StartParams{AgentID: "a", Message: strings.Repeat("m", tc.msg)})
		if got := core.CodeOf(err); (err == nil) != (tc.want == "") || err != nil && got != tc.want {
			t.Errorf("limit %d, message %d bytes: %v, want %q", tc.limit, tc.msg, err, tc.want)
		}
	}
}
