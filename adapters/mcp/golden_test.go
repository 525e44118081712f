package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"github.com/agentgate/agentgate/internal/testutil"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"golang.org/x/tools/txtar"

	mcpadapter "github.com/agentgate/agentgate/adapters/mcp"
	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenSession is an in-process MCP session that keeps the notifications
// the server sends.
type goldenSession struct {
	ch chan mcpgo.JSONRPCNotification
}

func (s *goldenSession) SessionID() string { return "golden" }
func (s *goldenSession) NotificationChannel() chan<- mcpgo.JSONRPCNotification {
	return s.ch
}
func (s *goldenSession) Initialize()       {}
func (s *goldenSession) Initialized() bool { return true }

// TestMCPGolden replays testdata/*.txtar: "agents.json" declares scripted
// agents (run on an engine with ids id-1, id-2, … and a fixed clock); each
// "call" section is one JSON-RPC message handled by the adapter's mcp-go
// server, and the "wire" section after it holds, one per line, the exact
// JSON of what the server sent: the notifications (progress), then the
// response. Run with -update to rewrite the wire sections.
func TestMCPGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var agents []core.Agent
			for _, f := range ar.Files {
				if f.Name == "agents.json" {
					agents = parseAgents(t, f.Data)
				}
			}
			eng := newEngine(t, true, agents...)
			srv := mcpadapter.New(eng, mcpadapter.Config{Name: "agentgate", Description: "Golden gateway.", Version: "test", Settings: mcpadapter.Settings{AgentTools: new(true)}})
			sess := &goldenSession{ch: make(chan mcpgo.JSONRPCNotification, 10000)}
			admin := &auth.Principal{Subject: "golden", Kind: auth.KindKey, Admin: true}
			ctx := srv.MCPServer().WithContext(auth.WithPrincipal(context.Background(), admin), sess)

			var out []txtar.File
			changed := false
			for i := 0; i < len(ar.Files); i++ {
				f := ar.Files[i]
				out = append(out, f)
				if f.Name != "call" {
					continue
				}
				got := handle(t, ctx, srv, sess, f.Data)
				var want *txtar.File
				if i+1 < len(ar.Files) && ar.Files[i+1].Name == "wire" {
					want = &ar.Files[i+1]
					i++
				}
				switch {
				case *update:
					changed = changed || want == nil || !bytes.Equal(want.Data, got)
				case want == nil:
					t.Fatalf("call %s has no wire section (run with -update)", bytes.TrimSpace(f.Data))
				case !bytes.Equal(want.Data, got):
					t.Errorf("call %s:\n%s", bytes.TrimSpace(f.Data), testutil.LineDiff(string(want.Data), string(got)))
				}
				out = append(out, txtar.File{Name: "wire", Data: got})
			}
			if *update && changed {
				ar.Files = out
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// handle sends one message and returns the wire lines it produced.
func handle(t *testing.T, ctx context.Context, srv *mcpadapter.Server, sess *goldenSession, msg []byte) []byte {
	t.Helper()
	resp := srv.MCPServer().HandleMessage(ctx, json.RawMessage(bytes.TrimSpace(msg)))
	var buf bytes.Buffer
	for {
		select {
		case n := <-sess.ch:
			writeLine(t, &buf, n)
			continue
		default:
		}
		break
	}
	if resp != nil {
		writeLine(t, &buf, resp)
	}
	return buf.Bytes()
}

func writeLine(t *testing.T, buf *bytes.Buffer, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	buf.Write(b)
	buf.WriteByte('\n')
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestMCPRenderCancelled pins the rendering of a run cancelled while a call
// followed it (the golden calls cannot cancel mid-run deterministically).
func TestMCPRenderCancelled(t *testing.T) {
	t.Parallel()
	res := mcpadapter.RenderEnd(&core.Event{Event: core.EventRunCancelled, RunID: "r1", SessionID: "s1", AgentID: "a1",
		Reason: "cancelled by request"})
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"content":[{"type":"text","text":"run r1 was cancelled: cancelled by request"}],"isError":true,` +
		`"structuredContent":{"run_id":"r1","session_id":"s1","agent_id":"a1","status":"CANCELLED","reason":"cancelled by request"}}`
	if string(b) != want {
		t.Errorf("cancelled result:\n got  %s\n want %s", b, want)
	}
}

// TestMCPAgentTools: per-agent tools can be turned off, and an agent
// registered after the adapter was built gets its ask tool on the next
// tools/list.
func TestMCPAgentTools(t *testing.T) {
	t.Parallel()
	agents := parseAgents(t, []byte(`[{"id":"first","name":"First","rules":[{"reply":"1"}]},{"id":"late one","name":"Late","rules":[{"reply":"2"}]}]`))
	admin := auth.WithPrincipal(context.Background(), &auth.Principal{Subject: "t", Kind: auth.KindKey, Admin: true})
	list := func(srv *mcpadapter.Server) []string {
		sess := &goldenSession{ch: make(chan mcpgo.JSONRPCNotification, 100)}
		resp := srv.MCPServer().HandleMessage(srv.MCPServer().WithContext(admin, sess), json.RawMessage(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		b, _ := json.Marshal(resp)
		var r struct {
			Result struct {
				Tools []struct{ Name string } `json:"tools"`
			} `json:"result"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tl := range r.Result.Tools {
			names = append(names, tl.Name)
		}
		return names
	}
	eng := newEngine(t, true, agents[0])
	on := mcpadapter.New(eng, mcpadapter.Config{Settings: mcpadapter.Settings{AgentTools: new(true)}})
	off := mcpadapter.New(eng, mcpadapter.Config{Settings: mcpadapter.Settings{AgentTools: new(false)}})
	if got := strings.Join(list(off), " "); strings.Contains(got, "ask_") {
		t.Errorf("AgentTools off lists %s", got)
	}
	if got := strings.Join(list(on), " "); !strings.Contains(got, "ask_first") {
		t.Errorf("AgentTools on lists %s", got)
	}
	if err := eng.RegisterAgent(agents[1]); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(list(on), " "); !strings.Contains(got, "ask_late_one") {
		t.Errorf("the late agent has no tool: %s", got)
	}
	if got := mcpadapter.AskToolName("a/b c.é"); got != "ask_a_b_c.__" {
		t.Errorf("AskToolName: %q", got)
	}
}
