package auth

import (
	"errors"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

// Recheck: a JWT principal holds until its exp; a service account's until
// it is revoked, deleted or expires (each seen at the next recheck); a
// store that cannot answer is unavailable, not unauthorized.
func TestRecheck(t *testing.T) {
	clock := newClock()
	accts := newMemAccounts()
	a := mustNew(t, Config{Mode: "jwt", JWT: JWTConfig{Algorithm: "HS256", Key: testSecret}}, accts)
	a.now = clock.Now

	tok := mustMint(t, MintConfig{Algorithm: "HS256"}, testSecret, "alice", nil, time.Minute)
	p, err := a.AuthenticateToken(bg, tok)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(p.ExpiresAt); d < 58*time.Second || d > time.Minute {
		t.Fatalf("ExpiresAt %v, want the exp, a minute from now", p.ExpiresAt)
	}
	if err := a.Recheck(bg, p); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	clock.Add(time.Minute + time.Second)
	wantCode(t, a.Recheck(bg, p), core.CodeUnauthorized)

	token, prefix, hash := NewToken()
	exp := clock.Now().Add(time.Hour)
	accts.add(&ServiceAccount{ID: "sa1", Name: "bot", TokenPrefix: prefix, TokenHash: hash, ExpiresAt: exp.Unix()})
	p, err = a.AuthenticateToken(bg, token)
	if err != nil {
		t.Fatal(err)
	}
	if !p.ExpiresAt.Equal(time.Unix(exp.Unix(), 0)) { // stored in whole seconds
		t.Fatalf("service account ExpiresAt %v, want %v", p.ExpiresAt, exp)
	}
	for range 3 {
		if err := a.Recheck(bg, p); err != nil {
			t.Fatalf("valid service account: %v", err)
		}
	}
	accts.mu.Lock()
	accts.err = errors.New("store down")
	accts.mu.Unlock()
	wantCode(t, a.Recheck(bg, p), core.CodeUnavailable)
	accts.mu.Lock()
	accts.err = nil
	now := clock.Now()
	accts.byHash[hash].RevokedAt = now.Unix()
	accts.mu.Unlock()
	err = a.Recheck(bg, p)
	wantCode(t, err, core.CodeUnauthorized)
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Message != "token revoked" {
		t.Fatalf("revoked: %v", err)
	}
	accts.mu.Lock()
	delete(accts.byHash, hash)
	accts.mu.Unlock()
	wantCode(t, a.Recheck(bg, p), core.CodeUnauthorized)

	// Expiry of the account itself.
	token, prefix, hash = NewToken()
	accts.add(&ServiceAccount{ID: "sa2", TokenPrefix: prefix, TokenHash: hash})
	p, err = a.AuthenticateToken(bg, token)
	if err != nil || !p.ExpiresAt.IsZero() {
		t.Fatalf("%+v %v", p, err)
	}
	soon := clock.Now().Add(time.Second)
	accts.mu.Lock()
	accts.byHash[hash].ExpiresAt = soon.Unix()
	accts.mu.Unlock()
	if err := a.Recheck(bg, p); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Second)
	wantCode(t, a.Recheck(bg, p), core.CodeUnauthorized)

	// Mode none and the security key never expire.
	if err := mustNew(t, Config{}, nil).Recheck(bg, &Principal{Kind: KindAnonymous, Admin: true}); err != nil {
		t.Fatal(err)
	}
}
