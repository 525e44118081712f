package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/agentgate/agentgate/core"
)

// Auth modes.
const (
	ModeNone = "none"
	ModeKey  = "key"
	ModeJWT  = "jwt"
)

// Config configures an Authenticator.
type Config struct {
	// Mode is "none" (default: everyone is an anonymous admin), "key" (a
	// shared security key) or "jwt". Service-account tokens are accepted in
	// key and jwt modes when a service-account store is given.
	Mode string
	// SecurityKey is the shared key of mode key (at least 16 characters),
	// compared in constant time. Ignored in other modes.
	SecurityKey string
	JWT         JWTConfig
	// UserIsolation binds non-admins to their own data. Default: on
	// whenever Mode is not none; always off in mode none.
	UserIsolation *bool
	// ServiceAccountTouchInterval is how often a service account's
	// last_used_at is written at most (default 1m).
	ServiceAccountTouchInterval time.Duration
}

// JWTConfig configures JWT verification (mode jwt).
type JWTConfig struct {
	// Algorithm is the only accepted algorithm: HS256, RS256 (default) or
	// ES256. Tokens with any other alg, "none" included, are rejected.
	Algorithm string
	// Key is a PEM public key (or certificate) for RS256/ES256, or the
	// shared secret (at least 32 bytes) for HS256.
	Key string
	// KeyFile reads Key from a file.
	KeyFile string
	// JWKSFile is a static JWKS; keys are chosen by the token's kid.
	JWKSFile string
	// JWKSURL is fetched (with JWKSTimeout), cached, refreshed after
	// JWKSMaxAge and on an unknown kid, at most once per JWKSMinRefresh;
	// on fetch errors the cached keys stay in use. http:// is accepted only
	// for loopback hosts unless JWKSAllowHTTP.
	JWKSURL        string
	JWKSTimeout    time.Duration // default 5s
	JWKSMinRefresh time.Duration // default 30s
	JWKSMaxAge     time.Duration // default 1h
	JWKSAllowHTTP  bool
	// HTTPClient fetches JWKSURL (default: a client with JWKSTimeout).
	HTTPClient *http.Client
	// Audience and Issuer, when set, must match the aud and iss claims.
	Audience, Issuer string
	// Leeway tolerates clock skew on exp, nbf and iat (default 10s).
	Leeway time.Duration
	// AllowNoExpiry accepts tokens without an exp claim (default: rejected).
	AllowNoExpiry bool
	// ScopesClaim holds the scopes: a list of strings or one
	// space-separated string (default "scopes").
	ScopesClaim string
	// UserIDClaim holds the user id (default "sub").
	UserIDClaim string
	// AdminScope makes a token admin (default "agent_os:admin").
	AdminScope string
}

func (c *JWTConfig) setDefaults() {
	if c.Algorithm == "" {
		c.Algorithm = "RS256"
	}
	c.Algorithm = strings.ToUpper(c.Algorithm)
	if c.Leeway == 0 {
		c.Leeway = 10 * time.Second
	}
	if c.ScopesClaim == "" {
		c.ScopesClaim = "scopes"
	}
	if c.UserIDClaim == "" {
		c.UserIDClaim = "sub"
	}
	if c.AdminScope == "" {
		c.AdminScope = AdminScope
	}
	if c.JWKSTimeout <= 0 {
		c.JWKSTimeout = 5 * time.Second
	}
	if c.JWKSMinRefresh <= 0 {
		c.JWKSMinRefresh = 30 * time.Second
	}
	if c.JWKSMaxAge <= 0 {
		c.JWKSMaxAge = time.Hour
	}
}

// Authenticator turns credentials into a Principal. It is safe for
// concurrent use.
type Authenticator struct {
	mode      string
	isolation bool
	keyDigest [32]byte
	jwt       *jwtVerifier
	sa        ServiceAccountLookup
	now       func() time.Time

	touchEvery time.Duration
	touchMu    sync.Mutex
	touched    map[string]time.Time
}

// New validates cfg and returns an Authenticator. accounts may be nil (then
// service-account tokens are rejected).
func New(cfg Config, accounts ServiceAccountLookup) (*Authenticator, error) {
	mode := strings.ToLower(strings.TrimSpace(cfg.Mode))
	switch mode {
	case "", ModeNone:
		mode = ModeNone
	case ModeKey, "security_key":
		mode = ModeKey
	case ModeJWT:
	default:
		return nil, fmt.Errorf("auth: unknown mode %q (want none, key or jwt)", cfg.Mode)
	}
	a := &Authenticator{mode: mode, sa: accounts, now: time.Now, touched: map[string]time.Time{},
		touchEvery: cfg.ServiceAccountTouchInterval}
	if a.touchEvery <= 0 {
		a.touchEvery = time.Minute
	}
	switch mode {
	case ModeKey:
		if len(cfg.SecurityKey) < 16 {
			return nil, errors.New("auth: mode key needs a security key of at least 16 characters: set security_key (AGENTGATE_SECURITY_KEY)")
		}
		a.keyDigest = sha256.Sum256([]byte(cfg.SecurityKey))
	case ModeJWT:
		v, err := newJWTVerifier(cfg.JWT, func() time.Time { return a.now() })
		if err != nil {
			return nil, err
		}
		a.jwt = v
	}
	a.isolation = mode != ModeNone
	if cfg.UserIsolation != nil && mode != ModeNone {
		a.isolation = *cfg.UserIsolation
	}
	return a, nil
}

// Mode returns the auth mode: "none", "key" or "jwt".
func (a *Authenticator) Mode() string { return a.mode }

// Enabled reports whether credentials are checked (mode is not none).
func (a *Authenticator) Enabled() bool { return a.mode != ModeNone }

// UserIsolation reports whether non-admins are bound to their own data.
func (a *Authenticator) UserIsolation() bool { return a.isolation }

// Anonymous returns the principal of a request without credentials: an
// admin in mode none, else a principal that only public operations admit.
func (a *Authenticator) Anonymous() *Principal {
	return &Principal{Subject: "anonymous", Kind: KindAnonymous, Admin: a.mode == ModeNone}
}

// maxTokenLen bounds a credential (tokens are untrusted input).
const maxTokenLen = 16 << 10

// Authenticate checks the value of an Authorization header. In mode none
// it returns the anonymous admin whatever the header holds. Otherwise an
// empty header gives the anonymous non-admin principal (which only public
// operations admit), and "Bearer <token>" is checked by AuthenticateToken;
// anything else is a CodeUnauthorized error.
func (a *Authenticator) Authenticate(ctx context.Context, authorizationHeader string) (*Principal, error) {
	if a.mode == ModeNone {
		return a.Anonymous(), nil
	}
	h := strings.TrimSpace(authorizationHeader)
	if h == "" {
		return a.Anonymous(), nil
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, unauthorized("expected a Bearer token", nil)
	}
	return a.AuthenticateToken(ctx, strings.TrimSpace(token))
}

// AuthenticateToken checks a bare token (as sent in a WebSocket
// authenticate message): a service-account token (prefix agw_sa_), else the
// security key in mode key, else a JWT in mode jwt.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (*Principal, error) {
	if a.mode == ModeNone {
		return a.Anonymous(), nil
	}
	if token == "" {
		return nil, unauthorized("missing token", nil)
	}
	if len(token) > maxTokenLen {
		return nil, unauthorized("invalid token", errors.New("token too long"))
	}
	if strings.HasPrefix(token, ServiceAccountTokenPrefix) {
		return a.authenticateServiceAccount(ctx, token)
	}
	switch a.mode {
	case ModeKey:
		d := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(d[:], a.keyDigest[:]) != 1 {
			return nil, unauthorized("invalid security key", nil)
		}
		return &Principal{Subject: "key", Kind: KindKey, Admin: true}, nil
	case ModeJWT:
		p, err := a.jwt.verify(ctx, token)
		if err != nil {
			return nil, err
		}
		p.Isolated = a.isolation && !p.Admin
		return p, nil
	}
	return nil, unauthorized("invalid token", nil)
}

func (a *Authenticator) authenticateServiceAccount(ctx context.Context, token string) (*Principal, error) {
	if a.sa == nil {
		return nil, unauthorized("invalid token", errors.New("service accounts are not enabled"))
	}
	if !wellFormedServiceAccountToken(token) {
		return nil, unauthorized("invalid token", errors.New("malformed service-account token"))
	}
	acct, err := a.sa.GetServiceAccountByTokenHash(ctx, HashToken(token))
	if err != nil {
		if errors.Is(err, core.ErrNotFound) {
			return nil, unauthorized("invalid token", err)
		}
		return nil, &core.Error{Code: core.CodeUnavailable, Message: "cannot verify the token now", Err: err}
	}
	if acct == nil {
		return nil, unauthorized("invalid token", errors.New("unknown service-account token"))
	}
	now := a.now()
	if acct.RevokedAt != 0 {
		return nil, unauthorized("token revoked", nil)
	}
	if acct.expired(now) {
		return nil, unauthorized("token expired", nil)
	}
	p := &Principal{
		Subject:          acct.principal(),
		UserID:           acct.UserID,
		Kind:             KindServiceAccount,
		ServiceAccountID: acct.ID,
		tokenHash:        acct.TokenHash,
	}
	if acct.ExpiresAt != 0 {
		p.ExpiresAt = time.Unix(acct.ExpiresAt, 0)
	}
	if p.UserID == "" {
		p.UserID = p.Subject
	}
	admin := a.adminScope()
	for _, s := range acct.Scopes {
		if s == admin {
			p.Admin = true
		}
		if sc, err := ParseScope(s); err == nil {
			p.Scopes = append(p.Scopes, sc)
		}
	}
	p.Isolated = a.isolation && !p.Admin
	a.touch(ctx, acct.ID, now)
	return p, nil
}

// Recheck tells whether p, authenticated earlier (a WebSocket's
// principal), is still valid: its credential has not expired, and a
// service account's token is still stored and not revoked. The lookup is
// the one every HTTP request with such a token makes (one indexed read),
// so it is not cached: a revocation holds from the next action on. It
// returns a CodeUnauthorized error ("token expired", "token revoked") when
// not, a CodeUnavailable one when the store cannot say.
func (a *Authenticator) Recheck(ctx context.Context, p *Principal) error {
	if p == nil || a.mode == ModeNone {
		return nil
	}
	now := a.now()
	if !p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt) {
		return unauthorized("token expired", nil)
	}
	if p.Kind != KindServiceAccount || a.sa == nil {
		return nil
	}
	acct, err := a.sa.GetServiceAccountByTokenHash(ctx, p.tokenHash)
	switch {
	case errors.Is(err, core.ErrNotFound) || err == nil && (acct == nil || acct.ID != p.ServiceAccountID):
		return unauthorized("token revoked", err)
	case err != nil:
		return &core.Error{Code: core.CodeUnavailable, Message: "cannot verify the token now", Err: err}
	case acct.RevokedAt != 0:
		return unauthorized("token revoked", nil)
	case acct.expired(now):
		return unauthorized("token expired", nil)
	}
	return nil
}

func (a *Authenticator) adminScope() string {
	if a.jwt != nil {
		return a.jwt.cfg.AdminScope
	}
	return AdminScope
}

// touch records last use, at most once per touchEvery per account; errors
// are ignored (last_used_at is informational).
func (a *Authenticator) touch(ctx context.Context, id string, now time.Time) {
	a.touchMu.Lock()
	last, ok := a.touched[id]
	if ok && now.Sub(last) < a.touchEvery {
		a.touchMu.Unlock()
		return
	}
	a.touched[id] = now
	if len(a.touched) > 10000 { // bound memory: forget stale entries
		for k, t := range a.touched {
			if now.Sub(t) >= a.touchEvery {
				delete(a.touched, k)
			}
		}
	}
	a.touchMu.Unlock()
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = a.sa.TouchServiceAccount(tctx, id, now.Unix())
}

// unauthorized builds the CodeUnauthorized error; msg is shown, cause not.
func unauthorized(msg string, cause error) error {
	return &core.Error{Code: core.CodeUnauthorized, Message: msg, Err: cause}
}
