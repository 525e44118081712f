package httptransport

import (
	"context"
	"errors"
	"strconv"
	"strings"

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
		if err != nil {
			if hooks != nil {
				hooks.AuthFailed(authReason(err))
			}
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
			if hooks != nil {
				hooks.AuthFailed("rate_limited")
			}
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
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="agentgate"`)
	return WriteError(c, fiber.StatusUnauthorized, ErrorBody{Detail: core.MessageOf(err)})
}

// IsUnauthorized reports whether err means missing or refused credentials.
func IsUnauthorized(err error) bool {
	var ce *core.Error
	return errors.As(err, &ce) && ce.Code == core.CodeUnauthorized
}

// authReason is a bounded label for why credentials were refused.
func authReason(err error) string {
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
