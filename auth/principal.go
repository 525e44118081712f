package auth

import (
	"context"
	"slices"
	"time"
)

// Principal kinds.
const (
	KindAnonymous      = "anonymous"
	KindKey            = "key"
	KindJWT            = "jwt"
	KindServiceAccount = "service_account"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	// Subject names the caller: the JWT sub, "sa:<id>" for a service
	// account, "key" for the security key, "anonymous" without credentials.
	Subject string
	// UserID is the user the caller acts as; under user isolation it binds
	// sessions, runs and approvals. Taken from the token, never the request.
	UserID string
	Scopes []Scope
	// Admin allows everything (agent_os:admin, the security key, or auth
	// mode none).
	Admin bool
	// Kind is one of KindAnonymous, KindKey, KindJWT, KindServiceAccount.
	Kind             string
	ServiceAccountID string
	// Isolated is true when user isolation applies to this caller: auth is
	// on, isolation is not disabled, and the caller is not an admin.
	Isolated bool
	// ExpiresAt is when the credential stops being valid (a JWT's exp, a
	// service account's expiry); zero: never. A request is checked once;
	// a long-lived connection (a WebSocket) ends at this time.
	ExpiresAt time.Time

	// tokenHash is a service account's token hash, for Recheck.
	tokenHash string
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal put in ctx by WithPrincipal.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// Anonymous reports whether p carries no credentials (nil counts).
func (p *Principal) Anonymous() bool { return p == nil || p.Kind == KindAnonymous }

// Allows reports whether p may do action on the resource with this id. An
// admin may do everything; a global (resource:action) or wildcard
// (resource:*:action) scope allows every id; resource:<id>:action only that
// id. An empty id asks for the resource as a whole: only a global scope
// allows it. A nil principal is allowed nothing.
func (p *Principal) Allows(resource, id, action string) bool {
	if p == nil {
		return false
	}
	if p.Admin {
		return true
	}
	for _, s := range p.Scopes {
		if s.Covers(resource, id, action) {
			return true
		}
	}
	return false
}

// VisibleIDs says which ids of resource p may do action on, to filter a
// list: all is true when every id is allowed (admin, global or wildcard
// scope); otherwise ids lists the ids named by per-resource scopes (sorted,
// without duplicates; empty when none).
func (p *Principal) VisibleIDs(resource, action string) (all bool, ids []string) {
	if p == nil {
		return false, nil
	}
	if p.Admin {
		return true, nil
	}
	for _, s := range p.Scopes {
		if s.Resource != resource || (s.Action != action && s.Action != Wildcard) {
			continue
		}
		if s.Global() {
			return true, nil
		}
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return false, slices.Compact(ids)
}

// MayApprove reports whether p may resolve approvals (approvals:write):
// a pending approval then does not refuse p's continue of its run, whose
// decisions resolve it.
func (p *Principal) MayApprove() bool { return p.Allows(ResourceApprovals, "", ActionWrite) }

// Approver is how p is recorded as the one who resolved an approval
// (resolved_by): its subject, never what a request body claims.
func (p *Principal) Approver() string {
	if p == nil {
		return ""
	}
	return p.Subject
}

// CanAccessUser reports whether p may see or touch data owned by userID:
// always without isolation, else only its own.
func (p *Principal) CanAccessUser(userID string) bool {
	if p == nil {
		return false
	}
	return !p.Isolated || userID == p.UserID
}

// Owner names the caller for what it owns by a name of its choosing, such
// as idempotency keys: its kind and subject. Every caller without
// credentials (auth off) is one owner.
func (p *Principal) Owner() string {
	if p == nil || p.Kind == KindAnonymous {
		return KindAnonymous
	}
	return p.Kind + ":" + p.Subject
}

// BindUserID returns the user id a request should act as: under isolation
// the token's user id, whatever was asked; otherwise requested.
func (p *Principal) BindUserID(requested string) string {
	if p != nil && p.Isolated {
		return p.UserID
	}
	return requested
}

// CanGrant reports whether p holds every scope in scopes, so that it may
// hand them to a service account it creates (no escalation). Admins may
// grant anything; agent_os:admin only admins.
func (p *Principal) CanGrant(scopes []Scope) bool {
	if p == nil {
		return false
	}
	if p.Admin {
		return true
	}
	for _, s := range scopes {
		if s.IsAdmin() || !p.covers(s) {
			return false
		}
	}
	return true
}

// covers: some scope of p is at least as broad as s.
func (p *Principal) covers(s Scope) bool {
	for _, h := range p.Scopes {
		if h.Resource != s.Resource {
			continue
		}
		if h.Action != Wildcard && h.Action != s.Action {
			continue
		}
		if h.Global() || (s.ID != "" && s.ID != Wildcard && h.ID == s.ID) {
			return true
		}
	}
	return false
}

// ScopeStrings returns p's scopes formatted.
func (p *Principal) ScopeStrings() []string {
	if p == nil {
		return nil
	}
	out := make([]string, len(p.Scopes))
	for i, s := range p.Scopes {
		out[i] = s.String()
	}
	return out
}
