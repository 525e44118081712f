package a2a

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/agentgate/agentgate/core"
)

// Skill is one skill an agent card advertises.
type Skill struct {
	ID          string   `json:"id" yaml:"id"`
	Name        string   `json:"name" yaml:"name"`
	Description string   `json:"description" yaml:"description"`
	Tags        []string `json:"tags" yaml:"tags"`
	Examples    []string `json:"examples,omitempty" yaml:"examples"`
}

// The agent card is a union of the v1.0 and v0.3 shapes (what the official
// Go v2 SDK's compat layer serves): v1.0 clients read supportedInterfaces,
// v0.3 clients read url/protocolVersion/preferredTransport. Security schemes
// carry both the v0.3 "type" form and the v1.0 oneof member.
type agentCard struct {
	Name                 string                    `json:"name"`
	Description          string                    `json:"description"`
	Version              string                    `json:"version"`
	SupportedInterfaces  []agentInterface          `json:"supportedInterfaces"`
	Capabilities         capabilities              `json:"capabilities"`
	SecuritySchemes      map[string]securityScheme `json:"securitySchemes,omitempty"`
	SecurityRequirements []securityRequirement     `json:"securityRequirements,omitempty"`
	DefaultInputModes    []string                  `json:"defaultInputModes"`
	DefaultOutputModes   []string                  `json:"defaultOutputModes"`
	Skills               []Skill                   `json:"skills"`
	// v0.3 members.
	ProtocolVersion                   string                `json:"protocolVersion"`
	URL                               string                `json:"url"`
	PreferredTransport                string                `json:"preferredTransport"`
	Security                          []map[string][]string `json:"security,omitempty"`
	SupportsAuthenticatedExtendedCard bool                  `json:"supportsAuthenticatedExtendedCard"`
}

type agentInterface struct {
	URL             string `json:"url"`
	ProtocolBinding string `json:"protocolBinding"`
	ProtocolVersion string `json:"protocolVersion"`
	Tenant          string `json:"tenant,omitempty"`
}

type capabilities struct {
	Streaming              bool `json:"streaming"`
	PushNotifications      bool `json:"pushNotifications"`
	ExtendedAgentCard      bool `json:"extendedAgentCard"`
	StateTransitionHistory bool `json:"stateTransitionHistory"`
}

type securityScheme struct {
	Type                   string          `json:"type"`
	Scheme                 string          `json:"scheme"`
	BearerFormat           string          `json:"bearerFormat,omitempty"`
	Description            string          `json:"description,omitempty"`
	HTTPAuthSecurityScheme *httpAuthScheme `json:"httpAuthSecurityScheme,omitempty"`
}

type httpAuthScheme struct {
	Scheme       string `json:"scheme"`
	BearerFormat string `json:"bearerFormat,omitempty"`
	Description  string `json:"description,omitempty"`
}

type securityRequirement struct {
	Schemes map[string]stringList `json:"schemes"`
}

type stringList struct {
	List []string `json:"list"`
}

// Protocol bindings and versions the cards name.
const (
	BindingJSONRPC  = "JSONRPC"
	BindingHTTPJSON = "HTTP+JSON"
	cardV03Version  = "0.3.0"
)

var (
	inputModes  = []string{"text/plain", "application/json"}
	outputModes = []string{"text/plain", "application/json"}
)

// agentPath is the JSON-RPC endpoint (and HTTP+JSON base) of an agent.
func agentPath(agentID string) string { return "/a2a/agents/" + agentID }

// defaultSkill describes an agent as one skill.
func defaultSkill(info core.AgentInfo) Skill {
	tags := []string{"agent"}
	for _, t := range info.Tools {
		tags = append(tags, t.Name)
	}
	return Skill{ID: info.ID, Name: displayName(info), Description: agentDescription(info), Tags: tags}
}

func displayName(info core.AgentInfo) string {
	if info.Name != "" {
		return info.Name
	}
	return info.ID
}

func agentDescription(info core.AgentInfo) string {
	if strings.TrimSpace(info.Description) != "" {
		return info.Description
	}
	return "The " + displayName(info) + " agent, served by agentgate."
}

// security returns the card's schemes for the auth mode.
func (h *Handler) security() (map[string]securityScheme, []securityRequirement, []map[string][]string) {
	var desc, format string
	switch h.cfg.AuthMode {
	case "key":
		desc = "The gateway's security key, or a service-account token, as a Bearer token."
	case "jwt":
		desc = "A JWT (or a service-account token) as a Bearer token; running an agent needs agents:<id>:run (or agents:run)."
		format = "JWT"
	default:
		return nil, nil, nil
	}
	schemes := map[string]securityScheme{"bearer": {Type: "http", Scheme: "bearer", BearerFormat: format, Description: desc,
		HTTPAuthSecurityScheme: &httpAuthScheme{Scheme: "bearer", BearerFormat: format, Description: desc}}}
	return schemes, []securityRequirement{{Schemes: map[string]stringList{"bearer": {List: []string{}}}}},
		[]map[string][]string{{"bearer": {}}}
}

func (h *Handler) baseCard() agentCard {
	c := agentCard{
		Version: h.cfg.Version,
		Capabilities: capabilities{Streaming: true, PushNotifications: !h.cfg.Push.Disabled,
			ExtendedAgentCard: false, StateTransitionHistory: false},
		DefaultInputModes: inputModes, DefaultOutputModes: outputModes,
		ProtocolVersion: cardV03Version, PreferredTransport: BindingJSONRPC,
	}
	c.SecuritySchemes, c.SecurityRequirements, c.Security = h.security()
	return c
}

// AgentCard builds an agent's card with endpoints under base (scheme://host).
func (h *Handler) agentCard(base string, info core.AgentInfo) agentCard {
	url := base + agentPath(info.ID)
	c := h.baseCard()
	c.Name, c.Description, c.URL = displayName(info), agentDescription(info), url
	c.SupportedInterfaces = []agentInterface{
		{URL: url, ProtocolBinding: BindingJSONRPC, ProtocolVersion: "1.0"},
		{URL: url, ProtocolBinding: BindingHTTPJSON, ProtocolVersion: "1.0"},
		{URL: url, ProtocolBinding: BindingJSONRPC, ProtocolVersion: "0.3"},
	}
	c.Skills = h.skills(info)
	return c
}

func (h *Handler) skills(info core.AgentInfo) []Skill {
	if s := h.cfg.Agents[info.ID].Skills; len(s) > 0 {
		out := make([]Skill, len(s))
		for i, sk := range s {
			if sk.Tags == nil {
				sk.Tags = []string{"agent"}
			}
			if sk.Description == "" {
				sk.Description = sk.Name
			}
			out[i] = sk
		}
		return out
	}
	return []Skill{defaultSkill(info)}
}

// gatewayCard lists the agents as skills. Its interfaces are the gateway
// endpoint /a2a/agents with one tenant per agent (tenant = agent id, the
// v1.0 way to host several agents behind one URL); v0.3 clients, which
// have no tenants, are pointed at the first agent's own endpoint.
func (h *Handler) gatewayCard(base string, agents []core.Agent) agentCard {
	c := h.baseCard()
	c.Name = h.cfg.Name
	c.Description = h.cfg.Description
	if c.Description == "" {
		c.Description = "agentgate: a multi-protocol gateway for AI agents. Each skill is an agent; address it as the tenant of the gateway interface or at its own card."
	}
	gw := base + "/a2a/agents"
	c.Skills = []Skill{}
	for _, a := range agents {
		info := a.Info()
		c.SupportedInterfaces = append(c.SupportedInterfaces,
			agentInterface{URL: gw, ProtocolBinding: BindingJSONRPC, ProtocolVersion: "1.0", Tenant: info.ID},
			agentInterface{URL: gw, ProtocolBinding: BindingHTTPJSON, ProtocolVersion: "1.0", Tenant: info.ID})
		c.Skills = append(c.Skills, defaultSkill(info))
	}
	if len(agents) > 0 {
		c.URL = base + agentPath(agents[0].Info().ID)
	} else {
		c.URL = gw
		c.SupportedInterfaces = []agentInterface{{URL: gw, ProtocolBinding: BindingJSONRPC, ProtocolVersion: "1.0"}}
	}
	return c
}

// etag is a strong validator of a card body.
func etag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// etagMatches implements If-None-Match (a list, or *; weak comparison).
func etagMatches(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}
