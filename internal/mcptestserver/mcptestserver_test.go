package mcptestserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// runEnv, set in a child's environment, makes the test binary run the
// command (Run) with these space-separated arguments ("-" for none).
const runEnv = "MCPTESTSERVER_RUN"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(runEnv); ok {
		var argv []string
		if args != "-" {
			argv = strings.Fields(args)
		}
		if err := Run(context.Background(), argv, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "mcptestserver:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// command runs this test binary as the mcptestserver command.
func command(t *testing.T, args string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), runEnv+"="+args, "GORACE=atexit_sleep_ms=0")
	return cmd
}

func connect(t *testing.T, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	req := mcp.InitializeRequest{}
	req.Params.ClientInfo = mcp.Implementation{Name: "test", Version: "0"}
	res, err := c.Initialize(ctx, req)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if res.Capabilities.Tools == nil || !res.Capabilities.Tools.ListChanged {
		t.Fatalf("tools capability = %+v, want listChanged", res.Capabilities.Tools)
	}
}

func listNames(t *testing.T, c *client.Client) []string {
	t.Helper()
	res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	return names
}

func callTool(t *testing.T, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(context.Background(), req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

func text(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) != 1 {
		t.Fatalf("content = %+v", res.Content)
	}
	tc, ok := mcp.AsTextContent(res.Content[0])
	if !ok {
		t.Fatalf("content = %+v", res.Content[0])
	}
	return tc.Text
}

// exercise checks every tool; pid is the server's process id.
func exercise(t *testing.T, c *client.Client, pid int) {
	t.Helper()
	if got := strings.Join(listNames(t, c), ","); got != "add,add_tool,chart,echo,fail,pid,slow" {
		t.Fatalf("tools = %s", got)
	}
	if got := text(t, callTool(t, c, "echo", map[string]any{"text": "hi"})); got != "hi" {
		t.Fatalf("echo = %q", got)
	}
	if got := text(t, callTool(t, c, "add", map[string]any{"a": 2, "b": 0.5})); got != "2.5" {
		t.Fatalf("add = %q", got)
	}
	if got := text(t, callTool(t, c, "pid", nil)); got != strconv.Itoa(pid) {
		t.Fatalf("pid = %q, want %d", got, pid)
	}
	if got := text(t, callTool(t, c, "slow", map[string]any{"ms": 10})); got != "done" {
		t.Fatalf("slow = %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = "slow"
	req.Params.Arguments = map[string]any{"ms": 10000}
	if _, err := c.CallTool(ctx, req); err == nil {
		t.Fatal("slow past its deadline: want an error")
	}
	if res := callTool(t, c, "fail", nil); !res.IsError || text(t, res) != "boom" {
		t.Fatalf("fail = %+v", res)
	}
	if got := text(t, callTool(t, c, "add_tool", nil)); got != "added extra" {
		t.Fatalf("add_tool = %q", got)
	}
	if names := listNames(t, c); !slices.Contains(names, "extra") {
		t.Fatalf("tools after add_tool = %v", names)
	}
	if got := text(t, callTool(t, c, "extra", nil)); got != "extra" {
		t.Fatalf("extra = %q", got)
	}
}

func TestCommandHTTP(t *testing.T) {
	t.Parallel()
	cmd := command(t, "-http 127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("first line: %q, %v", line, err)
	}
	url := strings.TrimSpace(line)
	if !regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+/mcp$`).MatchString(url) {
		t.Fatalf("first line = %q", line)
	}
	c, err := client.NewStreamableHttpClient(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	connect(t, c)
	exercise(t, c, cmd.Process.Pid)
}

func TestCommandStdio(t *testing.T) {
	t.Parallel()
	cmd := command(t, "-")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(transport.NewIO(stdout, stdin, nil))
	connect(t, c)
	exercise(t, c, cmd.Process.Pid)
	// The server ends with its input.
	_ = c.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the server did not exit when its stdin closed")
	}
}

func TestRunBadFlag(t *testing.T) {
	t.Parallel()
	if err := Run(context.Background(), []string{"-nope"}, io.Discard); err == nil {
		t.Fatal("want an error for an unknown flag")
	}
}

func TestRunHTTPStopsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, []string{"-http", "127.0.0.1:0"}, w) }()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://127.0.0.1:") {
		t.Fatalf("first line = %q, %v", line, err)
	}
	c, err := client.NewStreamableHttpClient(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	connect(t, c)
	if got := text(t, callTool(t, c, "echo", map[string]any{"text": "in process"})); got != "in process" {
		t.Fatalf("echo = %q", got)
	}
	_ = c.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}
