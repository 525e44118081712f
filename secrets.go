package agentgate

import (
	"net/url"
	"os"
	"strings"

	redactpkg "github.com/agentgate/agentgate/internal/redact"
)

// secrets lists the configured values that must never reach a log: URL
// passwords, keys, tokens, credential headers, the environment of MCP
// servers, and the provider keys read from the environment. The logger
// masks each wherever it appears (internal/redact), under the call sites
// that log redacted values themselves.
func (c *Config) secrets() []string {
	var s []string
	add := func(v ...string) {
		for _, x := range v {
			if x = strings.TrimSpace(x); x != "" {
				s = append(s, x)
			}
		}
	}
	urlPassword := func(raw string) {
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			if p, ok := u.User.Password(); ok {
				add(p, url.QueryEscape(p), url.PathEscape(p))
			}
			if q := u.Query(); len(q) > 0 {
				for k, vs := range q {
					if redactpkg.SensitiveKey(k) {
						add(vs...)
					}
				}
			}
		}
	}
	urlPassword(c.DatabaseURL)
	urlPassword(c.RedisURL)
	add(c.SecurityKey, c.JWTKey, c.Slack.SigningSecret, c.Slack.BotToken, c.Slack.AppToken)
	add(c.Approvals.Webhook.Secret)
	add(c.Media.S3.SecretAccessKey)
	urlPassword(c.Approvals.Webhook.URL)
	for _, a := range c.Slack.Apps {
		add(a.SigningSecret, a.BotToken, a.AppToken)
		for _, env := range []string{a.SigningSecretEnv, a.BotTokenEnv, a.AppTokenEnv} {
			if env != "" {
				add(os.Getenv(env))
			}
		}
	}
	for _, kv := range os.Environ() {
		// Per-app Slack secrets and tokens given by AGENTGATE_* variables.
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "AGENTGATE_") && redactpkg.SensitiveKey(k) {
			add(v)
		}
	}
	add(os.Getenv("OPENAI_API_KEY"), os.Getenv("ANTHROPIC_API_KEY"), os.Getenv("AGENTGATE_TOKEN"))
	for _, e := range c.Embedders {
		add(e.APIKey)
	}
	for _, k := range c.Knowledge {
		for _, src := range k.Sources {
			if src.S3 != nil {
				add(src.S3.SecretAccessKey, src.S3.SessionToken)
			}
			if src.GitHub != nil {
				add(src.GitHub.Token)
			}
		}
	}
	for _, m := range c.Models {
		add(m.APIKey)
		urlPassword(m.BaseURL)
		for _, v := range m.Headers {
			add(v)
		}
	}
	for _, m := range c.MCPServers {
		urlPassword(m.URL)
		for _, v := range m.Headers {
			add(v)
		}
		for k, v := range m.Env {
			if redactpkg.SensitiveKey(k) {
				add(v)
			}
		}
	}
	for _, t := range c.HTTPTools {
		for _, v := range t.Headers {
			add(v)
		}
	}
	return s
}
