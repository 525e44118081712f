package httptransport

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
)

type authErrKey struct{}

// AuthError returns why the request's credentials were refused, if they
// were: the request then goes on as anonymous, and a route that is not
// public answers 401 with this error.
func AuthError(ctx context.Context) error {
	err, _ := ctx.Value(authErrKey{}).(error)
	return err
}

// authenticate puts the request's principal into its user context (see
// auth.FromContext) and applies the per-principal rate limit. It decides
// nothing else: each adapter asks the policy whether the principal may do
// what the request asks.
func authenticate(a *auth.Authenticator, lim *auth.Limiter, hooks Hooks) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		p, err := a.Authenticate(ctx, c.Get(fiber.HeaderAuthorization))
		var ac *authCount
		if hooks != nil {
			ac = &authCount{hooks: hooks, iface: authInterface(c.Path())}
			ctx = context.WithValue(ctx, authCountKey{}, ac)
		}
		if err != nil {
			ac.add(AuthReason(err), true)
			if core.CodeOf(err) == core.CodeUnavailable {
				return WriteError(c, fiber.StatusServiceUnavailable, ErrorBody{Detail: core.MessageOf(err)})
			}
			ctx = context.WithValue(ctx, authErrKey{}, err)
			p = anonymous(a)
		}
		c.SetUserContext(auth.WithPrincipal(ctx, p))
		key := "ip:" + c.IP()
		if p != nil && !p.Anonymous() {
			key = "sub:" + p.Subject
		}
		if probe(c) {
			// A load balancer's health checks must never be refused: they
			// would take a healthy replica out of service.
			return c.Next()
		}
		if ok, retry := lim.Allow(key); !ok {
			ac.add("rate_limited", true)
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(auth.RetryAfterSeconds(retry)))
			return WriteError(c, fiber.StatusTooManyRequests, ErrorBody{Detail: "rate limit exceeded"})
		}
		return c.Next()
	}
}

// probe reports whether the request is a liveness or readiness check,
// which the rate limit does not count.
func probe(c *fiber.Ctx) bool {
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		return false
	}
	p := strings.TrimSuffix(c.Path(), "/")
	return p == "/health" || p == "/ready"
}

// anonymous is the principal of a request whose credentials were refused.
func anonymous(a *auth.Authenticator) *auth.Principal {
	p := a.Anonymous()
	if a.Enabled() && p.Admin {
		// Never let a refused token fall back to an admin.
		q := *p
		q.Admin, q.Scopes = false, nil
		return &q
	}
	return p
}

// Unauthorized writes a 401 with the Bearer challenge.
func Unauthorized(c *fiber.Ctx, err error) error {
	AuthRejected(c.UserContext(), AuthReason(err))
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="agentgate"`)
	return WriteError(c, fiber.StatusUnauthorized, ErrorBody{Detail: core.MessageOf(err)})
}

// authCount is a request's auth failure counter: counted at most once,
// whether the credential middleware refused the credential or an
// adapter rejected the request itself (a Slack signature, a WebSocket's
// auth message, a missing credential a route needs).
type authCount struct {
	hooks   Hooks
	iface   string
	mu      sync.Mutex
	counted bool
}

type authCountKey struct{}

// add counts a refusal; once: not if the request was counted already. A
// nil counter (no hooks) counts nothing.
func (a *authCount) add(reason string, once bool) {
	if a == nil {
		return
	}
	a.mu.Lock()
	done := a.counted
	a.counted = true
	a.mu.Unlock()
	if done && once {
		return
	}
	a.hooks.AuthFailed(a.iface, reason)
}

// AuthRejected counts, once per request, that an adapter rejected the
// request of ctx (a request context of the transport) for reason, one
// of a small set ("signature", "missing", "invalid_token", ...). A
// request whose credential the middleware already refused is not counted
// again. Unauthorized calls it.
func AuthRejected(ctx context.Context, reason string) {
	a, _ := ctx.Value(authCountKey{}).(*authCount)
	a.add(reason, true)
}

// AuthRejectedInBand counts a refused credential sent inside a
// connection the request of ctx opened (a WebSocket's auth message):
// each one counts.
func AuthRejectedInBand(ctx context.Context, reason string) {
	a, _ := ctx.Value(authCountKey{}).(*authCount)
	a.add(reason, false)
}

// WithAuthCount is ctx with the auth failure counter of the request
// context from (a connection that outlives its request counts its
// in-band refusals with AuthRejectedInBand on it).
func WithAuthCount(ctx, from context.Context) context.Context {
	if a, ok := from.Value(authCountKey{}).(*authCount); ok {
		return context.WithValue(ctx, authCountKey{}, a)
	}
	return ctx
}

// authInterface is the interface a request path belongs to.
func authInterface(path string) string {
	switch {
	case strings.HasPrefix(path, "/ws"):
		return "ws"
	case strings.HasPrefix(path, "/slack"):
		return "slack"
	}
	return streamInterface(path)
}

// IsUnauthorized reports whether err means missing or refused credentials.
func IsUnauthorized(err error) bool {
	var ce *core.Error
	return errors.As(err, &ce) && ce.Code == core.CodeUnauthorized
}

// AuthReason is a bounded label for why err refused a credential.
func AuthReason(err error) string {
	if core.CodeOf(err) == core.CodeUnavailable {
		return "unavailable"
	}
	msg := strings.ToLower(core.MessageOf(err))
	switch {
	case strings.Contains(msg, "bearer"):
		return "scheme"
	case strings.Contains(msg, "missing"):
		return "missing"
	case strings.Contains(msg, "security key"):
		return "invalid_key"
	case strings.Contains(msg, "expired"):
		return "expired"
	case strings.Contains(msg, "revoked"):
		return "revoked"
	}
	return "invalid_token"
}
