package auth

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJWKSFile(t *testing.T) {
	k := getKeys(t)
	t.Run("RS256", func(t *testing.T) {
		f := writeFile(t, "jwks.json", jwks(rsaJWK("k1", &k.rsa.PublicKey), rsaJWK("k2", &k.rsa2.PublicKey),
			ecJWK("e1", &k.ec.PublicKey), map[string]any{"kty": "RSA", "kid": "enc", "use": "enc"}))
		a := mustNew(t, Config{Mode: "jwt", JWT: JWTConfig{Algorithm: AlgRS256, JWKSFile: f}}, nil)
		for kid, key := range map[string]string{"k1": k.rsaPrivPEM, "k2": k.rsa2PrivPEM} {
			tok := mustMint(t, MintConfig{Algorithm: AlgRS256, KeyID: kid}, key, "alice", []string{"agents:read"}, time.Hour)
			if _, err := a.AuthenticateToken(bg, tok); err != nil {
				t.Errorf("kid %s: %v", kid, err)
			}
		}
		// kid k1 but signed by k2's key
		tok := mustMint(t, MintConfig{Algorithm: AlgRS256, KeyID: "k1"}, k.rsa2PrivPEM, "alice", nil, time.Hour)
		_, err := a.AuthenticateToken(bg, tok)
		wantCode(t, err, core.CodeUnauthorized)
		// unknown kid, no kid (several keys), kid of a key for another algorithm
		for _, kid := range []string{"k9", "", "e1", "enc"} {
			tok := mustMint(t, MintConfig{Algorithm: AlgRS256, KeyID: kid}, k.rsaPrivPEM, "alice", nil, time.Hour)
			_, err := a.AuthenticateToken(bg, tok)
			wantCode(t, err, core.CodeUnauthorized)
		}
	})
	t.Run("ES256 single key without kid", func(t *testing.T) {
		jwk := ecJWK("", &k.ec.PublicKey)
		delete(jwk, "kid")
		f := writeFile(t, "jwks.json", jwks(jwk))
		a := mustNew(t, Config{Mode: "jwt", JWT: JWTConfig{Algorithm: AlgES256, JWKSFile: f}}, nil)
		tok := mustMint(t, MintConfig{Algorithm: AlgES256}, k.ecPrivPEM, "alice", nil, time.Hour)
		if _, err := a.AuthenticateToken(bg, tok); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("HS256 oct", func(t *testing.T) {
		f := writeFile(t, "jwks.json", jwks(map[string]any{"kty": "oct", "kid": "h1",
			"k": base64.RawURLEncoding.EncodeToString([]byte(testSecret))}))
		a := mustNew(t, Config{Mode: "jwt", JWT: JWTConfig{Algorithm: AlgHS256, JWKSFile: f}}, nil)
		tok := mustMint(t, MintConfig{Algorithm: AlgHS256, KeyID: "h1"}, testSecret, "alice", nil, time.Hour)
		if _, err := a.AuthenticateToken(bg, tok); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("bad sets", func(t *testing.T) {
		bad := map[string][]byte{
			"not json":      []byte("{"),
			"no keys":       []byte(`{"keys":[]}`),
			"only EC":       jwks(ecJWK("e1", &k.ec.PublicKey)),
			"bad modulus":   jwks(map[string]any{"kty": "RSA", "kid": "x", "n": "***", "e": "AQAB"}),
			"even exponent": jwks(map[string]any{"kty": "RSA", "kid": "x", "n": rsaJWK("", &k.rsa.PublicKey)["n"], "e": "Ag"}),
			"small RSA":     jwks(map[string]any{"kty": "RSA", "kid": "x", "n": "AQAB", "e": "AQAB"}),
			"duplicate kid": jwks(rsaJWK("k1", &k.rsa.PublicKey), rsaJWK("k1", &k.rsa2.PublicKey)),
			"wrong alg":     jwks(map[string]any{"kty": "RSA", "kid": "x", "alg": "RS512", "n": rsaJWK("", &k.rsa.PublicKey)["n"], "e": "AQAB"}),
		}
		for name, b := range bad {
			f := writeFile(t, "jwks.json", b)
			if _, err := New(Config{Mode: "jwt", JWT: JWTConfig{Algorithm: AlgRS256, JWKSFile: f}}, nil); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		ecBad := jwks(map[string]any{"kty": "EC", "kid": "x", "crv": "P-256",
			"x": base64.RawURLEncoding.EncodeToString(make([]byte, 32)), "y": base64.RawURLEncoding.EncodeToString(make([]byte, 32))})
		f := writeFile(t, "jwks.json", ecBad)
		if _, err := New(Config{Mode: "jwt", JWT: JWTConfig{Algorithm: AlgES256, JWKSFile: f}}, nil); err == nil {
			t.Error("EC point not on the curve accepted")
		}
	})
}

// jwksServer serves a settable JWKS and counts requests.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	status int
	delay  time.Duration
	hits   atomic.Int64
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{body: body, status: 200}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status, delay := s.body, s.status, s.delay
		s.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte, status int) {
	s.mu.Lock()
	s.body, s.status = body, status
	s.mu.Unlock()
}

func TestJWKSURLRotation(t *testing.T) {
	k := getKeys(t)
	srv := newJWKSServer(t, jwks(rsaJWK("k1", &k.rsa.PublicKey)))
	clock := newClock()
	cfg := JWTConfig{Algorithm: AlgRS256, JWKSURL: srv.URL + "/jwks", JWKSMinRefresh: 30 * time.Second, JWKSMaxAge: time.Hour}
	a := mustNew(t, Config{Mode: "jwt", JWT: cfg}, nil)
	a.now = clock.Now
	mint := func(kid, key string) string {
		return mustMint(t, MintConfig{Algorithm: AlgRS256, KeyID: kid}, key, "alice", nil, 24*time.Hour)
	}
	ok := func(tok, what string) {
		t.Helper()
		if _, err := a.AuthenticateToken(bg, tok); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	refused := func(tok, what string) {
		t.Helper()
		_, err := a.AuthenticateToken(bg, tok)
		wantCode(t, err, core.CodeUnauthorized)
	}
	hits := func(want int64, what string) {
		t.Helper()
		if got := srv.hits.Load(); got != want {
			t.Fatalf("%s: %d fetches, want %d", what, got, want)
		}
	}
	tok1, tok2, tok9 := mint("k1", k.rsaPrivPEM), mint("k2", k.rsa2PrivPEM), mint("k9", k.rsaPrivPEM)

	hits(0, "lazy: nothing fetched at start")
	ok(tok1, "first token")
	hits(1, "first token fetches")
	ok(tok1, "cached")
	hits(1, "cached key")

	// The issuer adds k2. A k2 token right away: refetch is rate-limited.
	srv.set(jwks(rsaJWK("k1", &k.rsa.PublicKey), rsaJWK("k2", &k.rsa2.PublicKey)), 200)
	refused(tok2, "new kid within the refresh interval")
	hits(1, "rate-limited")
	clock.Add(31 * time.Second)
	ok(tok2, "new kid triggers a refetch")
	hits(2, "refetch on unknown kid")

	// An unknown kid after the refresh is refused, and does not refetch
	// again within the interval however often it is tried.
	for range 20 {
		refused(tok9, "unknown kid")
	}
	hits(2, "unknown kids do not hammer the issuer")
	clock.Add(31 * time.Second)
	refused(tok9, "unknown kid after another refresh")
	hits(3, "one more refetch")
	ok(tok1, "k1 still cached")
	hits(3, "known kid does not refetch")

	// The issuer fails: cached keys stay in use past their max age.
	srv.set([]byte("oops"), 500)
	clock.Add(2 * time.Hour)
	ok(tok1, "stale cache kept on fetch error")
	hits(4, "stale cache triggered a refresh attempt")
	ok(tok2, "stale k2")
	hits(4, "failed refresh is rate-limited too")

	// The issuer drops k1: after the next refresh k1 tokens are refused.
	srv.set(jwks(rsaJWK("k2", &k.rsa2.PublicKey)), 200)
	clock.Add(31 * time.Second)
	ok(tok2, "refresh succeeds")
	hits(5, "refresh")
	refused(tok1, "removed key")
	// A body with no usable key keeps the cache too.
	srv.set([]byte(`{"keys":[]}`), 200)
	clock.Add(2 * time.Hour)
	ok(tok2, "empty set ignored")
}

func TestJWKSURLTimeoutAndConcurrency(t *testing.T) {
	k := getKeys(t)
	srv := newJWKSServer(t, jwks(rsaJWK("k1", &k.rsa.PublicKey)))
	srv.mu.Lock()
	srv.delay = 2 * time.Second
	srv.mu.Unlock()
	a := mustNew(t, Config{Mode: "jwt", JWT: JWTConfig{Algorithm: AlgRS256, JWKSURL: srv.URL, JWKSTimeout: 100 * time.Millisecond}}, nil)
	tok := mustMint(t, MintConfig{Algorithm: AlgRS256, KeyID: "k1"}, k.rsaPrivPEM, "alice", nil, time.Hour)
	start := time.Now()
	_, err := a.AuthenticateToken(bg, tok)
	wantCode(t, err, core.CodeUnauthorized)
	if el := time.Since(start); el > time.Second {
		t.Fatalf("fetch took %v despite a 100ms timeout", el)
	}
	if !strings.Contains(err.Error(), "jwks fetch failed") {
		t.Errorf("cause not kept: %v", err)
	}

	// Many concurrent first requests fetch once.
	srv2 := newJWKSServer(t, jwks(rsaJWK("k1", &k.rsa.PublicKey)))
	srv2.mu.Lock()
	srv2.delay = 50 * time.Millisecond
	srv2.mu.Unlock()
	a2 := mustNew(t, Config{Mode: "jwt", JWT: JWTConfig{Algorithm: AlgRS256, JWKSURL: srv2.URL}}, nil)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a2.AuthenticateToken(bg, tok); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 || srv2.hits.Load() != 1 {
		t.Fatalf("%d failures, %d fetches; want 0 and 1", failed.Load(), srv2.hits.Load())
	}
}
