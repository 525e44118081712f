package scripted

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
)

func TestSplitKeepsText(t *testing.T) {
	t.Parallel()
	s := "one two three four five six seven eight nine ten eleven"
	for _, n := range []int{1, 2, 3, 5, 20} {
		parts := split(s, n)
		if strings.Join(parts, "") != s {
			t.Fatalf("split(%d) lost text: %q", n, parts)
		}
		if want := min(n, 11); len(parts) != want {
			t.Fatalf("split(%d) gave %d parts, want %d", n, len(parts), want)
		}
	}
}

func TestToolCallThenReply(t *testing.T) {
	t.Parallel()
	m := New(Config{Chunks: 3, ChunkDelay: time.Millisecond, Rules: []Rule{
		{Match: "time", ToolCalls: []Call{{Name: "current_time"}}, Reply: "It is {{tool_result}}."},
		{Reply: "Echo: {{input}}"},
	}})
	ctx := context.Background()
	msgs := []core.Message{{Role: "user", Content: "What TIME is it?"}}
	resp, err := m.Generate(ctx, model.Request{Messages: msgs}, func(model.Delta) error { return nil })
	if err != nil || len(resp.ToolCalls) != 1 || resp.ToolCalls[0].Name != "current_time" || string(resp.ToolCalls[0].Arguments) != "{}" {
		t.Fatalf("first turn = %+v, %v", resp, err)
	}
	msgs = append(msgs, core.Message{Role: "assistant", ToolCalls: resp.ToolCalls},
		core.Message{Role: "tool", ToolCallID: resp.ToolCalls[0].ID, Content: "noon"})
	var got []string
	resp, err = m.Generate(ctx, model.Request{Messages: msgs}, func(d model.Delta) error { got = append(got, d.Content); return nil })
	if err != nil || resp.Content != "It is noon." || strings.Join(got, "") != "It is noon." || len(got) != 3 {
		t.Fatalf("second turn = %+v %q, %v", resp, got, err)
	}
	resp, err = m.Generate(ctx, model.Request{Messages: []core.Message{{Role: "user", Content: "hi"}}}, func(model.Delta) error { return nil })
	if err != nil || resp.Content != "Echo: hi" {
		t.Fatalf("fallback = %+v, %v", resp, err)
	}
}

func TestRejectedReplyAndError(t *testing.T) {
	t.Parallel()
	m := New(Config{Rules: []Rule{
		{Match: "fail", Error: "boom"},
		{ToolCalls: []Call{{Name: "danger"}}, Reply: "Done: {{tool_result}}", RejectedReply: "Not done ({{note}})."},
	}})
	ctx := context.Background()
	if _, err := m.Generate(ctx, model.Request{Messages: []core.Message{{Role: "user", Content: "please fail"}}}, nil); err == nil {
		t.Fatal("want error")
	}
	msgs := []core.Message{{Role: "user", Content: "go"}, {Role: "assistant", ToolCalls: []core.ToolCall{{ID: "c1", Name: "danger"}}},
		{Role: "tool", ToolCallID: "c1", Content: core.ToolRejectedResult + " too risky"}}
	resp, err := m.Generate(ctx, model.Request{Messages: msgs}, func(model.Delta) error { return nil })
	if err != nil || resp.Content != "Not done (too risky)." {
		t.Fatalf("rejected = %+v, %v", resp, err)
	}
}

func TestGenerateHonoursCancel(t *testing.T) {
	t.Parallel()
	m := New(Config{Chunks: 10, ChunkDelay: time.Hour, Rules: []Rule{{Reply: "a b c d e f g h i j k"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := m.Generate(ctx, model.Request{Messages: []core.Message{{Role: "user", Content: "x"}}}, func(model.Delta) error { return nil })
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

func TestExpandPlaceholders(t *testing.T) {
	vars := map[string]string{"{{input}}": "hi {{note}}", "{{note}}": "N", "{{tool_result}}": ""}
	for in, want := range map[string]string{
		"":                               "",
		"plain":                          "plain",
		"You said: {{input}}":            "You said: hi {{note}}", // one pass: values are not expanded
		"{{note}}{{note}}":               "NN",
		"{{unknown}} {{note}}":           "{{unknown}} N",
		"open {{ never closed":           "open {{ never closed",
		"{{input}} and {{tool_result}}.": "hi {{note}} and .",
		"{{{{note}}}}":                   "{{N}}",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWordsIsFields(t *testing.T) {
	for _, s := range []string{"", " ", "one", " one  two\tthree\n", "héllo wörld", "a\u00a0b", "x\u3000y z"} {
		if got, want := words(s), len(strings.Fields(s)); got != want {
			t.Errorf("words(%q) = %d, strings.Fields gives %d", s, got, want)
		}
	}
}

func TestSystemRuleAndTemplates(t *testing.T) {
	t.Parallel()
	m := New(Config{Rules: []Rule{
		{System: "MANAGER", Reply: `[{"memory": {{input_json}}}]`},
		{Match: "echo", Reply: "sys={{system}}"},
	}})
	gen := func(msgs ...core.Message) string {
		r, err := m.Generate(t.Context(), model.Request{Messages: msgs}, func(model.Delta) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		return r.Content
	}
	if got := gen(core.Message{Role: "system", Content: "you are the manager"}, core.Message{Role: "user", Content: `say "hi"` + "\n"}); got != `[{"memory": "say \"hi\"\n"}]` {
		t.Fatalf("manager reply = %s", got)
	}
	if got := gen(core.Message{Role: "system", Content: "be kind"}, core.Message{Role: "system", Content: "memories: tea"}, core.Message{Role: "user", Content: "echo"}); got != "sys=be kind\nmemories: tea" {
		t.Fatalf("echo reply = %q", got)
	}
	// Without the system text the System rule does not match.
	if got := gen(core.Message{Role: "user", Content: "x"}); got != "You said: x" {
		t.Fatalf("reply = %q", got)
	}
}
