package agentgate

import (
	"context"
	"fmt"
	"io"

	mcpadapter "github.com/agentgate/agentgate/adapters/mcp"
	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
)

// MCPConfig configures the MCP interface: Streamable HTTP at /mcp (both the
// 2026-07-28 and 2025-11-25 protocol eras) and `agentgate mcp --stdio`.
type MCPConfig struct {
	// AgentTools adds one ask_<agent> tool per agent, described by the
	// agent's description (default true; false keeps only run_agent and
	// the other built-in tools).
	AgentTools *bool `yaml:"agent_tools"`
	// AllowedOrigins are the browser origins (scheme://host[:port]) allowed
	// to call /mcp besides loopback ones ("*": any). Requests with another
	// Origin header get 403.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowedHosts are Host header values accepted on loopback connections
	// besides localhost and loopback IPs, e.g. the public name a reverse
	// proxy on the same machine forwards ("*": any). Other hosts get 403:
	// the DNS-rebinding guard of a gateway listening on 127.0.0.1.
	AllowedHosts []string `yaml:"allowed_hosts"`
}

// agentTools reports whether per-agent tools are on (the default).
func (c MCPConfig) agentTools() bool { return c.AgentTools == nil || *c.AgentTools }

// mcpServer builds the MCP adapter over the gateway's engine; recheck (for
// stdio) is asked before each request whether the caller still holds.
func (g *Gateway) mcpServer(policy *auth.Policy, recheck func(context.Context, *auth.Principal) error) *mcpadapter.Server {
	return mcpadapter.New(g.eng, mcpadapter.Config{
		Name: g.cfg.Name, Description: g.cfg.Description, Version: Version,
		Policy:         policy,
		AgentTools:     g.cfg.MCP.agentTools(),
		AllowedOrigins: g.cfg.MCP.AllowedOrigins,
		AllowedHosts:   g.cfg.MCP.AllowedHosts,
		Heartbeat:      g.srv.Config().HeartbeatInterval,
		Logger:         g.logger,
		Recheck:        recheck,
	})
}

// mountMCP mounts the MCP adapter.
func (g *Gateway) mountMCP(policy *auth.Policy) error {
	g.mcpServer(policy, nil).Register(g.srv.App, "/mcp")
	return nil
}

// ServeMCPStdio serves the MCP tools over stdio (in and out carry the
// JSON-RPC messages; logs go to the gateway's logger) until in ends or ctx
// is done. It is what `agentgate mcp --stdio` runs: no HTTP listener, the
// gateway's engine and storage directly. The caller is the principal token
// authenticates (a security key, JWT or service-account token); without a
// token it is the local operator, which auth mode none allows and the
// other modes refuse.
func (g *Gateway) ServeMCPStdio(ctx context.Context, in io.Reader, out io.Writer, token string) error {
	a := g.srv.Config().Auth
	var p *auth.Principal
	switch {
	case token != "":
		var err error
		if p, err = a.AuthenticateToken(ctx, token); err != nil {
			return fmt.Errorf("mcp: the token was refused: %s", core.MessageOf(err))
		}
	case a.Enabled():
		return fmt.Errorf("mcp: auth_mode is %s: pass --token (or set AGENTGATE_TOKEN) to say who the MCP client acts as", a.Mode())
	default:
		p = a.Anonymous()
	}
	// The token is checked once, here; each request checks that it still
	// holds (a JWT's exp, a service account not revoked since).
	return g.mcpServer(auth.NewPolicy(), a.Recheck).ServeStdio(ctx, p, in, out)
}
