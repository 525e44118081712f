package e2e

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// What a newcomer meets in the first hour: every error names its fix.

// TestErrorsNameTheFix checks the messages of the usual first mistakes,
// through the binary and over HTTP.
func TestErrorsNameTheFix(t *testing.T) {
	t.Parallel()

	t.Run("jwt_key_not_pem", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 20*time.Second)
		// A shared secret with the default algorithm (RS256).
		env := []string{"AGENTGATE_AUTH_MODE=jwt", "AGENTGATE_JWT_KEY=" + authSecret}
		for _, args := range [][]string{{"config", "check"}, {"serve", "--addr", "127.0.0.1:0"}} {
			out, err := runCLI(t, ctx, env, args...)
			if err == nil {
				t.Fatalf("%v with a non-PEM RS256 key exited 0:\n%s", args, out)
			}
			for _, want := range []string{"RS256", "PEM", "HS256", "AGENTGATE_AUTH_JWT_ALGORITHM"} {
				if !strings.Contains(out, want) {
					t.Errorf("%v: the error should name %s:\n%s", args, want, out)
				}
			}
			if strings.Contains(out, "auth: auth:") {
				t.Errorf("%v: doubled prefix:\n%s", args, out)
			}
		}
	})

	t.Run("missing_variables", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 20*time.Second)
		for _, c := range []struct {
			env  []string
			want string
		}{
			{[]string{"AGENTGATE_AUTH_MODE=key"}, "AGENTGATE_SECURITY_KEY"},
			{[]string{"AGENTGATE_AUTH_MODE=jwt"}, "AGENTGATE_JWT_KEY"},
		} {
			out, err := runCLI(t, ctx, c.env, "serve", "--addr", "127.0.0.1:0")
			if err == nil || !strings.Contains(out, c.want) || strings.Contains(out, "auth: auth:") {
				t.Errorf("serve with %v: %v; want an error naming %s, once prefixed:\n%s", c.env, err, c.want, out)
			}
		}
	})

	t.Run("rest_403_names_the_scope", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n"))
		reader := mint(t, "carol", "agents:read")
		for _, c := range []struct {
			method, path string
			body         *reqBody
			scope        string
		}{
			{http.MethodPost, "/agents/assistant/runs", formBody(map[string][]string{"message": {"hi"}}), "agents:assistant:run"}, // a plain route
			{http.MethodGet, "/sessions", nil, "sessions:read"},                                                                   // a huma route
		} {
			resp, b := call(t, g, reader, c.method, c.path, c.body)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "needs scope "+c.scope) {
				t.Errorf("%s %s: %d %s; want 403 naming the missing scope %s", c.method, c.path, resp.StatusCode, b, c.scope)
			}
			if ch := resp.Header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="`+c.scope+`"`) {
				t.Errorf("%s %s: WWW-Authenticate %q; want insufficient_scope with scope=%q", c.method, c.path, ch, c.scope)
			}
		}
		b := want(t, g, reader, http.MethodGet, "/service-accounts", nil, http.StatusForbidden)
		if !strings.Contains(string(b), "agent_os:admin") {
			t.Errorf("an admin-only route's 403 should name agent_os:admin: %s", b)
		}
	})

	t.Run("run_401_mentions_token", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, "auth_mode: key\nsecurity_key: \""+authKey+"\"\n"+authAgents)
		ctx := testCtx(t, 20*time.Second)
		out, err := runCLI(t, ctx, nil, "run", "assistant", "hi", "--url", g.URL)
		if err == nil || !strings.Contains(out, "401") || !strings.Contains(out, "--token") || !strings.Contains(out, "AGENTGATE_TOKEN") {
			t.Errorf("agentgate run without a token against an auth gateway: %v; want a 401 naming --token and AGENTGATE_TOKEN:\n%s", err, out)
		}
		out, err = runCLI(t, ctx, nil, "run", "assistant", "hi", "--url", g.URL, "--token", "wrong-key-wrong-key")
		if err == nil || !strings.Contains(out, "401") || !strings.Contains(out, "refused") {
			t.Errorf("agentgate run with a wrong token: %v; want a 401 saying the token was refused:\n%s", err, out)
		}
		out, err = runCLI(t, ctx, nil, "run", "assistant", "hi", "--url", g.URL, "--token", authKey)
		if err != nil || !strings.Contains(out, "You said: hi") {
			t.Errorf("agentgate run with the key: %v\n%s", err, out)
		}
	})

	t.Run("multipart_wrong_boundary", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, errorsConfig)
		ctx := testCtx(t, 20*time.Second)
		body := "--right\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhi\r\n--right--\r\n"
		resp := g.do(t, ctx, http.MethodPost, "/agents/assistant/runs", strings.NewReader(body), "multipart/form-data; boundary=wrong", nil)
		d, _ := expectDetail(t, resp, http.StatusBadRequest)["detail"].(string)
		if !strings.Contains(d, "multipart") || !strings.Contains(d, `"wrong"`) || strings.Contains(d, "message is required") {
			t.Errorf("a wrong boundary: %q; want it to say the body is not multipart with boundary \"wrong\"", d)
		}
	})

	t.Run("mcp_batch", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, errorsConfig)
		batch := `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/list"}]`
		resp, b := callHeader(t, g, http.MethodPost, "/mcp", &reqBody{ct: "application/json", data: []byte(batch)},
			map[string]string{"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("MCP batch: status %d, want 400: %s", resp.StatusCode, b)
		}
		code, msg := mcpRPCError(t, b)
		if code != -32600 || !strings.Contains(msg, "batch") || strings.Contains(msg, "not valid json") {
			t.Errorf("MCP batch: error %d %q; want -32600 saying batches are not supported", code, msg)
		}
	})
}

// writeFile writes a file under dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAccessLog: one line per request, with its method, path, status,
// duration and request id; log.access turns it off, log.access_level
// lowers it below log_level.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	g := startGateway(t, errorsConfig)
	ctx := testCtx(t, 20*time.Second)
	reqs := []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/health", 200},
		{http.MethodGet, "/agents/nope", 404},
		{http.MethodPost, "/agents/assistant/runs", 200},
	}
	for _, r := range reqs {
		var resp *http.Response
		if r.method == http.MethodPost {
			resp = g.postForm(t, ctx, r.path, map[string][]string{"message": {"hi"}, "stream": {"false"}})
		} else {
			resp = g.get(t, ctx, r.path)
		}
		readAll(t, resp)
		if resp.StatusCode != r.status {
			t.Fatalf("%s %s: %d, want %d", r.method, r.path, resp.StatusCode, r.status)
		}
		id := resp.Header.Get("X-Request-ID")
		if id == "" {
			t.Fatalf("%s %s: no X-Request-ID", r.method, r.path)
		}
		// The line is written as the answer goes out: wait for it.
		waitLog(t, g.stderr, "request_id="+id, 5*time.Second)
		var lines []string
		for l := range strings.SplitSeq(g.Logs(), "\n") {
			if strings.Contains(l, "msg=request ") && strings.Contains(l, "request_id="+id) {
				lines = append(lines, l)
			}
		}
		if len(lines) != 1 {
			t.Fatalf("%s %s: %d access-log lines with request_id=%s, want 1:\n%s", r.method, r.path, len(lines), id, g.Logs())
		}
		l := lines[0]
		for _, want := range []string{"level=INFO", "method=" + r.method, "path=" + r.path, "status=" + strconv.Itoa(r.status), "dur="} {
			if !strings.Contains(l, want) {
				t.Errorf("access-log line lacks %s: %s", want, l)
			}
		}
	}

	for _, cfg := range []string{"log: {access: false}\n", "log: {access_level: debug}\n"} {
		q := startGateway(t, cfg+errorsConfig)
		for range 3 {
			expectStatus(t, q.get(t, ctx, "/health"), http.StatusOK)
		}
		// A request logged after the probes would show the log is written.
		expectStatus(t, q.get(t, ctx, "/agents/nope"), http.StatusNotFound)
		if strings.Contains(q.Logs(), "msg=request ") {
			t.Errorf("with %q and log_level info, requests were logged:\n%s", cfg, q.Logs())
		}
	}
}

// TestOpenOnNetworkWarns: an open gateway (auth none) allowed to listen
// beyond loopback says so loudly; on loopback it does not.
func TestOpenOnNetworkWarns(t *testing.T) {
	t.Parallel()
	const warning = "listening beyond loopback without authentication"
	p := startServe(t, "auth:\n  allow_remote_without_auth: true\n"+authAgents, "--addr", "0.0.0.0:0")
	p.listening(t)
	waitLog(t, p.out, warning, 5*time.Second)
	if !strings.Contains(p.out.String(), "level=WARN") {
		t.Errorf("the warning is not at level WARN:\n%s", p.out.String())
	}
	q := startServe(t, authAgents, "--addr", "127.0.0.1:0")
	q.listening(t)
	if strings.Contains(q.out.String(), warning) {
		t.Errorf("a loopback gateway warned about exposure:\n%s", q.out.String())
	}
}

// waitLog waits until out contains s.
func waitLog(t *testing.T, out *lockedBuffer, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log within %v:\n%s", s, d, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeBindsBeforeOpeningTheDatabase: serve binds its port before it
// opens (and migrates) the database, and answers there meanwhile: /health
// 200, /ready 503, other routes 503 with Retry-After. Here the database is
// a listener that never answers, so the gateway stays starting until pgx's
// connect timeout, then exits naming the store.
func TestServeBindsBeforeOpeningTheDatabase(t *testing.T) {
	t.Parallel()
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = hole.Close()
		mu.Lock()
		for _, c := range held {
			_ = c.Close()
		}
		mu.Unlock()
	})
	dir := t.TempDir()
	cmd := exec.Command(binPath, "serve", "--addr", "127.0.0.1:0", "--config", writeFile(t, dir, "c.yaml", errorsConfig))
	cmd.Dir = dir
	cmd.Env = cleanEnv("AGENTGATE_DATABASE_URL=postgres://root@" + hole.Addr().String() + "/test?sslmode=disable&connect_timeout=8")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
			<-done
		}
	})
	boundRE := regexp.MustCompile(`port bound\W.*?\baddr=(\S+)`)
	waitLog(t, out, "port bound", 10*time.Second)
	base := "http://" + boundRE.FindStringSubmatch(out.String())[1]
	ctx := testCtx(t, 20*time.Second)
	get := func(path string) (*http.Response, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s while starting: %v\n%s", path, err, out.String())
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	if resp, b := get("/health"); resp.StatusCode != http.StatusOK {
		t.Errorf("/health while the database is unreachable: %d %s, want 200", resp.StatusCode, b)
	}
	if resp, b := get("/ready"); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(b, `"ready":false`) {
		t.Errorf("/ready while starting: %d %s, want 503 ready:false", resp.StatusCode, b)
	}
	if resp, b := get("/agents"); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("/agents while starting: %d %s (Retry-After %q), want 503 with Retry-After", resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
	if listeningRE.MatchString(out.String()) {
		t.Errorf("logged the listening line before the database was open:\n%s", out.String())
	}
	select {
	case err := <-done:
		done <- err // for the cleanup
		if err == nil || !strings.Contains(out.String(), "state store") {
			t.Errorf("serve with an unreachable database: %v; want an error naming the state store:\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve still starting 30s after the database stopped answering:\n%s", out.String())
	}
	// The port is released.
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second); err == nil {
		c.Close()
		t.Errorf("the port still accepts connections after serve exited")
	}
}

// TestDefaultDatabaseIsSharedAcrossDirectories: with no database_url,
// `serve` and an `mcp --stdio` started from another working directory (as
// an IDE does) use the same SQLite file, in the user's data directory, and
// both log its absolute path.
func TestDefaultDatabaseIsSharedAcrossDirectories(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	want := filepath.Join(home, ".local", "share", "agentgate", "agentgate.db")
	env := []string{"HOME=" + home, "XDG_DATA_HOME="}
	g := launch(t, errorsConfig, func(string) []string { return env }, nil)
	if !strings.Contains(g.Logs(), "path="+want) {
		t.Errorf("serve does not log the default SQLite path %s:\n%s", want, g.Logs())
	}
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("the default database file: %v", err)
	}
	ctx := testCtx(t, 30*time.Second)
	var r run
	decode(t, expectStatus(t, g.postForm(t, ctx, "/agents/assistant/runs", map[string][]string{"message": {"remember me"}, "stream": {"false"}}), http.StatusOK), &r)

	c, stderr, err := mcpStdio(t, errorsConfig, append(env, "AGENTGATE_DATABASE_URL=", "AGENTGATE_LOG_LEVEL=info")...)
	if err != nil {
		t.Fatalf("mcp --stdio: %v\n%s", err, stderr.String())
	}
	res, _, err := mcpCall(t, ctx, c, "get_session_runs", map[string]any{"session_id": r.SessionID}, nil)
	if err != nil || res.IsError || !strings.Contains(mcpText(res), r.RunID) {
		t.Errorf("mcp --stdio (another working directory) does not see serve's run %s: %v %+v", r.RunID, err, res)
	}
	if !strings.Contains(stderr.String(), "path="+want) {
		t.Errorf("mcp --stdio does not log the default SQLite path %s:\n%s", want, stderr.String())
	}
}

// TestReadmeA2AExamples runs the README's A2A block, as written, with bash
// and curl against a gateway on the embedded demo config: every command
// succeeds (no error answer), the followed task completes and the one
// cancelled while working is canceled.
func TestReadmeA2AExamples(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's examples need %s: %v", tool, err)
		}
	}
	demo, err := os.ReadFile(filepath.Join("..", "configs", "agentgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const first = "A=http://127.0.0.1:7777/a2a/agents\n"
	m := regexp.MustCompile("(?s)```sh\n(" + regexp.QuoteMeta(first) + ".*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatalf("no sh block starting with %q in README.md", first)
	}
	g := startGateway(t, string(demo))
	script := "A=" + g.URL + "/a2a/agents\n" + strings.TrimPrefix(string(m[1]), first)
	cmd := exec.CommandContext(testCtx(t, 40*time.Second), "bash", "-eu", "-c", script)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's A2A block failed: %v\n%s", err, out)
	}
	for _, want := range []string{`"protocolVersion"`, "TASK_STATE_COMPLETED", `"kind":"task"`, "TASK_STATE_CANCELED"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the README's A2A block printed no %s:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), `"error":`) {
		t.Errorf("a command of the README's A2A block got an error answer:\n%s", out)
	}
}

// TestReadmeTryIt runs the README's "Try it" block, as written, with bash,
// curl and the agentgate binary against a gateway on the embedded demo
// config; RUN_ID is the run the block's background request started.
func TestReadmeTryIt(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's examples need %s: %v", tool, err)
		}
	}
	demo, err := os.ReadFile(filepath.Join("..", "configs", "agentgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Try it\n\n```sh\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal(`no sh block under "## Try it" in README.md`)
	}
	g := startGateway(t, string(demo))
	block := strings.ReplaceAll(string(m[1]), "localhost:7777", g.Addr)
	// RUN_ID: the first background run the block starts (its 202 answer).
	block = strings.Replace(block, "-F background=true -F stream=false\n",
		"-F background=true -F stream=false | tee /dev/stderr | grep -o '\"run_id\":\"[^\"]*\"' | cut -d'\"' -f4 > run_id\nRUN_ID=$(cat run_id)\n", 1)
	block = strings.ReplaceAll(block, "RUN_ID/", "$RUN_ID/")
	block = strings.ReplaceAll(block, "runs/RUN_ID\n", "runs/$RUN_ID\n")
	cmd := exec.CommandContext(testCtx(t, 50*time.Second), "bash", "-e", "-c", block)
	cmd.Dir = t.TempDir()
	cmd.Env = cleanEnv("PATH="+filepath.Dir(binPath)+string(os.PathListSeparator)+os.Getenv("PATH"), "AGENTGATE_ADDR="+g.Addr)
	cmd.Stdin = strings.NewReader("y\n") // approval-demo asks to confirm its tool call
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's Try it block failed: %v\n%s", err, out)
	}
	for _, want := range []string{"event: RunCompleted", `"status":"COMPLETED"`, `"status":"PENDING"`, "the current time is", "returned 42", "You said", `"cancelling":false`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the Try it block printed no %q:\n%s", want, out)
		}
	}
	if regexp.MustCompile(`"detail":"(run|agent|session) .*not found`).Match(out) || strings.Contains(string(out), "event: error") {
		t.Errorf("a command of the Try it block got an error answer:\n%s", out)
	}
}

// TestReadmeNodeSnippet runs the README's Node WebSocket snippet, as an ES
// module (which it says it is), with the ws package of e2e/node: it prints
// the demo's reply and exits when the run completes.
func TestReadmeNodeSnippet(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (Node 20+ is needed for the real-client test): %v", err)
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", "ws", "package.json")); err != nil {
		t.Fatalf("e2e/node/node_modules is missing: run `npm ci` in e2e/node (make node-deps): %v", err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```js\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("no js block in README.md")
	}
	if !regexp.MustCompile(`(?i)ES module.*\.mjs`).Match(readme) {
		t.Error("the README should say the Node snippet is an ES module (.mjs)")
	}
	demo, err := os.ReadFile(filepath.Join("..", "configs", "agentgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, string(demo))
	src := strings.ReplaceAll(string(m[1]), "127.0.0.1:7777", g.Addr)
	// An ES module evaluated in e2e/node, where `ws` resolves.
	cmd := exec.CommandContext(testCtx(t, 30*time.Second), node, "--input-type=module", "-e", src)
	cmd.Dir = "node"
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `You said: "hi"`) {
		t.Fatalf("the README's Node snippet: %v\n%s", err, out)
	}
}
