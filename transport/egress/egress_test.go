package egress

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	for ip, want := range map[string]string{
		"8.8.8.8":                "",
		"1.1.1.1":                "",
		"2606:4700:4700::1111":   "",
		"127.0.0.1":              "loopback",
		"127.9.9.9":              "loopback",
		"::1":                    "loopback",
		"::ffff:127.0.0.1":       "loopback",
		"10.1.2.3":               "private",
		"172.16.0.1":             "private",
		"192.168.1.1":            "private",
		"fd12::1":                "private",
		"::ffff:192.168.0.1":     "private",
		"169.254.169.254":        "cloud metadata",
		"fd00:ec2::254":          "cloud metadata",
		"::ffff:169.254.169.254": "cloud metadata",
		"169.254.1.1":            "link-local",
		"fe80::1":                "link-local",
		"224.0.0.1":              "multicast",
		"239.1.1.1":              "multicast",
		"ff02::1":                "multicast",
		"0.0.0.0":                "unspecified",
		"::":                     "unspecified",
		"0.1.2.3":                "this network",
		"100.64.0.1":             "shared address space (CGNAT)",
		"100.127.255.254":        "shared address space (CGNAT)",
		"255.255.255.255":        "reserved",
		"64:ff9b::7f00:1":        "loopback (embedded in 64:ff9b::/96)",
		"64:ff9b::a9fe:a9fe":     "cloud metadata (embedded in 64:ff9b::/96)",
		"2002:7f00:1::":          "loopback (embedded in 2002::/16)",
		"::10.0.0.1":             "private (embedded in ::/96)",
		"64:ff9b::808:808":       "",
		"2002:808:808::":         "",
		"100.128.0.1":            "",
		"fe80::1%eth0":           "link-local",
		"198.18.0.1":             "benchmarking",
		"192.0.0.8":              "IETF protocol assignments",
	} {
		if got := Classify(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Classify(%s) = %q, want %q", ip, got, want)
		}
	}
}

func TestParseAllow(t *testing.T) {
	al, err := ParseAllow([]string{"10.0.0.0/8", "127.0.0.1:9000", "[::1]:9001", "192.168.1.5", "hooks.internal.example",
		"Other.Example.:8443", "*.svc.cluster.local"})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr
	for _, c := range []struct {
		ip   string
		port int
		want bool
	}{
		{"10.9.9.9", 1, true}, {"11.0.0.1", 1, false}, {"127.0.0.1", 9000, true}, {"127.0.0.1", 9001, false},
		{"::1", 9001, true}, {"::1", 9000, false}, {"192.168.1.5", 5, true}, {"192.168.1.6", 5, false},
		{"::ffff:10.0.0.1", 80, true},
	} {
		if got := al.ipAllowed(ip(c.ip), c.port); got != c.want {
			t.Errorf("ipAllowed(%s, %d) = %v", c.ip, c.port, got)
		}
	}
	for _, c := range []struct {
		host string
		port int
		want bool
	}{
		{"hooks.internal.example", 1, true}, {"HOOKS.internal.example.", 443, true}, {"x.hooks.internal.example", 1, false},
		{"other.example", 8443, true}, {"other.example", 443, false}, {"a.svc.cluster.local", 80, true},
		{"a.b.svc.cluster.local", 80, true}, {"svc.cluster.local", 80, false}, {"evilsvc.cluster.local", 80, false},
	} {
		if got := al.hostAllowed(c.host, c.port); got != c.want {
			t.Errorf("hostAllowed(%s, %d) = %v", c.host, c.port, got)
		}
	}
	for _, bad := range []string{"", " ", "http://127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999", "host:port", "a b",
		"user@host", "host/path", "*", "*.", "-bad.example", "fe80::1%eth0", "1.2.3.4/33", "::1:80:x"} {
		if _, err := ParseAllow([]string{bad}); err == nil {
			t.Errorf("ParseAllow(%q) accepted", bad)
		}
	}
}

// FuzzParseAllow: the parser never panics, and what it accepts it
// accepts again (parsing is deterministic) and never widens a port rule
// to every port.
func FuzzParseAllow(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "127.0.0.1:9000", "[::1]:1", "a.example", "*.b.example:443", "::ffff:1.2.3.4", "x:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		al, err := ParseAllow([]string{s})
		if err != nil {
			return
		}
		if len(al.prefixes)+len(al.hosts) != 1 {
			t.Fatalf("%q gave %d rules", s, len(al.prefixes)+len(al.hosts))
		}
		if _, p, err := net.SplitHostPort(strings.TrimSpace(s)); err == nil && p != "" {
			for _, r := range al.prefixes {
				if r.port == 0 {
					t.Fatalf("%q allows every port", s)
				}
			}
			for _, r := range al.hosts {
				if r.port == 0 {
					t.Fatalf("%q allows every port", s)
				}
			}
		}
	})
}

func newGuard(t *testing.T, allow ...string) *Guard {
	t.Helper()
	g, err := New(Config{Allow: allow, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func hostPort(t *testing.T, rawURL string) (string, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname(), u.Port()
}

func expectRefused(t *testing.T, err error, reason string) {
	t.Helper()
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T), want a refusal (%s)", err, err, reason)
	}
	if !strings.HasPrefix(re.Reason, reason) {
		t.Fatalf("refused for %q, want %q", re.Reason, reason)
	}
}

// TestClientRefusesInternal: the client refuses each class of internal
// address at connect time, for a literal address and for a name that
// resolves to loopback; the refusal is a *RefusedError (not retried by
// callers). Nothing reaches the loopback listener.
func TestClientRefusesInternal(t *testing.T) {
	reached := 0
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ }))
	defer srv.Close()
	_, port := hostPort(t, srv.URL)
	c := newGuard(t).Client(5 * time.Second)
	for _, c2 := range []struct{ url, reason string }{
		{srv.URL, "loopback"},
		{"http://localhost:" + port + "/", "loopback"},
		{"http://10.255.255.1:81/", "private"},
		{"http://192.168.255.254:81/", "private"},
		{"http://169.254.169.254/latest/meta-data/", "cloud metadata"},
		{"http://169.254.10.10/", "link-local"},
		{"http://224.0.0.1/", "multicast"},
		{"http://0.0.0.0:" + port + "/", "unspecified"},
		{"http://100.64.1.1/", "shared address space"},
		{"http://[::ffff:127.0.0.1]:" + port + "/", "loopback"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c2.url, strings.NewReader("{}"))
		resp, err := c.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: answered %s, want refused", c2.url, resp.Status)
			continue
		}
		var re *RefusedError
		if !errors.As(err, &re) || !strings.HasPrefix(re.Reason, c2.reason) {
			t.Errorf("%s: %v, want refused as %s", c2.url, err, c2.reason)
		}
	}
	if reached != 0 {
		t.Errorf("the loopback listener was reached %d times", reached)
	}
}

// TestClientAllowList: an allow-listed address and port is called; the
// same address on another port is not.
func TestClientAllowList(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer srv.Close()
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer other.Close()
	host, port := hostPort(t, srv.URL)
	c := newGuard(t, net.JoinHostPort(host, port)).Client(5 * time.Second)
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("allowed %s: %v", srv.URL, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Errorf("body %q", b)
	}
	_, err = c.Get(other.URL)
	expectRefused(t, err, "loopback")

	// A host-name entry allows what the name resolves to.
	c = newGuard(t, "localhost:"+port).Client(5 * time.Second)
	if resp, err := c.Get("http://localhost:" + port + "/"); err != nil {
		t.Errorf("allowed localhost:%s: %v", port, err)
	} else {
		resp.Body.Close()
	}
	_, err = c.Get(srv.URL) // the address itself is not listed
	expectRefused(t, err, "loopback")
}

// TestClientRedirectToLoopback: an allowed server redirecting to a
// loopback one that is not allowed is refused at the redirect hop; a
// redirect to a non-http scheme too; redirects are bounded.
func TestClientRedirectToLoopback(t *testing.T) {
	reached := 0
	var innerToken, innerAuth string
	inner := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		reached++
		innerToken, innerAuth = r.Header.Get("X-Hook-Token"), r.Header.Get("Authorization")
	}))
	defer inner.Close()
	hops := 0
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/inner":
			http.Redirect(w, r, inner.URL+"/secret", http.StatusTemporaryRedirect)
		case "/file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/loop":
			hops++
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/self":
			if r.Header.Get("X-Hook-Token") != "t" {
				w.WriteHeader(http.StatusBadRequest)
			}
		default:
			http.Redirect(w, r, "/self", http.StatusTemporaryRedirect)
		}
	}))
	defer outer.Close()
	host, port := hostPort(t, outer.URL)
	g, err := New(Config{Allow: []string{net.JoinHostPort(host, port)}, MaxRedirects: 3})
	if err != nil {
		t.Fatal(err)
	}
	c := g.Client(5*time.Second, "X-Hook-Token")
	req, _ := http.NewRequest(http.MethodPost, outer.URL+"/inner", strings.NewReader("{}"))
	req.Header.Set("X-Hook-Token", "t")
	_, err = c.Do(req)
	expectRefused(t, err, "loopback")
	if reached != 0 {
		t.Errorf("the redirect target was reached %d times", reached)
	}
	_, err = c.Get(outer.URL + "/file")
	expectRefused(t, err, "a redirect to a scheme")
	if _, err = c.Get(outer.URL + "/loop"); err == nil || !strings.Contains(err.Error(), "stopped after 3 redirects") {
		t.Errorf("redirect loop: %v", err)
	}
	if hops != 4 {
		t.Errorf("%d hops of the loop, want 4 (the request and 3 redirects)", hops)
	}
	// A redirect on the same host keeps the headers.
	req, _ = http.NewRequest(http.MethodPost, outer.URL+"/same", strings.NewReader("{}"))
	req.Header.Set("X-Hook-Token", "t")
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("same-host redirect: %v %v", resp, err)
	}
	resp.Body.Close()

	// Both allowed: the redirect to the other host is followed, without
	// the token headers.
	ihost, iport := hostPort(t, inner.URL)
	g, err = New(Config{Allow: []string{net.JoinHostPort(host, port), net.JoinHostPort(ihost, iport)}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(http.MethodPost, outer.URL+"/inner", strings.NewReader("{}"))
	req.Header.Set("X-Hook-Token", "t")
	req.Header.Set("Authorization", "Bearer x")
	resp, err = g.Client(5*time.Second, "X-Hook-Token", "Authorization").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if reached != 1 || innerToken != "" || innerAuth != "" {
		t.Errorf("redirected %d times with token %q, authorization %q; want once, without them", reached, innerToken, innerAuth)
	}
}

func TestCheckURL(t *testing.T) {
	g := newGuard(t, "127.0.0.1:9000", "hooks.internal.example")
	ctx := context.Background()
	for raw, reason := range map[string]string{
		"http://127.0.0.1/x":           "loopback",
		"http://127.0.0.1:9001/x":      "loopback",
		"https://localhost/":           "loopback",
		"http://a.localhost:9002/":     "loopback",
		"http://[::1]:9000/":           "loopback",
		"http://10.0.0.1/":             "private",
		"http://169.254.169.254/":      "cloud metadata",
		"http://[fe80::1%25eth0]:80/":  "link-local",
		"http://[::ffff:10.0.0.1]:80/": "private",
		"http://0.0.0.0/":              "unspecified",
	} {
		expectRefusedURL(t, g.CheckURL(ctx, raw), raw, reason)
	}
	for _, raw := range []string{"http://127.0.0.1:9000/hook", "https://hooks.internal.example/x", "http://8.8.8.8/",
		"https://unresolvable.invalid/"} {
		if err := g.CheckURL(ctx, raw); err != nil {
			t.Errorf("CheckURL(%s): %v", raw, err)
		}
	}
	for _, raw := range []string{"ftp://example.com/", "/relative", "http://", "http://example.com:0/", "http://example.com:70000/"} {
		if err := g.CheckURL(ctx, raw); err == nil {
			t.Errorf("CheckURL(%s) accepted", raw)
		}
	}
}

func expectRefusedURL(t *testing.T, err error, raw, reason string) {
	t.Helper()
	var re *RefusedError
	if !errors.As(err, &re) || !strings.HasPrefix(re.Reason, reason) {
		t.Errorf("CheckURL(%s) = %v, want refused as %s", raw, err, reason)
	}
}
