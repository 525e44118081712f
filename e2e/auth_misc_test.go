package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentgate/agentgate/auth"
)

const (
	miscAudience = "agentgate-e2e"
	miscIssuer   = "https://issuer.e2e.example"
	allowedOrig  = "https://app.example.com"
)

// miscMC mints tokens the misc gateway accepts (audience and issuer set).
var miscMC = auth.MintConfig{Audience: miscAudience, Issuer: miscIssuer}

// b64 is unpadded base64url, as in a JWS.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// craftJWT builds a JWS by hand: header and claims as given, signed with
// HMAC h over the secret (no signature when h is nil).
func craftJWT(t *testing.T, header, claims map[string]any, h func() hash.Hash, secret string) string {
	t.Helper()
	hb, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := b64(hb) + "." + b64(cb)
	if h == nil {
		return signing + "."
	}
	m := hmac.New(h, []byte(secret))
	m.Write([]byte(signing))
	return signing + "." + b64(m.Sum(nil))
}

// TestAuthJWTAttacks sends forged, expired, misaddressed and malformed
// credentials end to end: each gets 401 with the Bearer challenge, on a
// documented (huma) route and on a plain fiber route alike, while public
// routes still answer.
func TestAuthJWTAttacks(t *testing.T) {
	t.Parallel()
	g := startGateway(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n  audience: "+miscAudience+
		"\n  issuer: "+miscIssuer+"\n  leeway: 1s\n  cors_origins: [\""+allowedOrig+"\"]\n"))

	valid := mintMC(t, miscMC, "eve", 10*time.Minute, auth.AdminScope)
	now := time.Now().Unix()
	claims := func(over map[string]any) map[string]any {
		c := map[string]any{"sub": "eve", "scopes": []string{auth.AdminScope}, "aud": miscAudience, "iss": miscIssuer,
			"iat": now, "nbf": now, "exp": now + 600}
		for k, v := range over {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	hs256 := map[string]any{"alg": "HS256", "typ": "JWT"}
	parts := strings.Split(valid, ".")
	forgedPayload := b64([]byte(`{"sub":"eve","scopes":["agent_os:admin"],"aud":"` + miscAudience + `","iss":"` + miscIssuer +
		`","exp":` + strconv.FormatInt(now+99999, 10) + `}`))

	attacks := []struct{ name, authz string }{
		{"alg none", "Bearer " + craftJWT(t, map[string]any{"alg": "none", "typ": "JWT"}, claims(nil), nil, "")},
		{"alg None", "Bearer " + craftJWT(t, map[string]any{"alg": "None"}, claims(nil), nil, "")},
		{"alg none with a signature", "Bearer " + craftJWT(t, map[string]any{"alg": "none"}, claims(nil), sha256.New, authSecret)},
		{"alg HS512 with the right secret", "Bearer " + craftJWT(t, map[string]any{"alg": "HS512"}, claims(nil), sha512.New, authSecret)},
		{"alg RS256 header, HMAC signature", "Bearer " + craftJWT(t, map[string]any{"alg": "RS256"}, claims(nil), sha256.New, authSecret)},
		{"wrong secret", "Bearer " + craftJWT(t, hs256, claims(nil), sha256.New, authSecret+"-not")},
		{"payload swapped under a valid signature", "Bearer " + parts[0] + "." + forgedPayload + "." + parts[2]},
		{"signature stripped", "Bearer " + parts[0] + "." + parts[1] + "."},
		{"expired", "Bearer " + mintMC(t, auth.MintConfig{Audience: miscAudience, Issuer: miscIssuer,
			Extra: map[string]any{"exp": now - 3600}}, "eve", 0, auth.AdminScope)},
		{"expired (hand-made)", "Bearer " + craftJWT(t, hs256, claims(map[string]any{"exp": now - 3600, "iat": now - 7200, "nbf": now - 7200}), sha256.New, authSecret)},
		{"no exp", "Bearer " + craftJWT(t, hs256, claims(map[string]any{"exp": nil}), sha256.New, authSecret)},
		{"not valid yet", "Bearer " + craftJWT(t, hs256, claims(map[string]any{"nbf": now + 3600}), sha256.New, authSecret)},
		{"wrong audience", "Bearer " + mintMC(t, auth.MintConfig{Audience: "someone-else", Issuer: miscIssuer}, "eve", time.Minute, auth.AdminScope)},
		{"no audience", "Bearer " + mintMC(t, auth.MintConfig{Issuer: miscIssuer}, "eve", time.Minute, auth.AdminScope)},
		{"wrong issuer", "Bearer " + mintMC(t, auth.MintConfig{Audience: miscAudience, Issuer: "https://evil.example"}, "eve", time.Minute, auth.AdminScope)},
		{"no subject", "Bearer " + craftJWT(t, hs256, claims(map[string]any{"sub": nil}), sha256.New, authSecret)},
		{"service-account subject", "Bearer " + craftJWT(t, hs256, claims(map[string]any{"sub": "sa:x"}), sha256.New, authSecret)},
		{"security-key subject", "Bearer " + craftJWT(t, hs256, claims(map[string]any{"sub": "key"}), sha256.New, authSecret)},
		{"scopes not strings", "Bearer " + craftJWT(t, hs256, claims(map[string]any{"scopes": []any{1, 2}}), sha256.New, authSecret)},
		{"malformed: one segment", "Bearer abc"},
		{"malformed: garbage segments", "Bearer a.b.c"},
		{"malformed: four segments", "Bearer " + valid + ".x"},
		{"malformed: truncated", "Bearer " + valid[:len(valid)-5]},
		{"malformed: not JSON", "Bearer " + b64([]byte("{")) + "." + b64([]byte("{")) + ".x"},
		{"malformed: long", "Bearer " + strings.Repeat("a", 15000)},
		{"unknown service-account token", "Bearer " + auth.ServiceAccountTokenPrefix + strings.Repeat("A", 43)},
		{"empty bearer", "Bearer "},
		{"basic scheme", "Basic ZXZlOnNlY3JldA=="},
		{"token without scheme", valid},
	}
	targets := []struct {
		method, path string
		body         *reqBody
	}{
		{http.MethodGet, "/agents", nil},
		{http.MethodGet, "/config", nil},
		{http.MethodPost, "/agents/assistant/runs", formBody(url.Values{"message": {"hi"}, "stream": {"false"}})},
		{http.MethodGet, "/sessions", nil},
	}

	// The control: the valid token is accepted everywhere.
	for _, tg := range targets {
		if resp, b := callHeader(t, g, tg.method, tg.path, tg.body, map[string]string{"Authorization": "Bearer " + valid}); resp.StatusCode != http.StatusOK {
			t.Fatalf("valid token: %s %s → %d %s", tg.method, tg.path, resp.StatusCode, truncateBody(b))
		}
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			for _, tg := range targets {
				resp, b := callHeader(t, g, tg.method, tg.path, tg.body, map[string]string{"Authorization": a.authz})
				expect401(t, resp, b)
				if strings.Contains(string(b), "signature") || strings.Contains(string(b), "crypto") {
					t.Errorf("the 401 explains why the token failed (causes must stay private): %s", b)
				}
			}
			// A refused token on a public route goes on as anonymous.
			if resp, b := callHeader(t, g, http.MethodGet, "/health", nil, map[string]string{"Authorization": a.authz}); resp.StatusCode != http.StatusOK {
				t.Errorf("GET /health with a refused token: %d %s", resp.StatusCode, truncateBody(b))
			}
		})
	}

	t.Run("cors", func(t *testing.T) {
		preflight := func(origin string) *http.Response {
			resp, _ := callHeader(t, g, http.MethodOptions, "/agents/assistant/runs", nil, map[string]string{
				"Origin": origin, "Access-Control-Request-Method": "POST",
				"Access-Control-Request-Headers": "authorization,content-type",
			})
			return resp
		}
		resp := preflight(allowedOrig)
		if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
			t.Errorf("preflight from %s: status %d", allowedOrig, resp.StatusCode)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != allowedOrig {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q", allowedOrig, got)
		}
		if got := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "authorization") {
			t.Errorf("preflight: Access-Control-Allow-Headers %q lacks Authorization", got)
		}
		if got := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, "POST") {
			t.Errorf("preflight: Access-Control-Allow-Methods %q lacks POST", got)
		}
		resp = preflight("https://evil.example.com")
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("preflight from another origin: Access-Control-Allow-Origin %q, want none", got)
		}
		// Actual requests: the allowed origin can read answers (401s included).
		resp, _ = callHeader(t, g, http.MethodGet, "/agents", nil, map[string]string{"Origin": allowedOrig, "Authorization": "Bearer " + valid})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != allowedOrig {
			t.Errorf("GET /agents from %s: %d, ACAO %q", allowedOrig, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		resp, _ = callHeader(t, g, http.MethodGet, "/agents", nil, map[string]string{"Origin": allowedOrig})
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Access-Control-Allow-Origin") != allowedOrig {
			t.Errorf("GET /agents from %s without a token: %d, ACAO %q", allowedOrig, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		resp, _ = callHeader(t, g, http.MethodGet, "/agents", nil, map[string]string{"Origin": "https://evil.example.com", "Authorization": "Bearer " + valid})
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("GET /agents from another origin: ACAO %q, want none", got)
		}
	})

	t.Run("token_command", func(t *testing.T) {
		cfgPath := filepath.Join(g.Dir, "agentgate.yaml")
		token := func(args ...string) string {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binPath, append([]string{"token", "--config", cfgPath}, args...)...)
			cmd.Dir = t.TempDir()
			cmd.Env = cleanEnv()
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil {
				t.Fatalf("agentgate token %v: %v\n%s", args, err, errb.String())
			}
			return strings.TrimSpace(out.String())
		}
		reader := token("--sub", "carol", "--scopes", "agents:read, sessions:read")
		if strings.Count(reader, ".") != 2 || strings.ContainsAny(reader, " \n") {
			t.Fatalf("agentgate token printed %q, want one JWT", reader)
		}
		var agents []map[string]any
		decode(t, want(t, g, reader, http.MethodGet, "/agents", nil, http.StatusOK), &agents)
		if len(agents) != 2 {
			t.Errorf("carol sees %d agents", len(agents))
		}
		want(t, g, reader, http.MethodGet, "/sessions", nil, http.StatusOK)
		want(t, g, reader, http.MethodGet, "/config", nil, http.StatusForbidden)
		want(t, g, reader, http.MethodPost, "/agents/assistant/runs", formBody(url.Values{"message": {"x"}, "stream": {"false"}}), http.StatusForbidden)
		per := token("--sub", "carol", "--scopes", "agents:approval-demo:read")
		decode(t, want(t, g, per, http.MethodGet, "/agents", nil, http.StatusOK), &agents)
		if len(agents) != 1 || agents[0]["id"] != "approval-demo" {
			t.Errorf("agents:approval-demo:read lists %v", agents)
		}
		admin := token("--sub", "ops", "--admin")
		want(t, g, admin, http.MethodGet, "/config", nil, http.StatusOK)
		want(t, g, admin, http.MethodGet, "/service-accounts", nil, http.StatusOK)
		short := token("--sub", "carol", "--scopes", "agents:read", "--ttl", "1s")
		time.Sleep(2500 * time.Millisecond) // beyond exp plus the configured 1s leeway
		resp, b := call(t, g, short, http.MethodGet, "/agents", nil)
		expect401(t, resp, b)
		if !strings.Contains(string(b), "expired") {
			t.Errorf("an expired token's 401 should say so: %s", b)
		}
	})
}

// TestAuthRateLimit checks the per-principal token bucket: burst 2 at 1 rps
// lets two quick requests through and answers the third with 429 and
// Retry-After; another principal has its own bucket.
func TestAuthRateLimit(t *testing.T) {
	t.Parallel()
	g := startGateway(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n  rate_limit:\n    rps: 1\n    burst: 2\n"))
	dave := mint(t, "dave", "agents:read")
	erin := mint(t, "erin", "agents:read")
	for i := 1; i <= 2; i++ {
		want(t, g, dave, http.MethodGet, "/agents", nil, http.StatusOK)
	}
	resp, b := call(t, g, dave, http.MethodGet, "/agents", nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third quick request: %d %s, want 429", resp.StatusCode, truncateBody(b))
	}
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 2 {
		t.Errorf("429 Retry-After %q, want 1 or 2 seconds", resp.Header.Get("Retry-After"))
	}
	var e struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(b, &e) != nil || e.Detail == "" {
		t.Errorf("429 body: %s", b)
	}
	// Another principal is not limited by dave's bucket.
	want(t, g, erin, http.MethodGet, "/agents", nil, http.StatusOK)
	// Anonymous callers share a bucket per client IP, public routes included.
	codes := []int{}
	for i := 0; i < 3; i++ {
		r, _ := call(t, g, "", http.MethodGet, "/openapi.json", nil)
		codes = append(codes, r.StatusCode)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Errorf("anonymous GET /openapi.json ×3: %v, want [200 200 429]", codes)
	}
	// The bucket is empty, and probes are still answered: a load balancer's
	// health checks are never rate-limited, with or without credentials.
	for _, tok := range []string{"", dave} {
		for i := 0; i < 5; i++ {
			want(t, g, tok, http.MethodGet, "/health", nil, http.StatusOK)
			want(t, g, tok, http.MethodGet, "/ready", nil, http.StatusOK)
		}
	}
	if r, _ := call(t, g, "", http.MethodGet, "/agents", nil); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("after the probes, anonymous GET /agents: %d, want 429 (the bucket is still empty)", r.StatusCode)
	}
	// After Retry-After, dave is served again.
	time.Sleep(time.Duration(ra) * time.Second)
	want(t, g, dave, http.MethodGet, "/agents", nil, http.StatusOK)
}

// serveProc is an `agentgate serve` started with arbitrary arguments.
type serveProc struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan error
}

func startServe(t *testing.T, cfg string, args ...string) *serveProc {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agentgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, append([]string{"serve", "--config", cfgPath}, args...)...)
	cmd.Dir = dir
	cmd.Env = cleanEnv("AGENTGATE_DATABASE_URL=sqlite://"+filepath.Join(dir, "state.db"), "AGENTGATE_HTTP_SHUTDOWN_TIMEOUT=2s")
	p := &serveProc{cmd: cmd, out: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// listening waits for the listening line and returns the port.
func (p *serveProc) listening(t *testing.T) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(p.out.String()); m != nil {
			_, port, err := net.SplitHostPort(m[1])
			if err != nil {
				t.Fatalf("listening address %q: %v", m[1], err)
			}
			return port
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("serve exited (%v) instead of listening:\n%s", err, p.out.String())
		case <-deadline:
			t.Fatalf("serve did not listen within 20s:\n%s", p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestAuthLoopbackDefault checks that an open gateway (auth none) refuses a
// non-loopback address unless told otherwise, and that key mode may listen
// anywhere.
func TestAuthLoopbackDefault(t *testing.T) {
	t.Parallel()

	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		t.Run("none_refuses_"+addr, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			p := startServe(t, authAgents, "--addr", addr)
			select {
			case err := <-p.done:
				p.done <- err
				if err == nil {
					t.Fatalf("serve on %s without auth exited 0:\n%s", addr, p.out.String())
				}
				out := p.out.String()
				if !regexp.MustCompile(`(?i)auth`).MatchString(out) || !strings.Contains(out, addr) {
					t.Errorf("the refusal should name auth and the address %s:\n%s", addr, out)
				}
				if listeningRE.MatchString(out) {
					t.Errorf("serve logged a listening line before refusing:\n%s", out)
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("refusal took %v", d)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("serve on %s without auth is still running:\n%s", addr, p.out.String())
			}
		})
	}

	for _, c := range []struct{ name, cfg string }{
		{"key_listens_on_0.0.0.0", "auth_mode: key\nsecurity_key: \"" + authKey + "\"\n" + authAgents},
		{"none_with_allow_remote", "auth:\n  allow_remote_without_auth: true\n" + authAgents},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := startServe(t, c.cfg, "--addr", "0.0.0.0:0")
			port := p.listening(t)
			ctx := testCtx(t, 10*time.Second)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/agents", nil)
			if strings.Contains(c.cfg, "auth_mode: key") {
				req.Header.Set("Authorization", "Bearer "+authKey)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /agents: %d", resp.StatusCode)
			}
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-p.done:
				p.done <- err
				if err != nil {
					t.Errorf("serve exited with %v after SIGTERM:\n%s", err, tail(p.out.String(), 3000))
				}
			case <-time.After(10 * time.Second):
				t.Errorf("serve did not stop within 10s of SIGTERM")
			}
		})
	}
}
