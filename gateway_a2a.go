package agentgate

import "github.com/agentgate/agentgate/auth"

// A2AConfig configures the A2A interface (agent cards, JSON-RPC, HTTP+JSON).
type A2AConfig struct{}

// mountA2A mounts the A2A adapter.
func (g *Gateway) mountA2A(policy *auth.Policy) error { return nil }
