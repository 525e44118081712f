// Package remote runs agents that live elsewhere as core.Agents: a remote
// A2A agent (found by its agent card; A2A v1.0 or v0.3 over JSON-RPC) or an
// agent of a remote AgentOS-compatible server (agno's AgentOS, or another
// agentgate). A remote agent is listed, run in every mode, streamed,
// cancelled and continued like a local one: the remote's stream is mapped
// onto the run's own events, the run's cancellation cancels the remote task
// or run, and a remote that pauses pauses the run, the remote's ids kept in
// the stored paused state (core.PausedState.Runnable) so any replica can
// continue it.
//
// Whatever goes wrong with the remote — unreachable, an error status,
// an answer that is not the protocol, silence longer than the timeout —
// ends the run with a RunError of error_type remote_error.
package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agentgate/agentgate/core"
)

// ErrorType is the error_type of the RunError a failing remote causes.
const ErrorType = "remote_error"

// DefaultTimeout is the Timeout of a Config that sets none.
const DefaultTimeout = 60 * time.Second

// Config declares one remote agent. Exactly one of A2A and AgentOS is set.
type Config struct {
	// ID, Name and Description describe the agent locally (Name defaults
	// to ID).
	ID, Name, Description string
	// A2A is the URL of the remote's agent card
	// (https://host/.well-known/agent-card.json).
	A2A string
	// AgentOS is the base URL of an AgentOS-compatible server, and
	// AgentID the id of the agent there.
	AgentOS, AgentID string
	// Headers are sent with every request to the remote (credentials).
	Headers map[string]string
	// Timeout bounds connecting and each wait for the remote: for the
	// response headers, for a whole non-streamed call, and for the next
	// bytes of a stream (default DefaultTimeout). A run itself may stream
	// for longer.
	Timeout time.Duration
	// Dial dials every destination other than the configured URL's
	// host:port (which the operator chose): an interface URL the card
	// names elsewhere, a redirect to another host. The gateway passes its
	// egress guard's. Nil: a plain dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// HTTPClient replaces the client built from Dial and Timeout (tests).
	HTTPClient *http.Client
}

// Agent is a remote agent.
type Agent struct {
	cfg    Config
	client *http.Client
	a2a    *a2aClient
	os     *osClient
}

var _ core.Agent = (*Agent)(nil)

// New checks cfg and returns the agent. It does not contact the remote: a
// remote that is down when the gateway starts fails its runs, not the
// start.
func New(cfg Config) (*Agent, error) {
	if cfg.ID == "" {
		return nil, errors.New("remote agent: id is required")
	}
	if err := core.CheckID("id", cfg.ID); err != nil {
		return nil, err
	}
	if (cfg.A2A == "") == (cfg.AgentOS == "") {
		return nil, fmt.Errorf("remote agent %s: set exactly one of a2a (an agent card URL) and agentos (a server's base URL)", cfg.ID)
	}
	if cfg.Name == "" {
		cfg.Name = cfg.ID
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	target := cfg.A2A
	if cfg.AgentOS != "" {
		target = cfg.AgentOS
		if cfg.AgentID == "" {
			return nil, fmt.Errorf("remote agent %s: agentos needs the agent_id of the agent there", cfg.ID)
		}
	}
	u, err := CheckURL(target)
	if err != nil {
		return nil, fmt.Errorf("remote agent %s: %w", cfg.ID, err)
	}
	a := &Agent{cfg: cfg, client: cfg.HTTPClient}
	if a.client == nil {
		a.client = newClient(hostPort(u), cfg.Dial, cfg.Timeout)
	}
	if cfg.A2A != "" {
		a.a2a = &a2aClient{agent: a, cardURL: u.String()}
	} else {
		a.os = &osClient{agent: a, base: strings.TrimRight(u.String(), "/"), agentID: cfg.AgentID}
	}
	return a, nil
}

// CheckURL parses an absolute http(s) URL without user info or fragment.
func CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q is not a URL: %w", raw, err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", raw)
	case u.User != nil:
		return nil, fmt.Errorf("%q carries credentials: put them in headers", u.Redacted())
	case u.Fragment != "":
		return nil, fmt.Errorf("%q has a fragment", raw)
	}
	return u, nil
}

// Info describes the agent (from the config: it never calls the remote).
func (a *Agent) Info() core.AgentInfo {
	return core.AgentInfo{ID: a.cfg.ID, Name: a.cfg.Name, Description: a.cfg.Description}
}

// Execute runs (or, with x.Resume, continues) the run on the remote.
func (a *Agent) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	if a.a2a != nil {
		return a.a2a.execute(ctx, x)
	}
	return a.os.execute(ctx, x)
}

// CancelPaused implements core.PausedCanceller: a paused run that is
// cancelled here cancels the remote task (A2A) or run (AgentOS) it paused
// on, best effort.
func (a *Agent) CancelPaused(ctx context.Context, run *core.Run) {
	if run.Paused == nil || len(run.Paused.Runnable) == 0 {
		return
	}
	if a.a2a != nil {
		var st a2aState
		if json.Unmarshal(run.Paused.Runnable, &st) != nil || st.TaskID == "" {
			return
		}
		cctx, done := a.detached(ctx)
		defer done()
		if ep, err := a.a2a.endpoint(cctx); err == nil {
			a.a2a.cancel(cctx, ep, st.TaskID)
		}
		return
	}
	var st osState
	if json.Unmarshal(run.Paused.Runnable, &st) == nil {
		a.os.cancel(ctx, st)
	}
}

var _ core.PausedCanceller = (*Agent)(nil)

// remoteError is the error of a failing remote.
func remoteError(format string, args ...any) error {
	return &core.AgentError{Type: ErrorType, Err: fmt.Errorf(format, args...)}
}

// callError turns a failed call into the run's error: ctx's own error when
// the run was cancelled (the engine then ends it RunCancelled), else a
// remote_error saying what failed.
func callError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ae *core.AgentError
	if errors.As(err, &ae) {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return remoteError("%s: the remote did not answer in time: %v", what, err)
	}
	return remoteError("%s: %v", what, err)
}

// newClient returns a client that dials trusted (the configured host:port)
// directly and every other destination through dial.
func newClient(trusted string, dial func(ctx context.Context, network, addr string) (net.Conn, error), timeout time.Duration) *http.Client {
	direct := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if dial == nil {
		dial = direct.DialContext
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.EqualFold(addr, trusted) {
				return direct.DialContext(ctx, network, addr)
			}
			return dial(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   min(timeout, 10*time.Second),
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("stopped after 5 redirects")
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return fmt.Errorf("a redirect to %s", req.URL.Scheme)
		}
		return nil
	}}
}

// hostPort is u's host:port, with the scheme's default port.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// setHeaders puts the configured headers on req.
func (a *Agent) setHeaders(req *http.Request) {
	for k, v := range a.cfg.Headers {
		req.Header.Set(k, v)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "agentgate-remote")
	}
}

// maxBody bounds a non-streamed answer of the remote.
const maxBody = 8 << 20

// readBody reads at most maxBody bytes of resp's body.
func readBody(resp *http.Response) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("the answer is larger than %d bytes", maxBody)
	}
	return b, nil
}

// statusError describes a non-2xx answer with the start of its body.
func statusError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	msg := strings.TrimSpace(string(b))
	if msg == "" {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
}

// detached is a context for calls made after the run's own ended (a
// cancel sent to the remote), bounded by the timeout.
func (a *Agent) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), a.cfg.Timeout)
}

// messages are the run's own messages: the user's input and the answer.
func messages(x *core.Execution, input, answer string) []core.Message {
	var out []core.Message
	if x.Resume != nil {
		out = append(out, x.Resume.Messages...)
	}
	if input != "" {
		out = append(out, core.Message{Role: "user", Content: input})
	}
	if answer != "" {
		out = append(out, core.Message{Role: "assistant", Content: answer})
	}
	return out
}
