package agentgate

import "github.com/agentgate/agentgate/auth"

// SlackConfig configures the Slack interface (/slack/events, /slack/interactions).
type SlackConfig struct{}

// mountSlack mounts the Slack adapter.
func (g *Gateway) mountSlack(policy *auth.Policy) error { return nil }
