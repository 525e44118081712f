package agentgate

import (
	"strings"
	"testing"
	"time"
)

// TestRemoteAgentConfig: a remote entry decodes (with ${ENV} in its
// headers) and validates; each mistake is refused with the field named.
func TestRemoteAgentConfig(t *testing.T) {
	t.Setenv("AG_REMOTE_TOKEN", "tok")
	cfg, err := ParseConfig([]byte(`
agents:
  - id: weather
    name: Weather (remote)
    remote:
      a2a: http://127.0.0.1:9999/.well-known/agent-card.json
      headers: {Authorization: "Bearer ${AG_REMOTE_TOKEN}"}
      timeout: 5s
  - id: other
    remote:
      agentos: {url: "http://other:8080", agent_id: assistant}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rc := cfg.Agents[0].remoteConfig()
	if rc.A2A == "" || rc.Headers["Authorization"] != "Bearer tok" || rc.Timeout != 5*time.Second || rc.Name != "Weather (remote)" {
		t.Errorf("remote config %+v", rc)
	}
	if rc := cfg.Agents[1].remoteConfig(); rc.AgentOS != "http://other:8080" || rc.AgentID != "assistant" {
		t.Errorf("agentos config %+v", rc)
	}

	bad := map[string]string{
		`remote: {}`: "agents[0] (r): remote: set a2a",
		`remote: {a2a: "http://h/c", agentos: {url: "http://h", agent_id: a}}`: "set only one of a2a and agentos",
		`remote: {a2a: "not a url"}`:                              "agents[0] (r): remote.a2a:",
		`remote: {agentos: {url: "ftp://h", agent_id: a}}`:        "remote.agentos.url:",
		`remote: {agentos: {url: "http://h"}}`:                    "remote.agentos.agent_id:",
		`remote: {a2a: "http://h/c", timeout: -1s}`:               "remote.timeout:",
		"model: m\n    remote: {a2a: \"http://h/c\"}":             "no model, instructions, tools",
		"tools: [calculator]\n    remote: {a2a: \"http://h/c\"}":  "no model, instructions, tools",
		`remote: {a2a: "http://h/c", headers: {"Bad Header": x}}`: "remote.headers:",
	}
	for block, want := range bad {
		cfg, err := ParseConfig([]byte("models: {m: {provider: scripted}}\nagents:\n  - id: r\n    " + block + "\n"))
		if err == nil {
			cfg.applyDefaults()
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to say %q", block, err, want)
		}
	}
	if _, err := ParseConfig([]byte("agents:\n  - id: r\n    remote: {a2a: \"http://h/c\", token: x}\n")); err == nil {
		t.Error("an unknown key under remote was accepted")
	}
}
