package mcp

// Settings are the operator's settings of the MCP interface (the mcp:
// block of the gateway's config file): Streamable HTTP at /mcp (both the
// 2026-07-28 and 2025-11-25 protocol eras) and `agentgate mcp --stdio`;
// Config embeds them.
type Settings struct {
	// AgentTools adds one ask_<agent> tool per agent, described by the
	// agent's description (default true; false keeps only run_agent and
	// the other built-in tools).
	AgentTools *bool `yaml:"agent_tools"`
	// AllowedOrigins are the browser origins (scheme://host[:port]) allowed
	// to call /mcp besides loopback ones ("*": any). A request with any
	// other Origin header gets 403.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowedHosts are Host header values accepted on loopback connections
	// besides localhost and loopback IPs, e.g. the public name a reverse
	// proxy on the same machine forwards ("*": any). Other hosts get 403:
	// the DNS-rebinding guard of a gateway listening on 127.0.0.1.
	AllowedHosts []string `yaml:"allowed_hosts"`
}

// AgentToolsOn reports whether per-agent tools are on (the default).
func (c Settings) AgentToolsOn() bool { return c.AgentTools == nil || *c.AgentTools }
