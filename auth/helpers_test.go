package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

const testSecret = "0123456789abcdef0123456789abcdef-hs256-test-secret"

// testKeys are generated once per test binary (RSA generation is slow).
type testKeys struct {
	rsa, rsa2   *rsa.PrivateKey
	ec, ec2     *ecdsa.PrivateKey
	rsaPrivPEM  string
	rsaPubPEM   string
	rsa2PrivPEM string
	ecPrivPEM   string
	ecPubPEM    string
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func getKeys(t testing.TB) *testKeys {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if keys.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keys.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keys.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if keys.ec2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		keys.rsaPrivPEM = privPEM(keys.rsa)
		keys.rsa2PrivPEM = privPEM(keys.rsa2)
		keys.rsaPubPEM = pubPEM(&keys.rsa.PublicKey)
		keys.ecPrivPEM = privPEM(keys.ec)
		keys.ecPubPEM = pubPEM(&keys.ec.PublicKey)
	})
	return &keys
}

func privPEM(k any) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func pubPEM(k any) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rawJWT builds a token from arbitrary header and claims, signed with
// HMAC-SHA256 under secret (nil: empty signature).
func rawJWT(header, claims map[string]any, secret []byte) string {
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(header) + "." + enc(claims)
	if secret == nil {
		return signing + "."
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func stdClaims(sub string, scopes ...string) map[string]any {
	now := time.Now()
	return map[string]any{"sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "scopes": scopes}
}

// rsaJWK and ecJWK render public keys as JWKs.
func rsaJWK(kid string, k *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]any {
	b, err := k.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	return map[string]any{"kty": "EC", "kid": kid, "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(b[1:33]),
		"y": base64.RawURLEncoding.EncodeToString(b[33:])}
}

func jwks(keys ...map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	return b
}

func mustNew(t testing.TB, cfg Config, sa ServiceAccountLookup) *Authenticator {
	t.Helper()
	a, err := New(cfg, sa)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func mustMint(t testing.TB, mc MintConfig, key, sub string, scopes []string, ttl time.Duration) string {
	t.Helper()
	tok, err := MintJWT(mc, key, sub, scopes, ttl)
	if err != nil {
		t.Fatalf("MintJWT: %v", err)
	}
	return tok
}

func wantCode(t testing.TB, err error, code core.ErrorCode) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s error, got nil", code)
	}
	if got := core.CodeOf(err); got != code {
		t.Fatalf("want code %s, got %s (%v)", code, got, err)
	}
}

// memAccounts is an in-memory ServiceAccountLookup.
type memAccounts struct {
	mu      sync.Mutex
	byHash  map[string]*ServiceAccount
	touches map[string]int
	lookups int
	err     error
}

func newMemAccounts() *memAccounts {
	return &memAccounts{byHash: map[string]*ServiceAccount{}, touches: map[string]int{}}
}

func (m *memAccounts) add(sa *ServiceAccount) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byHash[sa.TokenHash] = sa
}

func (m *memAccounts) GetServiceAccountByTokenHash(_ context.Context, hash string) (*ServiceAccount, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups++
	if m.err != nil {
		return nil, m.err
	}
	sa, ok := m.byHash[hash]
	if !ok {
		return nil, core.ErrNotFound
	}
	cp := *sa
	return &cp, nil
}

func (m *memAccounts) TouchServiceAccount(_ context.Context, id string, at int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sa := range m.byHash {
		if sa.ID == id {
			sa.LastUsedAt = at
			m.touches[id]++
			return nil
		}
	}
	return errors.New("no such account")
}

func ed25519Key() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(rand.Reader)
}
