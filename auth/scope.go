package auth

import (
	"fmt"
	"strings"
)

// AdminScope is the scope that allows everything (the default of
// JWTConfig.AdminScope).
const AdminScope = "agent_os:admin"

// Wildcard stands for every id (resource:*:action) or every action
// (resource:*) in a scope.
const Wildcard = "*"

// Scope is one permission in AgentOS's grammar:
//
//	resource:action          global: every id of the resource
//	resource:<id>:action     only that id
//	resource:*:action        every id (same as global)
//	resource:*               every action (resource:<id>:* for one id)
//	agent_os:admin           everything
//
// The legacy resource name "system" is read as "config" (system:read is
// config:read). An id may itself contain colons: the first segment is the
// resource, the last the action, and whatever lies between is the id.
type Scope struct {
	Resource string // e.g. "agents"
	ID       string // "" for a global scope, "*" for any id, else one id
	Action   string // e.g. "read", "run"; "*" for any action
}

// maxScopeLen bounds a scope string (tokens are untrusted).
const maxScopeLen = 512

// ParseScope parses s (see Scope). It rejects empty parts, whitespace and
// control characters, and resource or action names outside [A-Za-z0-9_.-].
func ParseScope(s string) (Scope, error) {
	if s == "" {
		return Scope{}, fmt.Errorf("empty scope")
	}
	if len(s) > maxScopeLen {
		return Scope{}, fmt.Errorf("scope longer than %d bytes", maxScopeLen)
	}
	first := strings.IndexByte(s, ':')
	last := strings.LastIndexByte(s, ':')
	if first < 0 {
		return Scope{}, fmt.Errorf("scope %q: want resource:action or resource:<id>:action", s)
	}
	sc := Scope{Resource: s[:first], Action: s[last+1:]}
	if first != last {
		sc.ID = s[first+1 : last]
		if sc.ID == "" {
			return Scope{}, fmt.Errorf("scope %q: empty id", s)
		}
		if !validID(sc.ID) {
			return Scope{}, fmt.Errorf("scope %q: id has whitespace or control characters", s)
		}
	}
	if !validName(sc.Resource) {
		return Scope{}, fmt.Errorf("scope %q: bad resource name", s)
	}
	if sc.Action != Wildcard && !validName(sc.Action) {
		return Scope{}, fmt.Errorf("scope %q: bad action name", s)
	}
	if sc.Resource == "system" { // legacy alias
		sc.Resource = "config"
	}
	return sc, nil
}

// MustParseScope is ParseScope that panics; for tables and tests.
func MustParseScope(s string) Scope {
	sc, err := ParseScope(s)
	if err != nil {
		panic(err)
	}
	return sc
}

// ParseScopes parses every string; the first error is returned.
func ParseScopes(ss []string) ([]Scope, error) {
	out := make([]Scope, 0, len(ss))
	for _, s := range ss {
		sc, err := ParseScope(s)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// String formats the scope in the grammar (legacy names normalised).
func (s Scope) String() string {
	if s.ID == "" {
		return s.Resource + ":" + s.Action
	}
	return s.Resource + ":" + s.ID + ":" + s.Action
}

// IsAdmin reports whether s is agent_os:admin.
func (s Scope) IsAdmin() bool { return s.Resource == "agent_os" && s.ID == "" && s.Action == "admin" }

// Global reports whether s covers every id of its resource.
func (s Scope) Global() bool { return s.ID == "" || s.ID == Wildcard }

// Covers reports whether s grants action on id of resource. An empty id asks
// for the resource as a whole, which only a global scope grants.
func (s Scope) Covers(resource, id, action string) bool {
	if s.Resource != resource || (s.Action != action && s.Action != Wildcard) {
		return false
	}
	if s.Global() {
		return true
	}
	return id != "" && s.ID == id
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

func validID(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '\uFFFD' {
			return false
		}
	}
	return true
}
