package mcptool

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Settings declare an external MCP server, as the gateway's config file
// spells it (an entry of mcp_servers:): a stdio command or a Streamable
// HTTP URL.
type Settings struct {
	Command string            `yaml:"command"`
	Args    []string          `yaml:"args"`
	Env     map[string]string `yaml:"env"`
	Dir     string            `yaml:"dir"`
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	// Prefix is prepended to the server's tool names (default the
	// server's name and "_"; "" for none).
	Prefix *string `yaml:"prefix"`
	// CallTimeout bounds one tool call (default 60s).
	CallTimeout time.Duration `yaml:"call_timeout"`
	// ConnectTimeout bounds starting and listing (default 30s).
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// MaxResultBytes limits a tool result's text (default 1 MiB).
	MaxResultBytes int `yaml:"max_result_bytes"`
}

// ToolPrefix is the prefix of the server's tool names.
func (m Settings) ToolPrefix(name string) string {
	if m.Prefix != nil {
		return *m.Prefix
	}
	return name + "_"
}

// Validate checks the settings of the server called name.
func (m Settings) Validate(name string) error {
	var errs []error
	if (m.Command == "") == (m.URL == "") {
		errs = append(errs, fmt.Errorf("mcp_servers.%s: set exactly one of command (stdio) and url (Streamable HTTP)", name))
	}
	if m.URL != "" && !strings.HasPrefix(m.URL, "http://") && !strings.HasPrefix(m.URL, "https://") {
		errs = append(errs, fmt.Errorf("mcp_servers.%s: url must be http:// or https://", name))
	}
	return errors.Join(errs...)
}

// Config is the Start configuration of the server called name.
func (m Settings) Config(name string, logger *slog.Logger, clientVersion string) Config {
	return Config{
		Name: name, Command: m.Command, Args: m.Args, Env: m.Env, Dir: m.Dir, URL: m.URL, Headers: m.Headers,
		Prefix: m.ToolPrefix(name), CallTimeout: m.CallTimeout, ConnectTimeout: m.ConnectTimeout, Logger: logger,
		MaxResultBytes: m.MaxResultBytes, ClientVersion: clientVersion,
	}
}
