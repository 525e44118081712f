package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/golang-jwt/jwt/v5"
)

var bg = context.Background()

func bearer(tok string) string { return "Bearer " + tok }

func TestJWTHappyPaths(t *testing.T) {
	k := getKeys(t)
	cases := []struct {
		name      string
		alg       string
		verifyKey string
		signKey   string
	}{
		{"HS256", AlgHS256, testSecret, testSecret},
		{"RS256", AlgRS256, k.rsaPubPEM, k.rsaPrivPEM},
		{"ES256", AlgES256, k.ecPubPEM, k.ecPrivPEM},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := JWTConfig{Algorithm: c.alg, Key: c.verifyKey, Audience: "gw", Issuer: "https://idp"}
			a := mustNew(t, Config{Mode: "jwt", JWT: cfg}, nil)
			tok := mustMint(t, cfg.MintConfig(), c.signKey, "alice", []string{"agents:read", "agents:a1:run", "system:read"}, time.Hour)
			p, err := a.Authenticate(bg, bearer(tok))
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if p.Subject != "alice" || p.UserID != "alice" || p.Kind != KindJWT || p.Admin || !p.Isolated {
				t.Fatalf("principal %+v", p)
			}
			if got := p.ScopeStrings(); !slices.Equal(got, []string{"agents:read", "agents:a1:run", "config:read"}) {
				t.Fatalf("scopes %v", got)
			}
			if !p.Allows("agents", "a1", "run") || p.Allows("agents", "a2", "run") {
				t.Fatal("scope checks")
			}
			// lower-case scheme and surrounding blanks are fine
			if _, err := a.Authenticate(bg, "  bearer   "+tok+" "); err != nil {
				t.Fatalf("lower-case bearer: %v", err)
			}
			admin := mustMint(t, cfg.MintConfig(), c.signKey, "root", []string{"agent_os:admin"}, time.Hour)
			p, err = a.AuthenticateToken(bg, admin)
			if err != nil || !p.Admin || p.Isolated {
				t.Fatalf("admin token: %+v %v", p, err)
			}
		})
	}
}

func TestJWTConfigurableClaims(t *testing.T) {
	cfg := JWTConfig{Algorithm: "hs256", Key: testSecret, ScopesClaim: "scp", UserIDClaim: "uid", AdminScope: "gw:root"}
	a := mustNew(t, Config{Mode: "jwt", JWT: cfg}, nil)
	tok := rawJWT(map[string]any{"alg": "HS256", "typ": "JWT"}, map[string]any{
		"sub": "svc-1", "uid": "user-9", "exp": time.Now().Add(time.Hour).Unix(),
		"scp": "agents:read gw:root sessions:write",
	}, []byte(testSecret))
	p, err := a.AuthenticateToken(bg, tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "svc-1" || p.UserID != "user-9" || !p.Admin {
		t.Fatalf("principal %+v", p)
	}
	// agent_os:admin is not admin when another admin scope is configured
	tok = rawJWT(map[string]any{"alg": "HS256"}, map[string]any{"sub": "x", "uid": "x",
		"exp": time.Now().Add(time.Hour).Unix(), "scp": []string{"agent_os:admin"}}, []byte(testSecret))
	if p, err := a.AuthenticateToken(bg, tok); err != nil || p.Admin {
		t.Fatalf("agent_os:admin with custom admin scope: %+v %v", p, err)
	}
	// isolation can be turned off
	off := false
	a = mustNew(t, Config{Mode: "jwt", JWT: cfg, UserIsolation: &off}, nil)
	if p, err := a.AuthenticateToken(bg, tok); err != nil || p.Isolated {
		t.Fatalf("isolation off: %+v %v", p, err)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	k := getKeys(t)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	os.WriteFile(keyFile, []byte(k.rsaPubPEM), 0o600)
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(secretFile, []byte(testSecret+"\n"), 0o600)
	bad := []struct {
		name string
		cfg  Config
	}{
		{"unknown mode", Config{Mode: "oauth"}},
		{"key mode without key", Config{Mode: "key"}},
		{"key mode short key", Config{Mode: "key", SecurityKey: "short"}},
		{"jwt without key source", Config{Mode: "jwt"}},
		{"jwt bad algorithm", Config{Mode: "jwt", JWT: JWTConfig{Algorithm: "none", Key: testSecret}}},
		{"jwt HS512", Config{Mode: "jwt", JWT: JWTConfig{Algorithm: "HS512", Key: testSecret}}},
		{"HS256 short secret", Config{Mode: "jwt", JWT: JWTConfig{Algorithm: "HS256", Key: "short"}}},
		{"HS256 with a PEM key", Config{Mode: "jwt", JWT: JWTConfig{Algorithm: "HS256", Key: k.rsaPubPEM}}},
		{"RS256 with a secret", Config{Mode: "jwt", JWT: JWTConfig{Algorithm: "RS256", Key: testSecret}}},
		{"RS256 with an EC key", Config{Mode: "jwt", JWT: JWTConfig{Algorithm: "RS256", Key: k.ecPubPEM}}},
		{"ES256 with an RSA key", Config{Mode: "jwt", JWT: JWTConfig{Algorithm: "ES256", Key: k.rsaPubPEM}}},
		{"RS256 1024-bit key", Config{Mode: "jwt", JWT: JWTConfig{Algorithm: "RS256", Key: pubPEM(&small.PublicKey)}}},
		{"RS256 private key", Config{Mode: "jwt", JWT: JWTConfig{Algorithm: "RS256", Key: k.rsaPrivPEM}}},
		{"key and key file", Config{Mode: "jwt", JWT: JWTConfig{Algorithm: "RS256", Key: k.rsaPubPEM, KeyFile: keyFile}}},
		{"missing key file", Config{Mode: "jwt", JWT: JWTConfig{KeyFile: filepath.Join(dir, "nope")}}},
		{"missing jwks file", Config{Mode: "jwt", JWT: JWTConfig{JWKSFile: filepath.Join(dir, "nope")}}},
		{"jwks url not http", Config{Mode: "jwt", JWT: JWTConfig{JWKSURL: "ftp://idp/jwks"}}},
		{"jwks url plain http", Config{Mode: "jwt", JWT: JWTConfig{JWKSURL: "http://idp.example.com/jwks"}}},
	}
	for _, c := range bad {
		if _, err := New(c.cfg, nil); err == nil {
			t.Errorf("%s: New accepted it", c.name)
		}
	}
	good := []Config{
		{},
		{Mode: "none"},
		{Mode: "key", SecurityKey: "0123456789abcdef"},
		{Mode: "security_key", SecurityKey: "0123456789abcdef"},
		{Mode: "jwt", JWT: JWTConfig{KeyFile: keyFile}}, // RS256 by default
		{Mode: "jwt", JWT: JWTConfig{Algorithm: "HS256", KeyFile: secretFile}},
		{Mode: "jwt", JWT: JWTConfig{JWKSURL: "https://idp.example.com/jwks"}},
		{Mode: "jwt", JWT: JWTConfig{JWKSURL: "http://127.0.0.1:1/jwks"}},
		{Mode: "jwt", JWT: JWTConfig{JWKSURL: "http://idp:8080/jwks", JWKSAllowHTTP: true}},
	}
	for _, c := range good {
		if _, err := New(c, nil); err != nil {
			t.Errorf("New(%+v): %v", c, err)
		}
	}
	// the secret read from a file loses its trailing newline
	a := mustNew(t, Config{Mode: "jwt", JWT: JWTConfig{Algorithm: "HS256", KeyFile: secretFile}}, nil)
	tok := mustMint(t, MintConfig{Algorithm: "HS256"}, testSecret, "alice", nil, time.Minute)
	if _, err := a.AuthenticateToken(bg, tok); err != nil {
		t.Fatalf("secret from file: %v", err)
	}
	if a.Mode() != ModeJWT || !a.Enabled() || !a.UserIsolation() {
		t.Fatal("mode accessors")
	}
}

// TestJWTAttacks: every forged, stale or malformed token is refused with
// CodeUnauthorized and a message that does not explain the failure in
// detail.
func TestJWTAttacks(t *testing.T) {
	k := getKeys(t)
	rsCfg := JWTConfig{Algorithm: AlgRS256, Key: k.rsaPubPEM, Audience: "gw", Issuer: "https://idp"}
	rs := mustNew(t, Config{Mode: "jwt", JWT: rsCfg}, nil)
	esCfg := JWTConfig{Algorithm: AlgES256, Key: k.ecPubPEM}
	es := mustNew(t, Config{Mode: "jwt", JWT: esCfg}, nil)
	hsCfg := JWTConfig{Algorithm: AlgHS256, Key: testSecret}
	hs := mustNew(t, Config{Mode: "jwt", JWT: hsCfg}, nil)

	now := time.Now()
	good := func() map[string]any {
		return map[string]any{"sub": "alice", "aud": "gw", "iss": "https://idp", "iat": now.Unix(),
			"exp": now.Add(time.Hour).Unix(), "scopes": []string{"agent_os:admin"}}
	}
	signRS := func(claims map[string]any, header map[string]any) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
		for h, v := range header {
			tok.Header[h] = v
		}
		s, err := tok.SignedString(k.rsa)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	with := func(m map[string]any, kv ...any) map[string]any {
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	valid := signRS(good(), nil)
	if _, err := rs.AuthenticateToken(bg, valid); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	parts := strings.Split(valid, ".")
	flip := func(s string) string { // change one character of a segment
		b := []byte(s)
		if b[5] == 'A' {
			b[5] = 'B'
		} else {
			b[5] = 'A'
		}
		return string(b)
	}
	payloadOf := func(claims map[string]any) string {
		return strings.Split(rawJWT(map[string]any{"alg": "RS256"}, claims, nil), ".")[1]
	}

	type attack struct {
		name  string
		a     *Authenticator
		token string
	}
	attacks := []attack{
		{"alg none", rs, rawJWT(map[string]any{"alg": "none", "typ": "JWT"}, good(), nil)},
		{"alg None", rs, rawJWT(map[string]any{"alg": "None"}, good(), nil)},
		{"alg NONE on HS256", hs, rawJWT(map[string]any{"alg": "NONE"}, good(), nil)},
		{"alg none with a signature", rs, rawJWT(map[string]any{"alg": "none"}, good(), []byte("x"))},
		{"HS256 signed with the RS256 public key", rs, rawJWT(map[string]any{"alg": "HS256", "typ": "JWT"}, good(), []byte(k.rsaPubPEM))},
		{"HS256 signed with the ES256 public key", es, rawJWT(map[string]any{"alg": "HS256"}, good(), []byte(k.ecPubPEM))},
		{"RS256 token to an HS256 verifier", hs, valid},
		{"HS256 algorithm but RS256 header", hs, func() string {
			s := rawJWT(map[string]any{"alg": "RS256"}, good(), []byte(testSecret))
			return s
		}()},
		{"signed by another RSA key", rs, func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(good())).SignedString(k.rsa2)
			return s
		}()},
		{"signed by another EC key", es, func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims(good())).SignedString(k.ec2)
			return s
		}()},
		{"HS256 wrong secret", hs, rawJWT(map[string]any{"alg": "HS256"}, good(), []byte(testSecret+"x"))},
		{"expired", rs, signRS(with(good(), "exp", now.Add(-time.Minute).Unix()), nil)},
		{"expired beyond leeway", rs, signRS(with(good(), "exp", now.Add(-11*time.Second).Unix()), nil)},
		{"nbf in the future", rs, signRS(with(good(), "nbf", now.Add(time.Minute).Unix()), nil)},
		{"iat in the future", rs, signRS(with(good(), "iat", now.Add(time.Hour).Unix()), nil)},
		{"no exp", rs, signRS(with(good(), "exp", nil), nil)},
		{"exp not a number", rs, signRS(with(good(), "exp", "tomorrow"), nil)},
		{"wrong audience", rs, signRS(with(good(), "aud", "other"), nil)},
		{"wrong audience list", rs, signRS(with(good(), "aud", []string{"a", "b"}), nil)},
		{"missing audience", rs, signRS(with(good(), "aud", nil), nil)},
		{"wrong issuer", rs, signRS(with(good(), "iss", "https://evil"), nil)},
		{"missing issuer", rs, signRS(with(good(), "iss", nil), nil)},
		{"missing sub", rs, signRS(with(good(), "sub", nil), nil)},
		{"empty sub", rs, signRS(with(good(), "sub", ""), nil)},
		{"sub not a string", rs, signRS(with(good(), "sub", 42), nil)},
		{"reserved sub sa:", rs, signRS(with(good(), "sub", "sa:123"), nil)},
		{"reserved sub __scheduler__", rs, signRS(with(good(), "sub", "__scheduler__"), nil)},
		{"reserved sub __oauth__", rs, signRS(with(good(), "sub", "__oauth__:x"), nil)},
		{"scopes claim a number", rs, signRS(with(good(), "scopes", 7), nil)},
		{"scopes claim with a non-string", rs, signRS(with(good(), "scopes", []any{"agents:read", 3}), nil)},
		{"kid not a string", rs, signRS(good(), map[string]any{"kid": 5})},
		{"tampered payload", rs, parts[0] + "." + payloadOf(with(good(), "sub", "mallory")) + "." + parts[2]},
		{"tampered signature", rs, parts[0] + "." + parts[1] + "." + flip(parts[2])},
		{"empty signature", rs, parts[0] + "." + parts[1] + "."},
		{"two segments", rs, parts[0] + "." + parts[1]},
		{"four segments", rs, valid + ".x"},
		{"one segment", rs, parts[0]},
		{"only dots", rs, ".."},
		{"empty segments", rs, "..."},
		{"bad base64 header", rs, "!!!." + parts[1] + "." + parts[2]},
		{"bad base64 payload", rs, parts[0] + ".@@@." + parts[2]},
		{"bad base64 signature", rs, parts[0] + "." + parts[1] + ".***"},
		{"padded base64", rs, parts[0] + "==." + parts[1] + "." + parts[2]},
		{"header not JSON", rs, base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[1] + "." + parts[2]},
		{"payload not JSON", rs, parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1,2")) + "." + parts[2]},
		{"payload a JSON array", rs, parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1,2]")) + "." + parts[2]},
		{"no alg", rs, rawJWT(map[string]any{"typ": "JWT"}, good(), nil)},
		{"huge token", rs, strings.Repeat("a", maxTokenLen+1)},
		{"security key string in jwt mode", rs, "0123456789abcdef0123"},
	}
	for _, at := range attacks {
		p, err := at.a.AuthenticateToken(bg, at.token)
		if err == nil {
			t.Errorf("%s: accepted as %+v", at.name, p)
			continue
		}
		t.Logf("%s: %v", at.name, err)
		if core.CodeOf(err) != core.CodeUnauthorized {
			t.Errorf("%s: code %s (%v)", at.name, core.CodeOf(err), err)
		}
		if msg := core.MessageOf(err); msg != "invalid token" && msg != "token expired" && msg != "token not valid yet" {
			t.Errorf("%s: message %q", at.name, msg)
		}
		if _, err := at.a.Authenticate(bg, bearer(at.token)); err == nil {
			t.Errorf("%s: accepted through the header", at.name)
		}
	}

	// Within the leeway (10 s) expiry and nbf are tolerated.
	if _, err := rs.AuthenticateToken(bg, signRS(with(good(), "exp", now.Add(-5*time.Second).Unix()), nil)); err != nil {
		t.Errorf("exp within leeway: %v", err)
	}
	if _, err := rs.AuthenticateToken(bg, signRS(with(good(), "nbf", now.Add(5*time.Second).Unix()), nil)); err != nil {
		t.Errorf("nbf within leeway: %v", err)
	}
	// An audience list containing ours is fine.
	if _, err := rs.AuthenticateToken(bg, signRS(with(good(), "aud", []string{"x", "gw"}), nil)); err != nil {
		t.Errorf("aud list: %v", err)
	}
	// Tokens without exp pass only when allowed.
	noExp := rawJWT(map[string]any{"alg": "HS256"}, map[string]any{"sub": "alice"}, []byte(testSecret))
	if _, err := hs.AuthenticateToken(bg, noExp); err == nil {
		t.Error("no exp accepted")
	}
	lax := mustNew(t, Config{Mode: "jwt", JWT: JWTConfig{Algorithm: AlgHS256, Key: testSecret, AllowNoExpiry: true}}, nil)
	if _, err := lax.AuthenticateToken(bg, noExp); err != nil {
		t.Errorf("no exp with AllowNoExpiry: %v", err)
	}
	// expired tokens say so
	_, err := rs.AuthenticateToken(bg, signRS(with(good(), "exp", now.Add(-time.Hour).Unix()), nil))
	if core.MessageOf(err) != "token expired" {
		t.Errorf("expired message %q", core.MessageOf(err))
	}
}

func TestJWTMissingScopesClaim(t *testing.T) {
	a := mustNew(t, Config{Mode: "jwt", JWT: JWTConfig{Algorithm: AlgHS256, Key: testSecret}}, nil)
	tok := rawJWT(map[string]any{"alg": "HS256"}, map[string]any{"sub": "bob", "exp": time.Now().Add(time.Hour).Unix()}, []byte(testSecret))
	p, err := a.AuthenticateToken(bg, tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Scopes) != 0 || p.Admin {
		t.Fatalf("principal %+v", p)
	}
	pol := testPolicy()
	ctx := WithPrincipal(bg, p)
	wantCode(t, pol.Authorize(ctx, "rest:GET /agents", ""), core.CodeForbidden)
	wantCode(t, pol.Authorize(ctx, "rest:POST /agents/{agent_id}/runs", "a1"), core.CodeForbidden)
	if err := pol.Authorize(ctx, "mcp:tools/list", ""); err != nil {
		t.Fatalf("authenticated-only op: %v", err)
	}
	if err := pol.Authorize(ctx, "rest:GET /health", ""); err != nil {
		t.Fatalf("public op: %v", err)
	}
	// Unknown scope strings grant nothing and do not fail the token.
	tok = rawJWT(map[string]any{"alg": "HS256"}, map[string]any{"sub": "bob", "exp": time.Now().Add(time.Hour).Unix(),
		"scopes": []string{"bogus", "agents:read", "a b:c"}}, []byte(testSecret))
	p, err = a.AuthenticateToken(bg, tok)
	if err != nil || !slices.Equal(p.ScopeStrings(), []string{"agents:read"}) {
		t.Fatalf("mixed scopes: %+v %v", p, err)
	}
}

func TestAuthorizationHeaderForms(t *testing.T) {
	a := mustNew(t, Config{Mode: "jwt", JWT: JWTConfig{Algorithm: AlgHS256, Key: testSecret}}, nil)
	p, err := a.Authenticate(bg, "")
	if err != nil || !p.Anonymous() || p.Admin {
		t.Fatalf("empty header: %+v %v", p, err)
	}
	for _, h := range []string{"Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "abc", "Bearerabc"} {
		_, err := a.Authenticate(bg, h)
		wantCode(t, err, core.CodeUnauthorized)
	}
	_, err = a.AuthenticateToken(bg, "")
	wantCode(t, err, core.CodeUnauthorized)
}

func TestMintJWTErrors(t *testing.T) {
	k := getKeys(t)
	ed := func() string { // an Ed25519 key is refused for RS256 and ES256
		_, priv, _ := ed25519Key()
		return privPEM(priv)
	}()
	for _, c := range []struct {
		mc  MintConfig
		key string
		sub string
	}{
		{MintConfig{Algorithm: "HS256"}, "short", "a"},
		{MintConfig{Algorithm: "HS256"}, testSecret, ""},
		{MintConfig{Algorithm: "RS256"}, k.rsaPubPEM, "a"},
		{MintConfig{Algorithm: "RS256"}, k.ecPrivPEM, "a"},
		{MintConfig{Algorithm: "ES256"}, k.rsaPrivPEM, "a"},
		{MintConfig{Algorithm: "ES256"}, ed, "a"},
		{MintConfig{Algorithm: "PS256"}, k.rsaPrivPEM, "a"},
		{MintConfig{Algorithm: "RS256"}, "garbage", "a"},
	} {
		if _, err := MintJWT(c.mc, c.key, c.sub, nil, time.Minute); err == nil {
			t.Errorf("MintJWT(%+v) accepted", c.mc)
		}
	}
	// P-384 keys are not ES256 keys.
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := MintJWT(MintConfig{Algorithm: "ES256"}, privPEM(p384), "a", nil, time.Minute); err == nil {
		t.Error("P-384 key accepted for ES256")
	}
	if _, err := New(Config{Mode: "jwt", JWT: JWTConfig{Algorithm: "ES256", Key: pubPEM(&p384.PublicKey)}}, nil); err == nil {
		t.Error("P-384 public key accepted for ES256")
	}
	// Extra claims and kid come through.
	tok := mustMint(t, MintConfig{Algorithm: "HS256", KeyID: "k1", Extra: map[string]any{"session_id": "s1", "sub": "ignored"}}, testSecret, "alice", nil, time.Minute)
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	c := parsed.Claims.(jwt.MapClaims)
	if parsed.Header["kid"] != "k1" || c["session_id"] != "s1" || c["sub"] != "alice" {
		t.Fatalf("minted %v %v", parsed.Header, c)
	}
}
