package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tools from external MCP servers (the mcp-go test server, a real process
// speaking MCP over stdio or Streamable HTTP), used by an agent through the
// gateway binary. A server killed in the middle of a tool call makes that
// call a ToolCallError and the run goes on; the gateway reconnects (a new
// process for stdio; the same URL for HTTP) and later calls work.

var (
	mcpServerOnce sync.Once
	mcpServerBin  string
	mcpServerErr  error
)

// mcpTestServer builds internal/mcptestserver's command once.
func mcpTestServer(t *testing.T) string {
	t.Helper()
	mcpServerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mcptestserver-")
		if err != nil {
			mcpServerErr = err
			return
		}
		mcpServerBin = filepath.Join(dir, "mcptestserver")
		cmd := exec.Command(goTool(), "build", "-o", mcpServerBin, "github.com/agentgate/agentgate/internal/mcptestserver/cmd/mcptestserver")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			mcpServerErr = fmt.Errorf("build mcptestserver: %v\n%s", err, out)
		}
	})
	if mcpServerErr != nil {
		t.Fatal(mcpServerErr)
	}
	return mcpServerBin
}

// startHTTPMCPServer starts the test server on addr over Streamable HTTP and
// returns its URL and process.
func startHTTPMCPServer(t *testing.T, bin, addr string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(bin, "-http", addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("mcptestserver -http: %v", err)
	}
	return strings.TrimSpace(line), cmd
}

const mcpToolsConfig = `
models:
  m:
    provider: scripted
    model: mcp-1
    script:
      - match: pid
        tool_calls: [{name: mt_pid}]
        reply: "pid {{tool_result}}"
      - match: slow
        tool_calls:
          - {name: mt_echo, arguments: {text: before}}
          - {name: mt_slow, arguments: {ms: 8000}}
        reply: "after the slow call: {{tool_result}}"
      - match: grow
        tool_calls: [{name: mt_add_tool}]
        reply: "grown: {{tool_result}}"
      - match: fail
        tool_calls: [{name: mt_fail}]
        reply: "failed: {{tool_result}}"
mcp_servers:
  mt:
    %s
    call_timeout: 20s
agents:
  - id: mcp
    model: m
    tools: [{mcp_server: mt}, calculator]
`

// runMCP runs the agent on msg and returns its events; onStarted is called
// with the tool name of each ToolCallStarted as it streams.
func runMCP(t *testing.T, g *gateway, msg string, onStarted func(string)) []event {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	resp := g.postForm(t, ctx, "/agents/mcp/runs", url.Values{"message": {msg}, "stream": {"true"}})
	expectSSE(t, resp)
	defer resp.Body.Close()
	var frames []frame
	sr := newSSEReader(resp.Body)
	for {
		f, err := sr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SSE stream failed after %d frames: %v", len(frames), err)
		}
		frames = append(frames, f)
		if f.Event == "ToolCallStarted" && onStarted != nil {
			var ev struct {
				Tool struct {
					ToolName string `json:"tool_name"`
				} `json:"tool"`
			}
			decode(t, []byte(f.Data), &ev)
			onStarted(ev.Tool.ToolName)
		}
	}
	evs := events(t, frames, 0)
	if last := evs[len(evs)-1]; last.Event != "RunCompleted" {
		t.Fatalf("run %q ended with %s: %v", msg, last.Event, types(frames))
	}
	return evs
}

func toolOutcomes(t *testing.T, evs []event) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ev := range evs {
		if ev.Event != "ToolCallCompleted" && ev.Event != "ToolCallError" {
			continue
		}
		var tool struct {
			ToolName string `json:"tool_name"`
			Result   string `json:"result"`
		}
		decode(t, *ev.Tool, &tool)
		out[tool.ToolName] = ev.Event + ": " + tool.Result
	}
	return out
}

func pidOf(t *testing.T, g *gateway) int {
	t.Helper()
	res := toolOutcomes(t, runMCP(t, g, "pid please", nil))["mt_pid"]
	pid, err := strconv.Atoi(strings.TrimPrefix(res, "ToolCallCompleted: "))
	if err != nil {
		t.Fatalf("mt_pid: %q", res)
	}
	return pid
}

func agentToolNames(t *testing.T, g *gateway) string {
	t.Helper()
	b := expectStatus(t, g.get(t, testCtx(t, 5*time.Second), "/agents/mcp"), http.StatusOK)
	var a struct {
		Tools struct { // AgentOS's tools block
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		} `json:"tools"`
	}
	decode(t, b, &a)
	var names []string
	for _, tl := range a.Tools.Tools {
		names = append(names, tl.Name)
	}
	return strings.Join(names, ",")
}

func TestMCPServerToolsStdio(t *testing.T) {
	t.Parallel()
	bin := mcpTestServer(t)
	g := startGateway(t, fmt.Sprintf(mcpToolsConfig, "command: "+bin))
	if names := agentToolNames(t, g); !strings.Contains(names, "calculator") || !strings.Contains(names, "mt_echo") || !strings.Contains(names, "mt_slow") {
		t.Fatalf("agent tools: %s", names)
	}
	pid := pidOf(t, g)

	// An error result of the server is a ToolCallError; the run goes on.
	if r := toolOutcomes(t, runMCP(t, g, "fail please", nil))["mt_fail"]; !strings.HasPrefix(r, "ToolCallError") || !strings.Contains(r, "boom") {
		t.Fatalf("mt_fail: %q", r)
	}

	// Kill the server during mt_slow: that call fails at once, the run
	// completes, and the next call runs on a new server process.
	start := time.Now()
	evs := runMCP(t, g, "slow please", func(name string) {
		if name == "mt_slow" {
			time.Sleep(200 * time.Millisecond) // let the call reach the server
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Errorf("kill %d: %v", pid, err)
			}
		}
	})
	res := toolOutcomes(t, evs)
	if !strings.HasPrefix(res["mt_echo"], "ToolCallCompleted: before") || !strings.HasPrefix(res["mt_slow"], "ToolCallError") {
		t.Fatalf("tool outcomes: %v", res)
	}
	if took := time.Since(start); took > 6*time.Second {
		t.Fatalf("the killed call took %s: it should fail as soon as the server dies", took)
	}
	var newPID int
	deadline := time.Now().Add(15 * time.Second)
	for {
		res := toolOutcomes(t, runMCP(t, g, "pid please", nil))["mt_pid"]
		if strings.HasPrefix(res, "ToolCallCompleted") {
			newPID, _ = strconv.Atoi(strings.TrimPrefix(res, "ToolCallCompleted: "))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reconnection: mt_pid still %q", res)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if newPID == 0 || newPID == pid {
		t.Fatalf("pid after restart %d (before %d)", newPID, pid)
	}

	// tools/list_changed: a tool the server adds while running is offered.
	runMCP(t, g, "grow please", nil)
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(agentToolNames(t, g), "mt_extra") {
		if time.Now().After(deadline) {
			t.Fatalf("mt_extra never listed: %s", agentToolNames(t, g))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestMCPServerToolsHTTP(t *testing.T) {
	t.Parallel()
	bin := mcpTestServer(t)
	mcpURL, srv := startHTTPMCPServer(t, bin, "127.0.0.1:0")
	u, err := url.Parse(mcpURL)
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, fmt.Sprintf(mcpToolsConfig, "url: "+mcpURL))
	pid := pidOf(t, g)
	if pid != srv.Process.Pid {
		t.Fatalf("mt_pid says %d, the server is %d", pid, srv.Process.Pid)
	}

	evs := runMCP(t, g, "slow please", func(name string) {
		if name == "mt_slow" {
			time.Sleep(200 * time.Millisecond)
			_ = srv.Process.Kill()
		}
	})
	if res := toolOutcomes(t, evs); !strings.HasPrefix(res["mt_slow"], "ToolCallError") {
		t.Fatalf("tool outcomes: %v", res)
	}
	_ = srv.Wait()
	// While the server is down a call fails (and the run still completes).
	if r := toolOutcomes(t, runMCP(t, g, "pid please", nil))["mt_pid"]; !strings.HasPrefix(r, "ToolCallError") {
		t.Fatalf("mt_pid with the server down: %q", r)
	}
	// The server comes back on the same address: calls work again.
	_, srv2 := startHTTPMCPServer(t, bin, u.Host)
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := toolOutcomes(t, runMCP(t, g, "pid please", nil))["mt_pid"]
		if r == "ToolCallCompleted: "+strconv.Itoa(srv2.Process.Pid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reconnection: mt_pid %q", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
