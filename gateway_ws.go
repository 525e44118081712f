package agentgate

import "github.com/agentgate/agentgate/auth"

// WSConfig configures the WebSocket interface at /ws.
type WSConfig struct{}

// mountWS mounts the WebSocket adapter.
func (g *Gateway) mountWS(policy *auth.Policy) error { return nil }
