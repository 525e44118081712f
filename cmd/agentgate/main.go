// Command agentgate is the gateway's CLI: serve, run (a terminal client),
// migrate, config check, version, token (mint a JWT) and mcp --stdio.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate"
	"github.com/agentgate/agentgate/internal/redact"
)

func main() {
	if err := newRoot(os.Stdin, os.Stdout, os.Stderr).Execute(); err != nil {
		os.Exit(1)
	}
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "agentgate",
		Short:         "A multi-protocol gateway for AI agents",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	// Errors may quote a URL or a DSN: they are printed with credentials
	// masked (the logs are, by the gateway's logger).
	root.SetErr(redactingWriter{stderr})
	root.AddCommand(serveCmd(), runCmd(), migrateCmd(), configCmd(), versionCmd(), tokenCmd(), mcpCmd(), evalCmd(), componentsCmd())
	return root
}

// redactingWriter masks credentials (URL passwords, key=value secrets,
// Authorization values) in what it writes.
type redactingWriter struct{ w io.Writer }

func (r redactingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, redact.Text(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// configPath is --config, else AGENTGATE_CONFIG, else "" (embedded default).
func configPath(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("AGENTGATE_CONFIG")
}

func serveCmd() *cobra.Command {
	var cfgFile, addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway (default: 127.0.0.1:7777, SQLite, in-memory event log, demo agents)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := agentgate.LoadConfig(configPath(cfgFile))
			if err != nil {
				return err
			}
			if addr != "" {
				cfg.Addr = addr
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// Serve checks the exposure before opening anything, and binds
			// the port before the (possibly long) migration.
			return agentgate.Serve(ctx, cfg, agentgate.Options{})
		},
	}
	cmd.Flags().StringVar(&cfgFile, "config", "", "config file (default: $AGENTGATE_CONFIG, else the embedded demo)")
	cmd.Flags().StringVar(&addr, "addr", "", "listen address HOST:PORT (default: $AGENTGATE_ADDR, else 127.0.0.1:7777)")
	return cmd
}

func migrateCmd() *cobra.Command {
	var cfgFile, to string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Move the state database to a schema version (default: latest), up or down",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := agentgate.LoadConfig(configPath(cfgFile))
			if err != nil {
				return err
			}
			target := int64(-1)
			if to != "" && to != "latest" {
				if target, err = strconv.ParseInt(to, 10, 64); err != nil || target < 0 {
					return fmt.Errorf("--to must be a version number >= 0 or latest, not %q", to)
				}
			}
			m, err := agentgate.OpenMigrator(cmd.Context(), cfg.DatabaseURL)
			if err != nil {
				return err
			}
			defer m.Close()
			before, err := m.Version(cmd.Context())
			if err != nil {
				return err
			}
			if err := m.Migrate(cmd.Context(), target); err != nil {
				return err
			}
			after, err := m.Version(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: schema version %d -> %d\n", agentgate.Redact(cfg.DatabaseURL), before, after)
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgFile, "config", "", "config file")
	cmd.Flags().StringVar(&to, "to", "", "target version (default latest; 0 removes every table)")
	return cmd
}

func configCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Configuration tools"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check [FILE]",
		Short: "Validate a config file (default: $AGENTGATE_CONFIG, else the embedded demo)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := configPath("")
			if len(args) == 1 {
				path = args[0]
			}
			cfg, err := agentgate.LoadConfig(path)
			if err != nil {
				return err
			}
			name := path
			if name == "" {
				name = "embedded default config"
			}
			for _, name := range cfg.UnsetEnvRefs() {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: the config references ${%s}, which is not set (it expands to \"\")\n", name)
			}
			for _, w := range cfg.EnvWarnings() {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s is set but no setting reads it (did you mean %s?)\n", w.Name, w.Closest)
			}
			for _, d := range cfg.Deprecations() {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", d)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d models, %d agents)\n", name, len(cfg.Models), len(cfg.Agents))
			return nil
		},
	})
	return cmd
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "agentgate %s\n", agentgate.Version)
		},
	}
}

func runContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}
