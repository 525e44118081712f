// Package scripted is an offline, deterministic model provider whose
// replies and tool calls come from configuration. The embedded demo and the
// tests use it, so agentgate runs with no API key.
package scripted

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
)

// Config is a scripted model.
type Config struct {
	// Model is the model id reported in events (default "scripted").
	Model string
	// Chunks is about how many streamed pieces a reply is split into
	// (default 1: the whole reply at once).
	Chunks int
	// ChunkDelay is the pause before each piece after the first.
	ChunkDelay time.Duration
	// Rules are tried in order against the latest user message; the first
	// that matches answers. With none matching, the reply echoes the input.
	Rules []Rule
}

// Rule is one scripted behaviour.
type Rule struct {
	// Match is a case-insensitive substring of the user's message; empty
	// matches anything.
	Match string
	// System, when set, is a case-insensitive substring the request's
	// system messages must contain too (a memory manager's request is told
	// from the agent's by its instructions).
	System string
	// ToolCalls, when set, are requested first; Reply is given after their
	// results come back.
	ToolCalls []Call
	// Reply is the answer. {{input}} is replaced by the user's message,
	// {{input_json}} by it as a JSON string (quotes included), {{system}}
	// by the request's system messages, {{tool_result}} by the results
	// of this turn's tool calls and {{media}} by what the model received of
	// the media of the user's messages ("image/png dot.png 67 bytes
	// sha256:…", one per medium, "; "-separated; "none" when none).
	Reply string
	// RejectedReply answers instead of Reply when the user rejected a tool
	// call of this turn ({{note}} is the user's note).
	RejectedReply string
	// Error makes the model request fail with this message.
	Error string
}

// Call is a scripted tool call.
type Call struct {
	Name      string
	Arguments map[string]any
}

// Model is a scripted model.
type Model struct{ cfg Config }

// New returns a scripted model.
func New(cfg Config) *Model {
	if cfg.Model == "" {
		cfg.Model = "scripted"
	}
	if cfg.Chunks <= 0 {
		cfg.Chunks = 1
	}
	return &Model{cfg: cfg}
}

// Provider implements model.Model.
func (m *Model) Provider() string { return "scripted" }

// AcceptsMedia implements model.MediaAccepter: the scripted model takes
// every medium, and describes what it received with {{media}}.
func (m *Model) AcceptsMedia(core.MediaKind, string) bool { return true }

// mediaSeen describes the media of the user's messages, as received: the
// hash is of the bytes the model got, so a test sees they arrived whole.
func mediaSeen(msgs []core.Message) string {
	var out []string
	for _, msg := range msgs {
		if msg.Role != "user" {
			continue
		}
		for _, m := range msg.Media {
			sum := sha256.Sum256(m.Data)
			out = append(out, fmt.Sprintf("%s %s %d bytes sha256:%s", m.MIMEType, m.Name, len(m.Data), hex.EncodeToString(sum[:])))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "; ")
}

// ID implements model.Model.
func (m *Model) ID() string { return m.cfg.Model }

// Generate implements model.Model.
func (m *Model) Generate(ctx context.Context, req model.Request, onDelta func(model.Delta) error) (*model.Response, error) {
	user, toolResults, afterTools := lastTurn(req.Messages)
	rule := m.match(user, req.Messages)
	if rule.Error != "" {
		return nil, &core.AgentError{Type: "model_error", Err: fmt.Errorf("%s", rule.Error)}
	}
	usage := core.Metrics{InputTokens: countWords(req.Messages)}
	if !afterTools && len(rule.ToolCalls) > 0 {
		calls := make([]core.ToolCall, 0, len(rule.ToolCalls))
		for i, c := range rule.ToolCalls {
			args, err := json.Marshal(orEmpty(c.Arguments))
			if err != nil {
				return nil, &core.AgentError{Type: "model_error", Err: err}
			}
			calls = append(calls, core.ToolCall{ID: fmt.Sprintf("call_%d_%d", len(req.Messages), i+1), Name: c.Name, Arguments: args})
		}
		usage.OutputTokens = int64(len(calls))
		usage.TotalTokens = usage.InputTokens + usage.OutputTokens
		return &model.Response{ToolCalls: calls, Usage: usage}, nil
	}
	reply := rule.Reply
	rejected, note := false, ""
	var results []string
	for _, r := range toolResults {
		if strings.HasPrefix(r, core.ToolRejectedResult) {
			rejected = true
			note = strings.TrimSpace(strings.TrimPrefix(r, core.ToolRejectedResult))
			continue
		}
		results = append(results, r)
	}
	if rejected && rule.RejectedReply != "" {
		reply = rule.RejectedReply
	}
	if reply == "" {
		reply = "You said: {{input}}"
	}
	vars := map[string]string{"{{input}}": user, "{{tool_result}}": strings.Join(results, "; "), "{{note}}": note}
	if strings.Contains(reply, "{{input_json}}") {
		vars["{{input_json}}"] = jsonString(user)
	}
	if strings.Contains(reply, "{{system}}") {
		vars["{{system}}"] = system(req.Messages)
	}
	if strings.Contains(reply, "{{media}}") {
		vars["{{media}}"] = mediaSeen(req.Messages)
	}
	reply = expand(reply, vars)
	for i, piece := range split(reply, m.cfg.Chunks) {
		if i > 0 && m.cfg.ChunkDelay > 0 {
			t := time.NewTimer(m.cfg.ChunkDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := onDelta(model.Delta{Content: piece}); err != nil {
			return nil, err
		}
	}
	usage.OutputTokens = int64(words(reply))
	usage.TotalTokens = usage.InputTokens + usage.OutputTokens
	return &model.Response{Content: reply, Usage: usage}, nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func (m *Model) match(user string, msgs []core.Message) Rule {
	low := strings.ToLower(user)
	sys := "" // lowered, only when a rule asks
	for _, r := range m.cfg.Rules {
		if r.Match != "" && !strings.Contains(low, strings.ToLower(r.Match)) {
			continue
		}
		if r.System != "" {
			if sys == "" {
				sys = strings.ToLower(system(msgs)) + " "
			}
			if !strings.Contains(sys, strings.ToLower(r.System)) {
				continue
			}
		}
		return r
	}
	return Rule{}
}

// system joins the request's system messages.
func system(msgs []core.Message) string {
	var parts []string
	for _, m := range msgs {
		if m.Role == "system" {
			parts = append(parts, m.Content)
		}
	}
	return strings.Join(parts, "\n")
}

// jsonString is s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// lastTurn finds the latest user message and the tool results that came
// after it (afterTools reports whether the model already asked for tools).
func lastTurn(msgs []core.Message) (user string, toolResults []string, afterTools bool) {
	u := -1
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == "user" {
			u = i
			break
		}
	}
	if u < 0 {
		return "", nil, false
	}
	for _, m := range msgs[u+1:] {
		switch m.Role {
		case "assistant":
			if len(m.ToolCalls) > 0 {
				afterTools = true
				toolResults = toolResults[:0]
			}
		case "tool":
			toolResults = append(toolResults, m.Content)
		}
	}
	return msgs[u].Content, toolResults, afterTools
}

func countWords(msgs []core.Message) int64 {
	n := 0
	for _, m := range msgs {
		n += words(m.Content)
	}
	return int64(n)
}

// split cuts s into about n pieces at word boundaries; joined they give s.
func split(s string, n int) []string {
	if n <= 1 || s == "" {
		return []string{s}
	}
	// A word starts after a space; the chunks are substrings of s from one
	// word's start to another's, so nothing is copied. The words are
	// counted first and the cuts found in a second pass, so a long reply
	// costs no slice of its word starts (a 9 MB message has 1.5 M words).
	nw := 1
	for i := 1; i < len(s); i++ {
		if s[i-1] == ' ' && s[i] != ' ' {
			nw++
		}
	}
	n = min(n, nw)
	out := make([]string, 0, n)
	lo, word := 0, 0 // byte offset of the current piece; words seen before i
	next := 1        // the piece whose start is sought
	for i := 1; i < len(s) && next < n; i++ {
		if s[i-1] == ' ' && s[i] != ' ' {
			word++
			if word == next*nw/n {
				out = append(out, s[lo:i])
				lo = i
				next++
			}
		}
	}
	return append(out, s[lo:])
}

var _ model.Model = (*Model)(nil)

// expand replaces the placeholders of vars in s in one pass (a value that
// contains a placeholder is not expanded again), without building a
// strings.Replacer per reply.
func expand(s string, vars map[string]string) string {
	i := strings.Index(s, "{{")
	if i < 0 {
		return s
	}
	if v, ok := vars[s]; ok {
		return v // the reply is one placeholder ("{{input}}"): no copy
	}
	var b strings.Builder
	b.Grow(len(s) + 64)
	for i >= 0 {
		b.WriteString(s[:i])
		s = s[i:]
		j := strings.Index(s, "}}")
		if j < 0 {
			break
		}
		if v, ok := vars[s[:j+2]]; ok {
			b.WriteString(v)
			s = s[j+2:]
		} else {
			b.WriteString("{{")
			s = s[2:]
		}
		i = strings.Index(s, "{{")
	}
	b.WriteString(s)
	return b.String()
}

// words is len(strings.Fields(s)) without building the slice.
func words(s string) int {
	n, in := 0, false
	for _, r := range s {
		if unicode.IsSpace(r) {
			in = false
		} else if !in {
			in = true
			n++
		}
	}
	return n
}
