package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Supported JWT algorithms.
const (
	AlgHS256 = "HS256"
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
)

const (
	minHMACSecret = 32   // bytes, RFC 7518 §3.2
	minRSABits    = 2048 // smaller RSA keys are refused
)

// jwtVerifier checks JWTs signed with one configured algorithm.
type jwtVerifier struct {
	cfg    JWTConfig
	parser *jwt.Parser
	static any      // key from Key/KeyFile, or nil
	file   keySet   // keys from JWKSFile, or nil
	remote *jwksSet // keys from JWKSURL, or nil
}

func newJWTVerifier(cfg JWTConfig, now func() time.Time) (*jwtVerifier, error) {
	cfg.setDefaults()
	switch cfg.Algorithm {
	case AlgHS256, AlgRS256, AlgES256:
	default:
		return nil, fmt.Errorf("auth: unsupported JWT algorithm %q (want HS256, RS256 or ES256)", cfg.Algorithm)
	}
	v := &jwtVerifier{cfg: cfg}
	if cfg.Key != "" && cfg.KeyFile != "" {
		return nil, errors.New("auth: set jwt key or key file, not both")
	}
	key := cfg.Key
	if cfg.KeyFile != "" {
		b, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("auth: jwt key file: %w", err)
		}
		key = string(b)
		if cfg.Algorithm == AlgHS256 {
			key = strings.TrimRight(key, "\r\n")
		}
	}
	if key != "" {
		k, err := verificationKey(cfg.Algorithm, key)
		if err != nil {
			return nil, fmt.Errorf("auth: jwt key: %w", err)
		}
		v.static = k
	}
	if cfg.JWKSFile != "" {
		b, err := os.ReadFile(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("auth: jwks file: %w", err)
		}
		ks, err := parseJWKS(b, cfg.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("auth: jwks file %s: %w", cfg.JWKSFile, err)
		}
		v.file = ks
	}
	if cfg.JWKSURL != "" {
		u, err := url.Parse(cfg.JWKSURL)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, fmt.Errorf("auth: jwks url %q is not an http(s) URL", cfg.JWKSURL)
		}
		if u.Scheme == "http" && !cfg.JWKSAllowHTTP && !loopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("auth: jwks url %q must use https (or set jwks_allow_http)", cfg.JWKSURL)
		}
		client := cfg.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: cfg.JWKSTimeout}
		}
		v.remote = &jwksSet{url: cfg.JWKSURL, alg: cfg.Algorithm, client: client, timeout: cfg.JWKSTimeout,
			minRefresh: cfg.JWKSMinRefresh, maxAge: cfg.JWKSMaxAge, now: now}
	}
	if v.static == nil && v.file == nil && v.remote == nil {
		return nil, errors.New("auth: mode jwt needs a key source: set jwt_key (AGENTGATE_JWT_KEY), auth.jwks_file (AGENTGATE_AUTH_JWKS_FILE) or jwks_url (AGENTGATE_JWKS_URL)")
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{cfg.Algorithm}),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(now),
		jwt.WithIssuedAt(),
	}
	if !cfg.AllowNoExpiry {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// verify checks token and returns its principal (Isolated not yet set).
func (v *jwtVerifier) verify(ctx context.Context, token string) (*Principal, error) {
	if strings.Count(token, ".") != 2 {
		return nil, unauthorized("invalid token", errors.New("not a JWT (want three segments)"))
	}
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if t.Method == nil || t.Method.Alg() != v.cfg.Algorithm { // WithValidMethods checked it; belt and braces
			return nil, fmt.Errorf("unexpected algorithm")
		}
		return v.key(ctx, t)
	})
	if err != nil {
		msg := "invalid token"
		switch {
		case errors.Is(err, jwt.ErrTokenExpired):
			msg = "token expired"
		case errors.Is(err, jwt.ErrTokenNotValidYet):
			msg = "token not valid yet"
		}
		return nil, unauthorized(msg, err)
	}
	sub, _ := claims["sub"].(string)
	userID := sub
	if v.cfg.UserIDClaim != "sub" {
		userID, _ = claims[v.cfg.UserIDClaim].(string)
	}
	if userID == "" {
		return nil, unauthorized("invalid token", fmt.Errorf("no %s claim", v.cfg.UserIDClaim))
	}
	if sub == "" {
		sub = userID
	}
	if reservedSubject(sub) || reservedSubject(userID) {
		return nil, unauthorized("invalid token", errors.New("subject names a reserved principal"))
	}
	p := &Principal{Subject: sub, UserID: userID, Kind: KindJWT}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		p.ExpiresAt = exp.Time
	}
	raw, err := scopeStrings(claims[v.cfg.ScopesClaim])
	if err != nil {
		return nil, unauthorized("invalid token", err)
	}
	for _, s := range raw {
		if s == v.cfg.AdminScope {
			p.Admin = true
		}
		if sc, err := ParseScope(s); err == nil { // unknown shapes grant nothing
			p.Scopes = append(p.Scopes, sc)
		}
	}
	return p, nil
}

// reservedSubject: names the gateway gives its own principals.
func reservedSubject(s string) bool {
	return strings.HasPrefix(s, "sa:") || strings.HasPrefix(s, "__") ||
		s == "anonymous" || s == "key" || strings.HasPrefix(s, ServiceAccountTokenPrefix)
}

// scopeStrings reads a scopes claim: absent, a list of strings, or one
// space-separated string (OAuth "scope").
func scopeStrings(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return strings.Fields(x), nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, errors.New("scopes claim holds a non-string")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, errors.New("scopes claim is neither a list nor a string")
}

// key picks the verification key for t.
func (v *jwtVerifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	kid, hasKid := t.Header["kid"].(string)
	if _, present := t.Header["kid"]; present && !hasKid {
		return nil, errors.New("kid is not a string")
	}
	if hasKid && kid != "" {
		if k, ok := v.file[kid]; ok {
			return k, nil
		}
		if v.remote != nil {
			return v.remote.key(ctx, kid)
		}
		if v.static != nil && v.file == nil {
			return v.static, nil // a single configured key: kid is informative
		}
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	if v.static != nil {
		return v.static, nil
	}
	if len(v.file) == 1 && v.remote == nil {
		for _, k := range v.file {
			return k, nil
		}
	}
	return nil, errors.New("token has no kid")
}

// verificationKey parses the configured key for alg.
func verificationKey(alg, key string) (any, error) {
	if alg == AlgHS256 {
		if strings.Contains(key, "-----BEGIN") {
			return nil, errors.New("HS256 needs a shared secret, not a PEM key")
		}
		if len(key) < minHMACSecret {
			return nil, fmt.Errorf("HS256 secret must be at least %d bytes", minHMACSecret)
		}
		return []byte(key), nil
	}
	if !strings.Contains(key, "-----BEGIN") {
		// The usual mistake: a shared secret with the default algorithm.
		which := alg
		if alg == AlgRS256 {
			which += " (the default)"
		}
		return nil, fmt.Errorf("the JWT algorithm is %s, which needs a PEM public key, and this key is not PEM: "+
			"for a shared secret set auth.jwt_algorithm: HS256 (AGENTGATE_AUTH_JWT_ALGORITHM=HS256)", which)
	}
	pub, err := parsePublicKeyPEM([]byte(key))
	if err != nil {
		return nil, err
	}
	return checkPublicKey(alg, pub)
}

// checkPublicKey makes sure pub suits alg.
func checkPublicKey(alg string, pub any) (any, error) {
	switch alg {
	case AlgRS256:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("RS256 needs an RSA public key, got %T", pub)
		}
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits; at least %d needed", k.N.BitLen(), minRSABits)
		}
		return k, nil
	case AlgES256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ES256 needs a P-256 EC public key, got %T", pub)
		}
		return k, nil
	}
	return nil, fmt.Errorf("algorithm %s takes no public key", alg)
}

// parsePublicKeyPEM reads a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE block.
func parsePublicKeyPEM(b []byte) (any, error) {
	block, _ := pem.Decode(bytes.TrimSpace(b))
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return c.PublicKey, nil
	}
	if strings.Contains(block.Type, "PRIVATE") {
		return nil, errors.New("a private key was given; configure the public key")
	}
	return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
}

// parsePrivateKeyPEM reads a PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY.
func parsePrivateKeyPEM(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(bytes.TrimSpace(b))
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var k any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unexpected PEM block %q (want a private key)", block.Type)
	}
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key %T", k)
	}
	return s, nil
}

// MintConfig says how MintJWT signs and what claims it sets.
type MintConfig struct {
	Algorithm   string // HS256, RS256 (default) or ES256
	KeyID       string // kid header, optional
	Audience    string // aud, optional
	Issuer      string // iss, optional
	ScopesClaim string // default "scopes"
	UserIDClaim string // default "sub"; when another claim, it is set too
	// Extra claims; they do not replace the ones above.
	Extra map[string]any
}

// MintConfig returns the mint settings matching this verification config.
func (c JWTConfig) MintConfig() MintConfig {
	return MintConfig{Algorithm: c.Algorithm, Audience: c.Audience, Issuer: c.Issuer,
		ScopesClaim: c.ScopesClaim, UserIDClaim: c.UserIDClaim}
}

// MintJWT signs a token for subject with scopes, valid for ttl (no exp when
// ttl <= 0; verifiers reject such tokens unless AllowNoExpiry).
// signingKey is the HS256 secret, or a PEM private key (PKCS#8, PKCS#1 or
// SEC 1) for RS256/ES256.
func MintJWT(mc MintConfig, signingKey, subject string, scopes []string, ttl time.Duration) (string, error) {
	alg := strings.ToUpper(mc.Algorithm)
	if alg == "" {
		alg = AlgRS256
	}
	if subject == "" {
		return "", errors.New("auth: mint: empty subject")
	}
	if mc.ScopesClaim == "" {
		mc.ScopesClaim = "scopes"
	}
	var method jwt.SigningMethod
	var key any
	switch alg {
	case AlgHS256:
		if len(signingKey) < minHMACSecret {
			return "", fmt.Errorf("auth: mint: HS256 secret must be at least %d bytes", minHMACSecret)
		}
		method, key = jwt.SigningMethodHS256, []byte(signingKey)
	case AlgRS256, AlgES256:
		s, err := parsePrivateKeyPEM([]byte(signingKey))
		if err != nil {
			return "", fmt.Errorf("auth: mint: %w", err)
		}
		if _, err := checkPublicKey(alg, s.Public()); err != nil {
			return "", fmt.Errorf("auth: mint: %w", err)
		}
		if alg == AlgRS256 {
			method = jwt.SigningMethodRS256
		} else {
			method = jwt.SigningMethodES256
		}
		key = s
	default:
		return "", fmt.Errorf("auth: mint: unsupported algorithm %q", mc.Algorithm)
	}
	now := time.Now()
	claims := jwt.MapClaims{}
	for k, v := range mc.Extra {
		claims[k] = v
	}
	claims["sub"] = subject
	if mc.UserIDClaim != "" && mc.UserIDClaim != "sub" {
		claims[mc.UserIDClaim] = subject
	}
	claims["iat"] = now.Unix()
	claims["nbf"] = now.Unix()
	if ttl > 0 {
		claims["exp"] = now.Add(ttl).Unix()
	}
	if mc.Audience != "" {
		claims["aud"] = mc.Audience
	}
	if mc.Issuer != "" {
		claims["iss"] = mc.Issuer
	}
	if scopes == nil {
		scopes = []string{}
	}
	claims[mc.ScopesClaim] = scopes
	t := jwt.NewWithClaims(method, claims)
	if mc.KeyID != "" {
		t.Header["kid"] = mc.KeyID
	}
	return t.SignedString(key)
}
