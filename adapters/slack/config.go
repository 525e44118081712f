package slack

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/agentgate/agentgate/auth"
)

// App is one Slack app, bound to one agent.
type App struct {
	// Name identifies the app in logs and dedup keys (default: the agent id).
	Name string
	// AgentID is the agent that answers the app's mentions and DMs.
	AgentID string
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
		if a.AgentID == "" {
			errs = append(errs, fmt.Errorf("slack: app %d has no agent", i))
		}
		if a.Name == "" {
			a.Name = a.AgentID
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
		if a.APIURL == "" {
			a.APIURL = DefaultAPIURL
		}
		if !strings.HasSuffix(a.APIURL, "/") {
			a.APIURL += "/"
		}
	}
	return errors.Join(errs...)
}
