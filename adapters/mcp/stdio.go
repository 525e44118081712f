package mcp

import (
	"context"
	"io"
	"log/slog"

	"github.com/mark3labs/mcp-go/server"

	"github.com/agentgate/agentgate/auth"
)

// ServeStdio serves the same tools over stdio (newline-delimited JSON-RPC
// on in and out) to one client acting as principal, until in ends or ctx is
// done. Nothing else may write to out. When the client goes away, the runs
// of its calls still in progress are cancelled.
func (s *Server) ServeStdio(ctx context.Context, principal *auth.Principal, in io.Reader, out io.Writer) error {
	ss := server.NewStdioServer(s.mcp)
	ss.SetErrorLogger(slog.NewLogLogger(s.log.Handler(), slog.LevelWarn))
	ss.SetContextFunc(func(ctx context.Context) context.Context { return auth.WithPrincipal(ctx, principal) })
	return ss.Listen(ctx, in, out)
}
