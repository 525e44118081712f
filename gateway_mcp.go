package agentgate

import (
	"context"
	"fmt"
	"io"

	mcpadapter "github.com/agentgate/agentgate/adapters/mcp"
	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
)

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
	srv := mcpadapter.New(g.eng, mcpadapter.Config{
		Name: g.cfg.Name, Description: g.cfg.Description, Version: Version, Settings: g.cfg.MCP,
		Policy: auth.NewPolicy(), Heartbeat: g.srv.Config().HeartbeatInterval, Logger: g.logger, Recheck: a.Recheck, Media: g.media,
	})
	return srv.ServeStdio(ctx, p, in, out)
}
