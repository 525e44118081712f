package slack

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Settings are the operator's settings of the Slack interface, as the
// gateway's config file spells them (the slack: block): (/slack/events,
// /slack/interactions, or Socket Mode). The top-level secret and token
// describe one app (AGENTGATE_SLACK_SIGNING_SECRET, AGENTGATE_SLACK_BOT_TOKEN,
// AGENTGATE_SLACK_AGENT, AGENTGATE_SLACK_API_URL); setting both turns Slack
// on. Apps adds more apps, each bound to its own agent.
type Settings struct {
	// SigningSecret verifies Slack's HTTP deliveries (the app's "Signing
	// Secret").
	SigningSecret string `yaml:"signing_secret"`
	// BotToken is the app's bot token (xoxb-…).
	BotToken string `yaml:"bot_token"`
	// AppToken is the app-level token (xapp-…, connections:write) Socket
	// Mode connects with.
	AppToken string `yaml:"app_token"`
	// Agent answers the app's mentions and DMs (default assistant), or
	// Team, or Workflow: at most one of the three.
	Agent    string `yaml:"agent"`
	Team     string `yaml:"team"`
	Workflow string `yaml:"workflow"`
	// APIURL is Slack's Web API base (default https://slack.com/api/); also
	// the default of every app in Apps.
	APIURL string `yaml:"api_url"`
	// Streaming writes replies with chat.startStream/appendStream/stopStream
	// instead of a placeholder edited with chat.update.
	Streaming bool `yaml:"streaming"`
	// SocketMode receives events over Socket Mode (apps with an app token)
	// instead of the public HTTP routes.
	SocketMode bool `yaml:"socket_mode"`
	// UpdateInterval is the least time between two edits of one reply
	// (default 1s).
	UpdateInterval time.Duration `yaml:"update_interval"`
	// AnyoneCanApprove lets anyone in the channel click Approve/Reject; by
	// default only the user whose message started the run can.
	AnyoneCanApprove bool `yaml:"anyone_can_approve"`
	// Apps are further Slack apps, each bound to an agent, a team or a
	// workflow.
	Apps []AppSettings `yaml:"apps"`
	// Approvals is the default app's approvals channel.
	Approvals ApprovalsChannel `yaml:"approvals"`
}

// AppSettings is one more Slack app. Its secrets come from the
// environment: the variables named by *_env, else
// AGENTGATE_SLACK_APPS_<NAME>_SIGNING_SECRET, _BOT_TOKEN and _APP_TOKEN
// (NAME upper-cased, other characters as _); a value written here (for
// instance "${MY_SECRET}") wins over both.
type AppSettings struct {
	// Name identifies the app (default: the agent, team or workflow id).
	Name string `yaml:"name"`
	// Agent, Team or Workflow (exactly one) answers the app's messages.
	Agent    string `yaml:"agent"`
	Team     string `yaml:"team"`
	Workflow string `yaml:"workflow"`
	// APIURL defaults to slack.api_url.
	APIURL           string `yaml:"api_url"`
	SigningSecret    string `yaml:"signing_secret"`
	BotToken         string `yaml:"bot_token"`
	AppToken         string `yaml:"app_token"`
	SigningSecretEnv string `yaml:"signing_secret_env"`
	BotTokenEnv      string `yaml:"bot_token_env"`
	AppTokenEnv      string `yaml:"app_token_env"`
	// Approvals is the app's approvals channel.
	Approvals ApprovalsChannel `yaml:"approvals"`
}

// ResolveApps resolves the configured apps, their secrets looked up with
// lookup (none: Slack is off).
func (c Settings) ResolveApps(lookup func(string) (string, bool)) ([]App, error) {
	var apps []App
	var errs []error
	if c.SigningSecret != "" || c.BotToken != "" || c.AppToken != "" {
		a := App{Name: "default", AgentID: c.Agent, TeamID: c.Team, WorkflowID: c.Workflow, SigningSecret: c.SigningSecret,
			BotToken: c.BotToken, AppToken: c.AppToken, APIURL: c.APIURL, Approvals: c.Approvals}
		if a.AgentID == "" && a.TeamID == "" && a.WorkflowID == "" {
			a.AgentID = "assistant"
		}
		if err := a.checkBinding("slack"); err != nil {
			errs = append(errs, err)
		}
		if err := a.Approvals.validate("slack.approvals"); err != nil {
			errs = append(errs, err)
		}
		if err := c.checkApp("slack", a); err != nil {
			errs = append(errs, err)
		}
		apps = append(apps, a)
	}
	for i, ac := range c.Apps {
		bound := App{AgentID: ac.Agent, TeamID: ac.Team, WorkflowID: ac.Workflow}
		name := ac.Name
		if name == "" {
			name = bound.Runnable().ID
		}
		where := fmt.Sprintf("slack.apps[%d] (%s)", i, name)
		if ac.Agent == "" && ac.Team == "" && ac.Workflow == "" {
			errs = append(errs, fmt.Errorf("%s: agent is required (or team, or workflow)", where))
			continue
		}
		if err := bound.checkBinding(where); err != nil {
			errs = append(errs, err)
			continue
		}
		prefix := "AGENTGATE_SLACK_APPS_" + envName(name) + "_"
		get := func(value, envVar, suffix string) string {
			if value != "" {
				return value
			}
			if envVar != "" {
				v, ok := lookup(envVar)
				if !ok || v == "" {
					errs = append(errs, fmt.Errorf("%s: environment variable %s is not set", where, envVar))
				}
				return v
			}
			v, _ := lookup(prefix + suffix)
			return v
		}
		a := App{Name: name, AgentID: ac.Agent, TeamID: ac.Team, WorkflowID: ac.Workflow, APIURL: ac.APIURL,
			SigningSecret: get(ac.SigningSecret, ac.SigningSecretEnv, "SIGNING_SECRET"),
			BotToken:      get(ac.BotToken, ac.BotTokenEnv, "BOT_TOKEN"),
			AppToken:      get(ac.AppToken, ac.AppTokenEnv, "APP_TOKEN"),
			Approvals:     ac.Approvals,
		}
		if err := ac.Approvals.validate(where + ".approvals"); err != nil {
			errs = append(errs, err)
		}
		if a.APIURL == "" {
			a.APIURL = c.APIURL
		}
		if err := c.checkApp(where, a); err != nil {
			errs = append(errs, err)
		}
		apps = append(apps, a)
	}
	return apps, errors.Join(errs...)
}

// checkApp refuses a half-configured app rather than ignoring it.
func (c Settings) checkApp(where string, a App) error {
	var missing []string
	if a.BotToken == "" {
		missing = append(missing, "bot token")
	}
	switch {
	case c.SocketMode && a.AppToken != "":
	case a.SigningSecret == "" && c.SocketMode:
		missing = append(missing, "signing secret or app token (socket mode)")
	case a.SigningSecret == "":
		missing = append(missing, "signing secret")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: the Slack app %q has no %s", where, a.Name, strings.Join(missing, " and no "))
	}
	return nil
}

// envName turns an app name into the part of an environment variable name.
func envName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(name) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Validate checks the settings as the gateway starts them: a negative
// interval, or an app missing its agent, token or secret, is an error.
func (c Settings) Validate(lookup func(string) (string, bool)) error {
	var errs []error
	if c.UpdateInterval < 0 {
		errs = append(errs, errors.New("slack.update_interval must not be negative"))
	}
	if _, err := c.ResolveApps(lookup); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
