package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate/core"
)

func runCmd() *cobra.Command {
	var session, base, token, team, workflow string
	var retries int
	var files []string
	cmd := &cobra.Command{
		Use:   "run {AGENT | --team ID | --workflow ID} MESSAGE",
		Short: "Run an agent, a team or a workflow on a running gateway and stream the reply (resumes if the connection drops)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix, message, err := runTarget(team, workflow, args)
			if err != nil {
				return err
			}
			ctx, stop := runContext(cmd)
			defer stop()
			c := &client{base: gatewayURL(base), http: &http.Client{Transport: bearer{gatewayToken(token)}}, out: cmd.OutOrStdout(), errw: cmd.ErrOrStderr(),
				in: bufio.NewReader(cmd.InOrStdin()), retries: retries, files: files}
			return c.run(ctx, prefix, message, session)
		},
	}
	cmd.Flags().StringVar(&team, "team", "", "run this team instead of an agent (then the only argument is the message)")
	cmd.Flags().StringVar(&workflow, "workflow", "", "run this workflow instead of an agent (then the only argument is the message)")
	cmd.Flags().StringVar(&session, "session", "", "session id to continue (default: a new session)")
	cmd.Flags().StringVar(&base, "url", "", "gateway base URL (default: http://$AGENTGATE_ADDR, else http://127.0.0.1:7777)")
	cmd.Flags().StringArrayVar(&files, "file", nil, "attach this file to the run (repeatable): images, audio, video and documents reach the model as media")
	cmd.Flags().IntVar(&retries, "retries", 10, "reconnect attempts when the stream drops")
	cmd.Flags().StringVar(&token, "token", "", "bearer token (default: $AGENTGATE_TOKEN): the security key, a JWT or a service-account token")
	return cmd
}

// runTarget is the runs path prefix (/agents/ID, /teams/ID or
// /workflows/ID) and the message of the command's arguments.
func runTarget(team, workflow string, args []string) (string, string, error) {
	switch {
	case team != "" && workflow != "":
		return "", "", errors.New("--team and --workflow exclude each other")
	case team != "" || workflow != "":
		if len(args) != 1 {
			return "", "", errors.New("with --team or --workflow, give only the message")
		}
		if team != "" {
			return "/teams/" + url.PathEscape(team), args[0], nil
		}
		return "/workflows/" + url.PathEscape(workflow), args[0], nil
	case len(args) != 2:
		return "", "", errors.New("give the agent and the message (or --team ID / --workflow ID and the message)")
	}
	return "/agents/" + url.PathEscape(args[0]), args[1], nil
}

// bearer adds the Authorization header to every request.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.token != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// client is the terminal client of `agentgate run`.
type client struct {
	base    string
	http    *http.Client
	out     io.Writer
	errw    io.Writer
	in      *bufio.Reader
	retries int
	// files are the paths of the files the run is started with.
	files []string

	// prefix is the runnable's path: /agents/ID, /teams/ID, /workflows/ID.
	prefix, runID, sessionID string
	last                     int64
	pending                  []core.ToolExecution
}

// sseEvent is one parsed SSE frame.
type sseEvent struct {
	id    string
	event string
	data  string
}

// readSSE calls fn for each frame of r until EOF or fn returns false.
func readSSE(r io.Reader, fn func(sseEvent) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.event != "" || ev.data != "" {
				if !fn(ev) {
					return nil
				}
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id:"):
			ev.id = strings.TrimSpace(line[3:])
		case strings.HasPrefix(line, "event:"):
			ev.event = strings.TrimSpace(line[6:])
		case strings.HasPrefix(line, "data:"):
			if ev.data != "" {
				ev.data += "\n"
			}
			ev.data += strings.TrimPrefix(line[5:], " ")
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

func (c *client) post(ctx context.Context, path string, form url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/event-stream")
	return c.http.Do(req)
}

// postFiles posts form as multipart/form-data with each of paths as a
// files part, streamed from disk (never held whole in memory).
func (c *client) postFiles(ctx context.Context, path string, form url.Values, paths []string) (*http.Response, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(writeMultipart(mw, form, paths))
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, pr)
	if err != nil {
		pr.Close()
		return nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	pr.Close()
	return resp, err
}

// writeMultipart writes the form's fields and the files' parts to mw.
func writeMultipart(mw *multipart.Writer, form url.Values, paths []string) error {
	for k, vs := range form {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				return err
			}
		}
	}
	for _, p := range paths {
		if err := writeFilePart(mw, p); err != nil {
			return err
		}
	}
	return mw.Close()
}

func writeFilePart(mw *multipart.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="files"; filename=%q`, filepath.Base(p)))
	if ct := mime.TypeByExtension(filepath.Ext(p)); ct != "" {
		h.Set("Content-Type", ct)
	} else {
		h.Set("Content-Type", "application/octet-stream")
	}
	w, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, f)
	return err
}

func apiError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	var body struct {
		Detail string `json:"detail"`
	}
	msg := resp.Status
	if json.Unmarshal(b, &body) == nil && body.Detail != "" {
		msg += ": " + body.Detail
	}
	if resp.StatusCode == http.StatusUnauthorized {
		// The gateway has auth on: say how this client passes credentials.
		if resp.Request == nil || resp.Request.Header.Get("Authorization") == "" {
			msg += " (the gateway needs credentials: pass --token TOKEN or set AGENTGATE_TOKEN)"
		} else {
			msg += " (the token from --token / AGENTGATE_TOKEN was refused)"
		}
	}
	return errors.New(msg)
}

func (c *client) run(ctx context.Context, prefix, message, session string) error {
	c.prefix, c.last = prefix, -1
	form := url.Values{"message": {message}, "stream": {"true"}, "background": {"true"}}
	if session != "" {
		form.Set("session_id", session)
	}
	var resp *http.Response
	var err error
	if len(c.files) > 0 {
		for _, p := range c.files {
			// A missing or unreadable file is said before anything is sent.
			fi, err := os.Stat(p)
			if err != nil {
				return fmt.Errorf("--file: %w", err)
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("--file %s: not a regular file", p)
			}
		}
		resp, err = c.postFiles(ctx, c.prefix+"/runs", form, c.files)
	} else {
		resp, err = c.post(ctx, c.prefix+"/runs", form)
	}
	if err != nil {
		return fmt.Errorf("cannot reach the gateway at %s: %w", c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return apiError(resp)
	}
	for {
		outcome, err := c.follow(ctx, resp)
		if ctx.Err() != nil {
			if c.runID != "" {
				cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if r, err := c.post(cctx, c.prefix+"/runs/"+c.runID+"/cancel", nil); err == nil {
					r.Body.Close()
				}
				fmt.Fprintln(c.errw, "\ncancelled")
			}
			return ctx.Err()
		}
		switch {
		case err == nil && outcome == core.EventRunPaused:
			resp, err = c.decide(ctx)
			if err != nil {
				return err
			}
			continue
		case err == nil:
			fmt.Fprintf(c.errw, "session: %s\n", c.sessionID)
			if outcome == core.EventRunCompleted {
				return nil
			}
			return fmt.Errorf("run ended with %s", outcome)
		}
		// The stream dropped: resume after the last event seen.
		resp, err = c.reconnect(ctx)
		if err != nil {
			return err
		}
	}
}

// follow prints the events of resp until the segment ends. It returns the
// ending event type, or an error when the stream dropped first.
func (c *client) follow(ctx context.Context, resp *http.Response) (core.EventType, error) {
	defer resp.Body.Close()
	var end core.EventType
	var failure error
	err := readSSE(resp.Body, func(f sseEvent) bool {
		if f.event == "error" {
			failure = fmt.Errorf("stream error: %s", f.data)
			return false
		}
		var ev core.Event
		if json.Unmarshal([]byte(f.data), &ev) != nil {
			return true
		}
		c.last = ev.EventIndex
		if c.runID == "" {
			c.runID, c.sessionID = ev.RunID, ev.SessionID
		}
		if ev.Forwarded() {
			// A team member's or workflow step's events: its tool calls
			// are shown, its text is not the answer.
			if ev.Base() == core.EventToolCallStarted && ev.Tool != nil {
				fmt.Fprintf(c.errw, "[%s: tool %s %s]\n", memberName(&ev), ev.Tool.ToolName, string(ev.Tool.ToolArgs))
			}
			return true
		}
		switch ev.Base() {
		case core.EventRunContent:
			fmt.Fprint(c.out, ev.Content)
		case core.EventToolCallStarted:
			if ev.Tool != nil {
				fmt.Fprintf(c.errw, "[tool %s %s]\n", ev.Tool.ToolName, string(ev.Tool.ToolArgs))
			}
		case core.EventRunError:
			fmt.Fprintf(c.errw, "\nerror: %s\n", ev.Content)
		case core.EventRunPaused:
			c.pending = ev.Tools
		}
		if ev.EndsSegment() {
			end = ev.Base()
			if end == core.EventRunCompleted {
				fmt.Fprintln(c.out)
			}
			return false
		}
		return true
	})
	if failure != nil {
		return "", failure
	}
	if end != "" {
		return end, nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return "", err
}

func (c *client) reconnect(ctx context.Context) (*http.Response, error) {
	if c.runID == "" {
		return nil, errors.New("the stream dropped before the run started")
	}
	var lastErr error
	for attempt := 0; attempt < c.retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt) * 300 * time.Millisecond):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+c.prefix+"/runs/"+c.runID+"/stream", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Last-Event-ID", strconv.FormatInt(c.last, 10))
		resp, err := c.http.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		if resp.StatusCode == http.StatusOK {
			return resp, nil
		}
		if resp.StatusCode == http.StatusNoContent {
			resp.Body.Close()
			return nil, errors.New("the run's stream ended while disconnected; see GET " + c.prefix + "/runs/" + c.runID)
		}
		return nil, apiError(resp)
	}
	return nil, fmt.Errorf("could not resume the stream: %w", lastErr)
}

// decide asks the user about each paused tool call and continues the run.
func (c *client) decide(ctx context.Context) (*http.Response, error) {
	tools := c.pending
	for i := range tools {
		fmt.Fprintf(c.errw, "Run tool %s(%s)? [y/N] ", tools[i].ToolName, string(tools[i].ToolArgs))
		line, _ := c.in.ReadString('\n')
		ok := strings.HasPrefix(strings.ToLower(strings.TrimSpace(line)), "y")
		tools[i].Confirmed = &ok
		if !ok {
			tools[i].ConfirmationNote = "rejected from the terminal"
			continue
		}
		for j, f := range tools[i].UserInputSchema {
			// A workflow step's (or a tool's) user input: asked field by field.
			fmt.Fprintf(c.errw, "  %s (%s): ", f.Name, f.Description)
			v, _ := c.in.ReadString('\n')
			tools[i].UserInputSchema[j].Value = strings.TrimSpace(v)
		}
	}
	b, err := json.Marshal(tools)
	if err != nil {
		return nil, err
	}
	resp, err := c.post(ctx, c.prefix+"/runs/"+c.runID+"/continue",
		url.Values{"tools": {string(b)}, "stream": {"true"}, "background": {"true"}, "session_id": {c.sessionID}})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, apiError(resp)
	}
	return resp, nil
}

// memberName names the child run a forwarded event is of.
func memberName(ev *core.Event) string {
	for _, n := range []string{ev.StepName, ev.AgentName, ev.AgentID, ev.TeamName, ev.TeamID} {
		if n != "" {
			return n
		}
	}
	return ev.RunID
}
