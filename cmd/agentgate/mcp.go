package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate"
)

// mcpCmd is `agentgate mcp --stdio`: the MCP tools over stdio, for clients
// that only launch local servers. It builds a gateway from the config (same
// database, agents and auth) without an HTTP listener; stdout carries only
// JSON-RPC, logs go to stderr.
func mcpCmd() *cobra.Command {
	var cfgFile, token string
	var stdio bool
	cmd := &cobra.Command{
		Use:   "mcp --stdio",
		Short: "Serve the MCP tools over stdio (the HTTP endpoint /mcp is part of `agentgate serve`)",
		Long: "Serve the MCP tools (run_agent, continue_run, cancel_run, get_sessions, get_session_runs, get_config, ask_<agent>)\n" +
			"over stdio, for MCP clients that launch local servers. The gateway is built from the config (same database and\n" +
			"agents as `agentgate serve`) without listening on HTTP. When auth is on, --token (or AGENTGATE_TOKEN) says who\n" +
			"the client acts as; its scopes apply to every tool call.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !stdio {
				return errors.New("mcp: only --stdio is supported here; MCP over HTTP is served at /mcp by `agentgate serve`")
			}
			cfg, err := agentgate.LoadConfig(configPath(cfgFile))
			if err != nil {
				return err
			}
			if token == "" {
				token = os.Getenv("AGENTGATE_TOKEN")
			}
			ctx, stop := runContext(cmd)
			defer stop()
			g, err := agentgate.New(ctx, cfg, agentgate.Options{})
			if err != nil {
				return err
			}
			serveErr := g.ServeMCPStdio(ctx, cmd.InOrStdin(), cmd.OutOrStdout(), token)
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := g.Shutdown(sctx); err != nil && serveErr == nil {
				serveErr = err
			}
			return serveErr
		},
	}
	cmd.Flags().BoolVar(&stdio, "stdio", false, "serve MCP over stdin/stdout")
	cmd.Flags().StringVar(&cfgFile, "config", "", "config file (default: $AGENTGATE_CONFIG, else the embedded demo)")
	cmd.Flags().StringVar(&token, "token", "", "the caller's credentials when auth is on (default: $AGENTGATE_TOKEN): security key, JWT or service-account token")
	return cmd
}
