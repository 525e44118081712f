// Package fakeslack is a loopback fake of Slack for tests: slack-go's
// slacktest server plus the Web API methods slacktest lacks (chat.update,
// chat.startStream / appendStream / stopStream, chat.postEphemeral with a
// record), shared files (hosted, files.info) and the external upload flow
// (files.getUploadURLExternal / completeUploadExternal, see files.go), a
// bot identity on auth.test, injectable 429s, a Socket Mode WebSocket, and
// a request signer independent of the adapter's verifier.
package fakeslack

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack/slacktest"
)

// Identity of the fake bot (auth.test).
const (
	BotUserID = "UBOT0001"
	BotID     = "BBOT0001"
	TeamID    = "T0000001"
)

// Call is one Web API request the fake received.
type Call struct {
	Method string
	Values url.Values
	At     time.Time
	Status int // the HTTP status answered
}

// Message is a message as the fake shows it after every call so far.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	Text     string // text, or the streamed markdown so far
	Blocks   string // JSON of the blocks, if any
	Stream   bool   // started with chat.startStream
	Stopped  bool   // chat.stopStream was called
	Edits    int    // chat.update / chat.appendStream calls
	// Recipient is recipient_user_id of a stream.
	Recipient string
}

// Server is the fake Slack.
type Server struct {
	*slacktest.Server

	mu       sync.Mutex
	calls    []Call
	msgs     map[string]*Message // channel|ts → message
	order    []string
	seq      int64
	limits   map[string][]int // method → Retry-After seconds of the next answers (429)
	changed  chan struct{}
	sockets  []*websocket.Conn
	acks     []string
	sockConn chan *websocket.Conn

	files       map[string]*hosted
	fileTokens  map[string]string
	downloads   []Download
	uploads     map[string]*Upload
	uploadOrder []string
}

// New starts a fake Slack; Close stops it.
func New() *Server {
	s := &Server{msgs: map[string]*Message{}, limits: map[string][]int{}, changed: make(chan struct{}), sockConn: make(chan *websocket.Conn, 8),
		files: map[string]*hosted{}, fileTokens: map[string]string{}, uploads: map[string]*Upload{}}
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/auth.test", s.method("auth.test", s.authTest))
		c.Handle("/chat.postMessage", s.method("chat.postMessage", s.postMessage))
		c.Handle("/chat.update", s.method("chat.update", s.update))
		c.Handle("/chat.postEphemeral", s.method("chat.postEphemeral", s.postEphemeral))
		c.Handle("/chat.startStream", s.method("chat.startStream", s.startStream))
		c.Handle("/chat.appendStream", s.method("chat.appendStream", s.appendStream))
		c.Handle("/chat.stopStream", s.method("chat.stopStream", s.stopStream))
		c.Handle("/apps.connections.open", s.method("apps.connections.open", s.connectionsOpen))
		c.Handle("/socket", slacktest.Websocket(s.socket))
		c.Handle("/files.info", s.method("files.info", s.fileInfo))
		c.Handle("/files.getUploadURLExternal", s.method("files.getUploadURLExternal", s.getUploadURL))
		c.Handle("/files.completeUploadExternal", s.method("files.completeUploadExternal", s.completeUpload))
		c.Handle("/files-pri/", s.serveFile)
		c.Handle("/signin", signin)
		c.Handle("/upload/", s.receiveUpload)
	})
	s.Start()
	return s
}

// Close stops the fake.
func (s *Server) Close() {
	s.mu.Lock()
	for _, c := range s.sockets {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.Stop()
}

// URL is the Web API base to give slack-go (ends in /).
func (s *Server) URL() string { return s.GetAPIURL() }

// RateLimit makes the next len(retryAfter) calls of method answer 429 with
// those Retry-After values (seconds).
func (s *Server) RateLimit(method string, retryAfter ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits[method] = append(s.limits[method], retryAfter...)
}

// Calls returns the calls of method ("" for all) so far.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns the messages of a thread (all messages when threadTS is
// ""), in the order they were posted.
func (s *Server) Messages(channel, threadTS string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, k := range s.order {
		m := s.msgs[k]
		if (channel == "" || m.Channel == channel) && (threadTS == "" || m.ThreadTS == threadTS) {
			out = append(out, *m)
		}
	}
	return out
}

// Wait blocks until cond (called under no lock, after every call the fake
// answers) is true or timeout passes; it reports whether cond became true.
func (s *Server) Wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return cond()
		}
	}
}

func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

type handler func(v url.Values) (any, error)

// method wraps a Web API method: parse the form, record the call, answer
// 429 when a rate limit is queued, else the handler's JSON.
func (s *Server) method(name string, fn handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v, err := url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if tok := r.Header.Get("Authorization"); tok != "" && v.Get("token") == "" {
			v.Set("token", tok)
		}
		s.mu.Lock()
		if q := s.limits[name]; len(q) > 0 {
			s.limits[name] = q[1:]
			s.calls = append(s.calls, Call{Method: name, Values: v, At: time.Now(), Status: http.StatusTooManyRequests})
			s.notify()
			s.mu.Unlock()
			w.Header().Set("Retry-After", strconv.Itoa(q[0]))
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"ok":false,"error":"ratelimited"}`))
			return
		}
		res, err := fn(v)
		s.calls = append(s.calls, Call{Method: name, Values: v, At: time.Now(), Status: http.StatusOK})
		s.notify()
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(res)
	}
}

func (s *Server) newTS() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", 1700000000+s.seq, s.seq)
}

func (s *Server) authTest(url.Values) (any, error) {
	return map[string]any{"ok": true, "url": "https://fake.slack.test/", "team": "Fake", "user": "agentgate",
		"team_id": TeamID, "user_id": BotUserID, "bot_id": BotID}, nil
}

func (s *Server) add(m *Message) {
	k := m.Channel + "|" + m.TS
	s.msgs[k] = m
	s.order = append(s.order, k)
}

func (s *Server) get(channel, ts string) *Message { return s.msgs[channel+"|"+ts] }

func (s *Server) postMessage(v url.Values) (any, error) {
	ch := v.Get("channel")
	if ch == "" {
		return nil, fmt.Errorf("channel_not_found")
	}
	m := &Message{Channel: ch, TS: s.newTS(), ThreadTS: v.Get("thread_ts"), Text: v.Get("text"), Blocks: v.Get("blocks")}
	s.add(m)
	return map[string]any{"ok": true, "channel": ch, "ts": m.TS, "message": map[string]any{"text": m.Text}}, nil
}

func (s *Server) update(v url.Values) (any, error) {
	m := s.get(v.Get("channel"), v.Get("ts"))
	if m == nil {
		return nil, fmt.Errorf("message_not_found")
	}
	m.Text = v.Get("text")
	if b := v.Get("blocks"); b != "" {
		m.Blocks = b
	}
	m.Edits++
	return map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text}, nil
}

func (s *Server) postEphemeral(v url.Values) (any, error) {
	return map[string]any{"ok": true, "message_ts": s.newTS()}, nil
}

func (s *Server) startStream(v url.Values) (any, error) {
	ch := v.Get("channel")
	if ch == "" {
		return nil, fmt.Errorf("channel_not_found")
	}
	m := &Message{Channel: ch, TS: s.newTS(), ThreadTS: v.Get("thread_ts"), Text: v.Get("markdown_text"), Stream: true,
		Recipient: v.Get("recipient_user_id")}
	s.add(m)
	return map[string]any{"ok": true, "channel": ch, "ts": m.TS}, nil
}

func (s *Server) appendStream(v url.Values) (any, error) {
	m := s.get(v.Get("channel"), v.Get("ts"))
	switch {
	case m == nil || !m.Stream:
		return nil, fmt.Errorf("message_not_found")
	case m.Stopped:
		return nil, fmt.Errorf("message_not_in_streaming_state")
	}
	m.Text += v.Get("markdown_text")
	m.Edits++
	return map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS}, nil
}

func (s *Server) stopStream(v url.Values) (any, error) {
	m := s.get(v.Get("channel"), v.Get("ts"))
	switch {
	case m == nil || !m.Stream:
		return nil, fmt.Errorf("message_not_found")
	case m.Stopped:
		return nil, fmt.Errorf("message_not_in_streaming_state")
	}
	m.Text += v.Get("markdown_text")
	m.Stopped = true
	return map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS}, nil
}

// Socket Mode ---------------------------------------------------------------

func (s *Server) connectionsOpen(url.Values) (any, error) {
	return map[string]any{"ok": true, "url": "ws://" + s.ServerAddr + "/socket"}, nil
}

func (s *Server) socket(c *websocket.Conn) {
	s.mu.Lock()
	s.sockets = append(s.sockets, c)
	s.mu.Unlock()
	_ = c.WriteJSON(map[string]any{"type": "hello", "num_connections": 1})
	select {
	case s.sockConn <- c:
	default:
	}
	for {
		var m struct {
			EnvelopeID string `json:"envelope_id"`
		}
		if err := c.ReadJSON(&m); err != nil {
			return
		}
		s.mu.Lock()
		s.acks = append(s.acks, m.EnvelopeID)
		s.notify()
		s.mu.Unlock()
	}
}

// WaitSocket waits for a Socket Mode client to connect.
func (s *Server) WaitSocket(timeout time.Duration) (*websocket.Conn, bool) {
	select {
	case c := <-s.sockConn:
		return c, true
	case <-time.After(timeout):
		return nil, false
	}
}

// SendEnvelope sends a Socket Mode envelope of type typ ("events_api",
// "interactive") with payload over c; it returns the envelope id.
func (s *Server) SendEnvelope(c *websocket.Conn, typ string, payload []byte) (string, error) {
	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("env-%d", s.seq)
	s.mu.Unlock()
	return id, c.WriteJSON(map[string]any{"type": typ, "envelope_id": id, "payload": json.RawMessage(payload),
		"accepts_response_payload": false, "retry_attempt": 0})
}

// Acked reports whether the envelope id was acknowledged.
func (s *Server) Acked(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.acks {
		if a == id {
			return true
		}
	}
	return false
}

// Inbound requests -----------------------------------------------------------

// Sign returns the X-Slack-Signature of body at ts, as Slack computes it.
func Sign(secret string, ts int64, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(h, "v0:%d:%s", ts, body)
	return "v0=" + hex.EncodeToString(h.Sum(nil))
}

// Mention is the Events API body of an app_mention of the fake bot.
func Mention(eventID, channel, user, ts, threadTS, text string) []byte {
	ev := map[string]any{"type": "app_mention", "user": user, "text": "<@" + BotUserID + "> " + text,
		"ts": ts, "channel": channel, "event_ts": ts, "team": TeamID}
	if threadTS != "" {
		ev["thread_ts"] = threadTS
	}
	return callback(eventID, ev)
}

// DirectMessage is the Events API body of a message.im to the bot.
func DirectMessage(eventID, channel, user, ts, text string) []byte {
	return callback(eventID, map[string]any{"type": "message", "channel_type": "im", "user": user, "text": text,
		"ts": ts, "channel": channel, "event_ts": ts, "team": TeamID})
}

// BotMessage is a message.im event of the bot's own reply.
func BotMessage(eventID, channel, ts, text string) []byte {
	return callback(eventID, map[string]any{"type": "message", "channel_type": "im", "user": BotUserID, "bot_id": BotID,
		"text": text, "ts": ts, "channel": channel, "event_ts": ts, "team": TeamID})
}

func callback(eventID string, ev map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"token": "legacy", "team_id": TeamID, "api_app_id": "A0000001", "type": "event_callback",
		"event_id": eventID, "event_time": time.Now().Unix(), "event": ev,
		"authorizations": []map[string]any{{"team_id": TeamID, "user_id": BotUserID, "is_bot": true}}})
	return b
}

// ButtonClick is the interaction payload (JSON) of a click on one of the
// approval message's buttons, found by action id in msg's blocks.
func ButtonClick(msg Message, actionID, user string) ([]byte, error) {
	var blocks []struct {
		Type     string `json:"type"`
		BlockID  string `json:"block_id"`
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if err := json.Unmarshal([]byte(msg.Blocks), &blocks); err != nil {
		return nil, fmt.Errorf("blocks of %s: %w", msg.TS, err)
	}
	for _, b := range blocks {
		for _, e := range b.Elements {
			if e.ActionID != actionID {
				continue
			}
			return json.Marshal(map[string]any{
				"type": "block_actions", "team": map[string]any{"id": TeamID}, "api_app_id": "A0000001",
				"user":      map[string]any{"id": user},
				"channel":   map[string]any{"id": msg.Channel},
				"container": map[string]any{"type": "message", "message_ts": msg.TS, "channel_id": msg.Channel, "thread_ts": msg.ThreadTS},
				"message":   map[string]any{"ts": msg.TS, "thread_ts": msg.ThreadTS, "text": msg.Text},
				"actions": []map[string]any{{"type": "button", "block_id": b.BlockID, "action_id": e.ActionID, "value": e.Value,
					"action_ts": fmt.Sprintf("%d.000000", time.Now().Unix())}},
				"response_url": "https://hooks.slack.test/actions/1",
				"trigger_id":   "1.2.3",
			})
		}
	}
	return nil, fmt.Errorf("no button %s in message %s", actionID, msg.TS)
}

// InteractionForm is the form body Slack POSTs to /slack/interactions.
func InteractionForm(payload []byte) []byte {
	return []byte(url.Values{"payload": {string(payload)}}.Encode())
}

// Request builds a signed POST to url with body (content type ct), signed
// at ts with secret.
func Request(u, secret string, ts int64, ct string, body []byte) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", Sign(secret, ts, body))
	return req, nil
}
