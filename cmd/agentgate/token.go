package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate"
	"github.com/agentgate/agentgate/auth"
)

// tokenCmd mints a JWT for local testing with the configured algorithm,
// audience and issuer.
func tokenCmd() *cobra.Command {
	var cfgFile, keyFile, sub, scopes string
	var ttl time.Duration
	var admin bool
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a JWT for local testing (HS256: the configured secret; RS256/ES256: --key-file PRIVATE.pem)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := agentgate.LoadConfig(configPath(cfgFile))
			if err != nil {
				return err
			}
			key := cfg.JWTKey
			if keyFile != "" {
				b, err := os.ReadFile(keyFile)
				if err != nil {
					return err
				}
				key = string(b)
			}
			if key == "" {
				return fmt.Errorf("no signing key: set jwt_key (AGENTGATE_JWT_KEY) for HS256, or pass --key-file")
			}
			var list []string
			for _, s := range strings.Split(scopes, ",") {
				if s = strings.TrimSpace(s); s != "" {
					list = append(list, s)
				}
			}
			if admin {
				list = append(list, auth.AdminScope)
			}
			if _, err := auth.ParseScopes(list); err != nil {
				return err
			}
			alg := cfg.Auth.JWTAlgorithm
			if alg == "" {
				alg = auth.AlgRS256
			}
			tok, err := auth.MintJWT(auth.MintConfig{Algorithm: alg, Audience: cfg.Auth.Audience, Issuer: cfg.Auth.Issuer},
				key, sub, list, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgFile, "config", "", "config file (its jwt_key, auth.jwt_algorithm, audience, issuer)")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "PEM private key for RS256/ES256")
	cmd.Flags().StringVar(&sub, "sub", "", "subject (the user id)")
	cmd.Flags().StringVar(&scopes, "scopes", "", "comma-separated scopes, e.g. agents:run,sessions:read")
	cmd.Flags().BoolVar(&admin, "admin", false, "add agent_os:admin")
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "lifetime")
	_ = cmd.MarkFlagRequired("sub")
	return cmd
}
