package auth

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

func TestModeNone(t *testing.T) {
	a := mustNew(t, Config{}, nil)
	for _, h := range []string{"", "Bearer junk", "Basic x"} {
		p, err := a.Authenticate(bg, h)
		if err != nil || !p.Admin || p.Kind != KindAnonymous || p.Isolated {
			t.Fatalf("mode none with %q: %+v %v", h, p, err)
		}
	}
	on := true
	a = mustNew(t, Config{Mode: "none", UserIsolation: &on}, nil)
	if a.UserIsolation() || a.Enabled() {
		t.Fatal("isolation or auth on in mode none")
	}
	pol := testPolicy()
	ctx := WithPrincipal(bg, a.Anonymous())
	for _, op := range pol.All() {
		if err := pol.Authorize(ctx, op.ID, "x"); err != nil {
			t.Errorf("mode none refused %s: %v", op.ID, err)
		}
	}
}

func TestModeKey(t *testing.T) {
	const key = "s3cr3t-s3cr3t-s3cr3t"
	a := mustNew(t, Config{Mode: "key", SecurityKey: key}, nil)
	p, err := a.Authenticate(bg, "Bearer "+key)
	if err != nil || p.Kind != KindKey || !p.Admin || p.Isolated {
		t.Fatalf("right key: %+v %v", p, err)
	}
	if err := testPolicy().Authorize(WithPrincipal(bg, p), "rest:DELETE /service-accounts/{service_account_id}", "x"); err != nil {
		t.Fatalf("key holder refused: %v", err)
	}
	for _, wrong := range []string{key[:len(key)-1], key + "x", strings.ToUpper(key), " " + key + "x", "x", strings.Repeat("a", len(key))} {
		_, err := a.Authenticate(bg, "Bearer "+wrong)
		wantCode(t, err, core.CodeUnauthorized)
	}
	p, err = a.Authenticate(bg, "")
	if err != nil || !p.Anonymous() || p.Admin {
		t.Fatalf("no header: %+v %v", p, err)
	}
	wantCode(t, testPolicy().Authorize(WithPrincipal(bg, p), "rest:GET /agents", ""), core.CodeUnauthorized)
	if err := testPolicy().Authorize(WithPrincipal(bg, p), "rest:GET /health", ""); err != nil {
		t.Fatal(err)
	}
	// A JWT is not the key.
	tok := mustMint(t, MintConfig{Algorithm: "HS256"}, testSecret, "alice", []string{"agent_os:admin"}, time.Hour)
	_, err = a.AuthenticateToken(bg, tok)
	wantCode(t, err, core.CodeUnauthorized)
}

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, prefix, hash := NewToken()
		if !strings.HasPrefix(tok, ServiceAccountTokenPrefix) || len(tok) != saTokenLen {
			t.Fatalf("token %q", tok)
		}
		if !strings.HasPrefix(tok, prefix) || len(prefix) >= len(tok)-20 {
			t.Fatalf("prefix %q of %q", prefix, tok)
		}
		if hash != HashToken(tok) || len(hash) != 64 || strings.Contains(hash, tok) {
			t.Fatalf("hash %q", hash)
		}
		if !wellFormedServiceAccountToken(tok) {
			t.Fatalf("own token not well-formed: %q", tok)
		}
		if seen[tok] {
			t.Fatal("duplicate token")
		}
		seen[tok] = true
	}
	tok, _, _ := NewToken()
	b := []byte(tok)
	b[len(ServiceAccountTokenPrefix)+3] ^= 1 // flip a bit of the secret: checksum fails
	for _, bad := range []string{string(b), tok[:len(tok)-1], tok + "0", strings.Replace(tok, "agw_sa_", "agw_sb_", 1),
		ServiceAccountTokenPrefix + strings.Repeat("-", saSecretLen+saChecksumLen)} {
		if wellFormedServiceAccountToken(bad) {
			t.Errorf("%q well-formed", bad)
		}
	}
}

func TestServiceAccountTokens(t *testing.T) {
	store := newMemAccounts()
	a := mustNew(t, Config{Mode: "jwt", JWT: JWTConfig{Algorithm: AlgHS256, Key: testSecret}}, store)
	clock := newClock()
	a.now = clock.Now

	sa, tok, err := NewServiceAccount("ci", "team-1", []string{"agents:a1:run", "system:read"}, time.Hour, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if sa.TokenHash != HashToken(tok) || sa.Principal != "sa:"+sa.ID || !strings.HasPrefix(tok, sa.TokenPrefix) ||
		!slices.Equal(sa.Scopes, []string{"agents:a1:run", "config:read"}) || sa.ExpiresAt == 0 || sa.CreatedBy != "admin" {
		t.Fatalf("account %+v", sa)
	}
	store.add(sa)

	// valid
	p, err := a.Authenticate(bg, "Bearer "+tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != KindServiceAccount || p.Subject != "sa:"+sa.ID || p.UserID != "team-1" || p.ServiceAccountID != sa.ID ||
		p.Admin || !p.Isolated || !p.Allows("agents", "a1", "run") || p.Allows("agents", "a2", "run") {
		t.Fatalf("principal %+v", p)
	}
	// last_used_at touched, at most once per interval
	if store.touches[sa.ID] != 1 || store.byHash[sa.TokenHash].LastUsedAt == 0 {
		t.Fatalf("touches %d", store.touches[sa.ID])
	}
	if _, err := a.AuthenticateToken(bg, tok); err != nil {
		t.Fatal(err)
	}
	if store.touches[sa.ID] != 1 {
		t.Fatalf("touched again within the interval: %d", store.touches[sa.ID])
	}
	clock.Add(2 * time.Minute)
	if _, err := a.AuthenticateToken(bg, tok); err != nil {
		t.Fatal(err)
	}
	if store.touches[sa.ID] != 2 || store.byHash[sa.TokenHash].LastUsedAt != clock.Now().Unix() {
		t.Fatalf("not touched after the interval: %d", store.touches[sa.ID])
	}

	// expired
	clock.Add(time.Hour)
	_, err = a.AuthenticateToken(bg, tok)
	wantCode(t, err, core.CodeUnauthorized)
	if core.MessageOf(err) != "token expired" {
		t.Errorf("message %q", core.MessageOf(err))
	}

	// revoked (no expiry)
	sa2, tok2, _ := NewServiceAccount("bot", "", []string{"agents:read"}, 0, "")
	store.add(sa2)
	p, err = a.AuthenticateToken(bg, tok2)
	if err != nil || p.UserID != p.Subject || sa2.ExpiresAt != 0 {
		t.Fatalf("no-expiry account: %+v %v", p, err)
	}
	now := clock.Now()
	store.mu.Lock()
	store.byHash[sa2.TokenHash].RevokedAt = now.Unix()
	store.mu.Unlock()
	_, err = a.AuthenticateToken(bg, tok2)
	wantCode(t, err, core.CodeUnauthorized)

	// unknown but well-formed: looked up, refused
	unknown, _, _ := NewToken()
	before := store.lookups
	_, err = a.AuthenticateToken(bg, unknown)
	wantCode(t, err, core.CodeUnauthorized)
	if store.lookups != before+1 {
		t.Fatal("unknown token not looked up")
	}
	// malformed: refused without a lookup
	// (The last character changed, whatever it is: a token may end in "0".)
	last := "0"
	if strings.HasSuffix(tok, last) {
		last = "1"
	}
	for _, bad := range []string{"agw_sa_", "agw_sa_abc", tok[:len(tok)-1] + last, tok + "x"} {
		before := store.lookups
		_, err = a.AuthenticateToken(bg, bad)
		wantCode(t, err, core.CodeUnauthorized)
		if store.lookups != before {
			t.Fatalf("%q reached the store", bad)
		}
	}

	// admin service account
	sa3, tok3, _ := NewServiceAccount("root", "", []string{"agent_os:admin"}, 0, "")
	store.add(sa3)
	if p, err := a.AuthenticateToken(bg, tok3); err != nil || !p.Admin || p.Isolated {
		t.Fatalf("admin account: %+v %v", p, err)
	}

	// store down: unavailable, not unauthorized
	store.mu.Lock()
	store.err = errors.New("db down")
	store.mu.Unlock()
	_, err = a.AuthenticateToken(bg, tok3)
	wantCode(t, err, core.CodeUnavailable)
	store.mu.Lock()
	store.err = nil
	store.mu.Unlock()

	// also accepted in key mode; refused without a store
	k := mustNew(t, Config{Mode: "key", SecurityKey: "0123456789abcdef"}, store)
	if _, err := k.AuthenticateToken(bg, tok3); err != nil {
		t.Fatalf("key mode: %v", err)
	}
	nostore := mustNew(t, Config{Mode: "key", SecurityKey: "0123456789abcdef"}, nil)
	_, err = nostore.AuthenticateToken(bg, tok3)
	wantCode(t, err, core.CodeUnauthorized)

	// bad inputs to NewServiceAccount
	if _, _, err := NewServiceAccount("", "", nil, 0, ""); err == nil {
		t.Error("empty name accepted")
	}
	if _, _, err := NewServiceAccount("x", "", []string{"nope"}, 0, ""); err == nil {
		t.Error("bad scope accepted")
	}
}
