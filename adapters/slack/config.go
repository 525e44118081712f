package slack

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/media"
)

// App is one Slack app, bound to one agent, team or workflow.
type App struct {
	// Name identifies the app in logs and dedup keys (default: the agent,
	// team or workflow id).
	Name string
	// AgentID is the agent that answers the app's mentions and DMs; or
	// TeamID a team, or WorkflowID a workflow (exactly one of the three).
	AgentID    string
	TeamID     string
	WorkflowID string
	// SigningSecret verifies the app's HTTP deliveries. Required unless the
	// app uses Socket Mode only.
	SigningSecret string
	// BotToken (xoxb-…) posts the replies.
	BotToken string
	// AppToken (xapp-…, scope connections:write) opens Socket Mode
	// connections; only used when Config.SocketMode is on.
	AppToken string
	// APIURL is Slack's Web API base (default https://slack.com/api/).
	APIURL string
	// Approvals, when its channel is set, is where the app posts the
	// pending approvals of its runnable's runs, with Approve / Reject
	// buttons for the approvers it lists.
	Approvals ApprovalsChannel
}

// Runnable is what answers the app: its agent, team or workflow.
func (a App) Runnable() core.Ref {
	switch {
	case a.TeamID != "":
		return core.Ref{Kind: core.KindTeam, ID: a.TeamID}
	case a.WorkflowID != "":
		return core.Ref{Kind: core.KindWorkflow, ID: a.WorkflowID}
	}
	return core.Ref{Kind: core.KindAgent, ID: a.AgentID}
}

// sessionKey is the runnable's part of the app's session ids: the agent
// id (as before teams), "team:<id>" or "workflow:<id>".
func (a App) sessionKey() string {
	if r := a.Runnable(); r.Kind != core.KindAgent {
		return string(r.Kind) + ":" + r.ID
	}
	return a.AgentID
}

// start is the start of a run of the app's runnable.
func (a App) start(p core.StartParams) core.StartParams {
	p.AgentID, p.TeamID, p.WorkflowID = a.AgentID, a.TeamID, a.WorkflowID
	return p
}

// checkBinding refuses an app bound to none or more than one of an agent,
// a team and a workflow.
func (a App) checkBinding(where string) error {
	n := 0
	for _, id := range []string{a.AgentID, a.TeamID, a.WorkflowID} {
		if id != "" {
			n++
		}
	}
	switch n {
	case 1:
		return nil
	case 0:
		return fmt.Errorf("%s: the Slack app %q is bound to no agent, team or workflow", where, a.Name)
	}
	return fmt.Errorf("%s: the Slack app %q is bound to more than one of agent, team and workflow (give exactly one)", where, a.Name)
}

// Config configures the Slack adapter.
type Config struct {
	Apps []App
	// Streaming renders replies with chat.startStream / appendStream /
	// stopStream; otherwise a placeholder message is edited with
	// chat.update.
	Streaming bool
	// SocketMode receives events and interactions over Socket Mode
	// (apps.connections.open + WebSocket) for every app with an AppToken,
	// instead of (or besides) the HTTP routes.
	SocketMode bool
	// UpdateInterval is the least time between two writes to one reply
	// message (chat.update or chat.appendStream); default 1 s.
	UpdateInterval time.Duration
	// MaxMessageChars bounds one reply message; a longer reply goes on in a
	// new message of the thread (default 3,900).
	MaxMessageChars int
	// AnyoneCanApprove lets any member of the channel click an approval
	// button; by default only the user whose message started the run can.
	AnyoneCanApprove bool
	// Dedup remembers event ids and message timestamps (default: in
	// memory, per process, for 1 h).
	Dedup Deduper
	// Policy is asked about the two routes (public by default: Slack signs
	// its requests instead).
	Policy *auth.Policy
	// HTTPClient calls Slack's Web API (default: 15 s timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the clock of signature checks (default time.Now).
	Now func() time.Time
	// Placeholder is the text of the message a reply starts with when not
	// streaming (default "_Thinking…_").
	Placeholder string
	// ApprovalService reads, resolves and annotates approvals for the
	// apps' approvals channels (default: the engine).
	ApprovalService ApprovalService
	// Media stores the files shared in mentions and DMs (checked and
	// bounded by its limits), and its Client (the egress guard) downloads
	// them from hosts other than the API URL's; its Store is read to
	// upload the media runs produce. Nil: shared files are refused with a
	// reply, and runs' media are not uploaded.
	Media *media.Resolver
}

// DefaultAPIURL is Slack's Web API base.
const DefaultAPIURL = "https://slack.com/api/"

func (c *Config) defaults() error {
	if c.UpdateInterval <= 0 {
		c.UpdateInterval = time.Second
	}
	if c.MaxMessageChars <= 0 {
		c.MaxMessageChars = 3900
	}
	if c.MaxMessageChars < 100 {
		c.MaxMessageChars = 100
	}
	if c.Streaming && c.MaxMessageChars > 12000 {
		c.MaxMessageChars = 12000 // markdown_text limit of one call
	}
	if c.Dedup == nil {
		c.Dedup = NewMemoryDedup(time.Hour, 0, nil)
	}
	if c.Policy == nil {
		c.Policy = auth.NewPolicy()
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Placeholder == "" {
		c.Placeholder = "_Thinking…_"
	}
	if len(c.Apps) == 0 {
		return errors.New("slack: no app configured")
	}
	var errs []error
	names := map[string]bool{}
	for i := range c.Apps {
		a := &c.Apps[i]
		if a.AgentID == "" && a.TeamID == "" && a.WorkflowID == "" {
			errs = append(errs, fmt.Errorf("slack: app %d has no agent", i))
		} else if err := a.checkBinding("slack"); err != nil {
			errs = append(errs, err)
		}
		if a.Name == "" {
			a.Name = a.Runnable().ID
		}
		if names[a.Name] {
			errs = append(errs, fmt.Errorf("slack: app name %q is used twice", a.Name))
		}
		names[a.Name] = true
		if a.BotToken == "" {
			errs = append(errs, fmt.Errorf("slack: app %q has no bot token", a.Name))
		}
		if a.SigningSecret == "" && !(c.SocketMode && a.AppToken != "") {
			errs = append(errs, fmt.Errorf("slack: app %q has no signing secret (required unless it uses Socket Mode with an app token)", a.Name))
		}
		if err := a.Approvals.validate("slack: app " + a.Name + " approvals"); err != nil {
			errs = append(errs, err)
		}
		if a.APIURL == "" {
			a.APIURL = DefaultAPIURL
		}
		if !strings.HasSuffix(a.APIURL, "/") {
			a.APIURL += "/"
		}
	}
	return errors.Join(errs...)
}
