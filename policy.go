package agentgate

import (
	"github.com/agentgate/agentgate/adapters/a2a"
	"github.com/agentgate/agentgate/adapters/mcp"
	"github.com/agentgate/agentgate/adapters/rest"
	"github.com/agentgate/agentgate/adapters/slack"
	"github.com/agentgate/agentgate/adapters/ws"
	"github.com/agentgate/agentgate/auth"
)

// DefaultPolicy is the authorization table of every interface agentgate
// has, each adapter's entries as its own table declares them. A gateway
// builds its policy from the interfaces it really mounts (New); this one
// is for tools and tests that walk the whole table (the e2e auth matrix).
func DefaultPolicy() *auth.Policy {
	p := auth.NewPolicy()
	for _, ops := range [][]auth.Operation{rest.Operations(), ws.Operations(), mcp.Operations(), a2a.Operations(), slack.Operations()} {
		p.Declare(ops...)
	}
	return p
}
