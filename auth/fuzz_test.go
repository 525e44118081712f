package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

// FuzzAuthenticateToken feeds arbitrary Authorization headers to a jwt-mode
// authenticator (with a service-account store). It must never panic, must
// answer either a principal or a CodeUnauthorized error, and must only
// accept a token that verifies under the configured secret.
func FuzzAuthenticateToken(f *testing.F) {
	store := newMemAccounts()
	sa, saTok, err := NewServiceAccount("fuzz", "", []string{"agents:read"}, 0, "")
	if err != nil {
		f.Fatal(err)
	}
	store.add(sa)
	a, err := New(Config{Mode: "jwt", JWT: JWTConfig{Algorithm: AlgHS256, Key: testSecret, Audience: "gw"}}, store)
	if err != nil {
		f.Fatal(err)
	}
	good, err := MintJWT(MintConfig{Algorithm: AlgHS256, Audience: "gw"}, testSecret, "alice", []string{"agents:read", "x"}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(good, ".")
	for _, s := range []string{
		"", "Bearer", "Bearer ", "Bearer " + good, "bearer " + good, "Bearer " + saTok, "Basic Zm9vOmJhcg==",
		"Bearer " + rawJWT(map[string]any{"alg": "none"}, stdClaims("alice"), nil),
		"Bearer " + rawJWT(map[string]any{"alg": "HS256", "kid": []int{1}}, stdClaims("alice"), []byte(testSecret)),
		"Bearer " + rawJWT(map[string]any{"alg": "HS256"}, map[string]any{"sub": "a", "exp": "x", "scopes": map[string]any{}}, []byte(testSecret)),
		"Bearer " + parts[0] + "." + parts[1] + ".",
		"Bearer " + parts[0] + ".." + parts[2],
		"Bearer ...", "Bearer a.b.c", "Bearer agw_sa_", "Bearer agw_sa_" + strings.Repeat("z", 49),
		"Bearer \x00.\xff.\x80",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		p, err := a.Authenticate(bg, header)
		if err != nil {
			if p != nil {
				t.Fatalf("principal and error: %+v %v", p, err)
			}
			if c := core.CodeOf(err); c != core.CodeUnauthorized {
				t.Fatalf("code %s for %q: %v", c, header, err)
			}
			return
		}
		if p == nil {
			t.Fatal("nil principal without error")
		}
		if p.Admin {
			t.Fatalf("admin from %q", header)
		}
		switch p.Kind {
		case KindAnonymous:
			if strings.TrimSpace(header) != "" {
				t.Fatalf("anonymous from %q", header)
			}
		case KindJWT:
			if p.UserID == "" || reservedSubject(p.Subject) {
				t.Fatalf("bad jwt principal %+v from %q", p, header)
			}
		case KindServiceAccount:
			if p.ServiceAccountID != sa.ID {
				t.Fatalf("service account %+v from %q", p, header)
			}
		default:
			t.Fatalf("kind %q from %q", p.Kind, header)
		}
	})
}

// FuzzParseScope: parsing never panics and what parses round-trips.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"agents:read", "agents:a:run", "agents:*:run", "agent_os:admin", "system:*", "a:b:c:d", ":", "x:\xff:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseScope(s)
		if err != nil {
			return
		}
		again, err := ParseScope(sc.String())
		if err != nil || again != sc {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, sc, sc.String(), again, err)
		}
	})
}
