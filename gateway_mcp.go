package agentgate

import "github.com/agentgate/agentgate/auth"

// MCPConfig configures the MCP interface at /mcp.
type MCPConfig struct{}

// mountMCP mounts the MCP adapter.
func (g *Gateway) mountMCP(policy *auth.Policy) error { return nil }
