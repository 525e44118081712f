// Package openaitest is a fake OpenAI-compatible chat completions server
// for tests. It speaks the real wire format: POST /v1/chat/completions
// (or /chat/completions) with stream:true is answered with text/event-stream
// "data: {chat.completion.chunk}" lines, a final usage chunk with empty
// choices when stream_options.include_usage is set, then "data: [DONE]".
// Non-streaming requests are refused with 400.
//
// Replies are scripted: a queue (Push) tried in order, then an optional
// responder func (Respond). Every request is recorded (Requests).
//
//	srv := openaitest.NewServer(t)
//	srv.Push(openaitest.Reply{Text: "Hello there"})
//	m, _ := openai.New(openai.Config{Model: "gpt-test", BaseURL: srv.URL()})
//
// The server can also be run as a process (cmd/fakeopenai); then the
// control endpoints serve it: GET /_openaitest/requests returns the
// recorded requests as JSON, POST /_openaitest/replies appends replies
// (one Reply object or an array) to the queue. See FetchRequests and
// PushRemote.
package openaitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Reply is one scripted answer. Zero fields are left out: a zero Reply is
// an empty assistant message.
type Reply struct {
	// Match, when set, makes the reply answer only a request whose latest
	// user message contains it (case-insensitive). The queue is searched in
	// order for the first reply that matches.
	Match string `json:"match,omitempty"`
	// Repeat keeps the reply in the queue after it answered.
	Repeat bool `json:"repeat,omitempty"`

	// Reasoning is streamed first, in Chunks pieces, in the delta field
	// ReasoningField (default "reasoning_content"; "reasoning" is
	// Ollama's and OpenRouter's name).
	Reasoning      string `json:"reasoning,omitempty"`
	ReasoningField string `json:"reasoning_field,omitempty"`
	// Text is streamed in Chunks pieces.
	Text string `json:"text,omitempty"`
	// ToolCalls are streamed after the text: a first delta per call with
	// index, id, type and name, then the arguments in Chunks fragments,
	// the calls interleaved by index.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// Chunks is about how many pieces text, reasoning and each call's
	// arguments are split into (default 3).
	Chunks int `json:"chunks,omitempty"`
	// FinishReason of the last chunk (default "tool_calls" with tool calls,
	// else "stop").
	FinishReason string `json:"finish_reason,omitempty"`
	// Usage of the final chunk; nil: word counts of the request and reply.
	Usage *Usage `json:"usage,omitempty"`

	// DelayMS is a pause before the response headers.
	DelayMS int `json:"delay_ms,omitempty"`
	// ChunkDelayMS is a pause before each chunk after the first.
	ChunkDelayMS int `json:"chunk_delay_ms,omitempty"`
	// Stall makes the server hang after streaming the reasoning and text,
	// until the client goes away (or the server closes).
	Stall bool `json:"stall,omitempty"`
	// RawEvents are sent verbatim as "data: ..." events after the text
	// (e.g. broken JSON).
	RawEvents []string `json:"raw_events,omitempty"`
	// StreamError, when set, is sent as a {"error": {...}} event after the
	// text, ending the stream (no [DONE]).
	StreamError *Error `json:"stream_error,omitempty"`

	// Error, when set, answers with an HTTP error instead of a stream.
	Error *Error `json:"error,omitempty"`
}

// ToolCall is a scripted tool call.
type ToolCall struct {
	// ID defaults to call_<request number>_<index>.
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
	// Arguments is the raw argument text sent, normally JSON. In a JSON
	// script it may be written as a string or as any JSON value.
	Arguments string `json:"arguments,omitempty"`
}

// UnmarshalJSON accepts arguments as a string or as a JSON value.
func (c *ToolCall) UnmarshalJSON(b []byte) error {
	var v struct {
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	c.ID, c.Name, c.Arguments = v.ID, v.Name, ""
	if len(v.Arguments) > 0 && string(v.Arguments) != "null" {
		var s string
		if json.Unmarshal(v.Arguments, &s) == nil {
			c.Arguments = s
		} else {
			var buf bytes.Buffer
			if err := json.Compact(&buf, v.Arguments); err != nil {
				return err
			}
			c.Arguments = buf.String()
		}
	}
	return nil
}

// Usage is the token usage reported.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	// TotalTokens defaults to the sum.
	TotalTokens int64 `json:"total_tokens,omitempty"`
}

// Error is an error response: the HTTP status and OpenAI's error body
// {"error": {"message", "type", "param", "code"}}.
type Error struct {
	// Status defaults to 500 (ignored for a StreamError).
	Status  int    `json:"status,omitempty"`
	Message string `json:"message"`
	Type    string `json:"type,omitempty"`
	Code    string `json:"code,omitempty"`
	// RetryAfter is sent as the Retry-After header (seconds or a date),
	// RetryAfterMS as retry-after-ms.
	RetryAfter   string `json:"retry_after,omitempty"`
	RetryAfterMS int    `json:"retry_after_ms,omitempty"`
	// Body replaces the JSON body when set (non-OpenAI error shapes).
	Body string `json:"body,omitempty"`
}

// Request is one received request.
type Request struct {
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Header http.Header `json:"header"`
	// Body is the decoded request body (zero when it did not decode).
	Body ChatRequest `json:"-"`
	// Raw is the body as received.
	Raw json.RawMessage `json:"body"`
}

// UnmarshalJSON decodes a request recorded by a remote server.
func (r *Request) UnmarshalJSON(b []byte) error {
	type plain Request
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*r = Request(p)
	if len(r.Raw) > 0 {
		_ = json.Unmarshal(r.Raw, &r.Body)
	}
	return nil
}

// LastUser returns the content of the latest user message.
func (r Request) LastUser() string {
	for i := len(r.Body.Messages) - 1; i >= 0; i-- {
		if r.Body.Messages[i].Role == "user" {
			return r.Body.Messages[i].Content
		}
	}
	return ""
}

// ChatRequest is the body of a chat completions request.
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	Stream              bool            `json:"stream"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	MaxTokens           *int64          `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
}

// StreamOptions are the request's stream options.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Message is one request message.
type Message struct {
	Role string `json:"role"`
	// Content is the text: the string content, or the text parts joined.
	Content string `json:"content"`
	// HasContent reports whether content was present and not null.
	HasContent bool              `json:"-"`
	ToolCalls  []MessageToolCall `json:"tool_calls,omitempty"`
	ToolCallID string            `json:"tool_call_id,omitempty"`
	Name       string            `json:"name,omitempty"`
}

// UnmarshalJSON decodes string, null and array-of-parts content.
func (m *Message) UnmarshalJSON(b []byte) error {
	var v struct {
		Role       string            `json:"role"`
		Content    json.RawMessage   `json:"content"`
		ToolCalls  []MessageToolCall `json:"tool_calls"`
		ToolCallID string            `json:"tool_call_id"`
		Name       string            `json:"name"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*m = Message{Role: v.Role, ToolCalls: v.ToolCalls, ToolCallID: v.ToolCallID, Name: v.Name}
	c := bytes.TrimSpace(v.Content)
	if len(c) == 0 || string(c) == "null" {
		return nil
	}
	m.HasContent = true
	if c[0] == '"' {
		return json.Unmarshal(c, &m.Content)
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(c, &parts); err != nil {
		return err
	}
	for _, p := range parts {
		m.Content += p.Text
	}
	return nil
}

// MessageToolCall is a tool call of an assistant message.
type MessageToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// Tool is one tool offered to the model.
type Tool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string         `json:"name"`
		Description string         `json:"description,omitempty"`
		Parameters  map[string]any `json:"parameters,omitempty"`
	} `json:"function"`
}

// Server is the fake server. Its methods are safe for concurrent use. It
// is an http.Handler; NewServer and Start also serve it on loopback.
type Server struct {
	mu       sync.Mutex
	queue    []Reply
	respond  func(Request) Reply
	requests []Request
	n        int

	http      *httptest.Server
	closed    chan struct{}
	closeOnce sync.Once
}

// NewHandler returns a server that is not listening: serve it yourself.
func NewHandler(replies ...Reply) *Server {
	return &Server{queue: append([]Reply(nil), replies...), closed: make(chan struct{})}
}

// Start returns a server listening on a loopback port. Close it.
func Start(replies ...Reply) *Server {
	s := NewHandler(replies...)
	s.http = httptest.NewServer(s)
	return s
}

// NewServer returns a server listening on a loopback port, closed when
// the test ends.
func NewServer(t testing.TB, replies ...Reply) *Server {
	t.Helper()
	s := Start(replies...)
	t.Cleanup(s.Close)
	return s
}

// URL returns the API base URL, with /v1 (empty for NewHandler).
func (s *Server) URL() string {
	if s.http == nil {
		return ""
	}
	return s.http.URL + "/v1"
}

// Close stops the server; stalled replies end.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	if s.http != nil {
		s.http.Close()
	}
}

// Push appends replies to the queue.
func (s *Server) Push(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, replies...)
}

// Respond sets the func answering requests no queued reply matches.
func (s *Server) Respond(f func(Request) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.respond = f
}

// Requests returns the requests received so far (chat completions only).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Pending returns how many replies are still queued.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_openaitest/requests" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Requests())
	case r.URL.Path == "/_openaitest/replies" && r.Method == http.MethodPost:
		replies, err := DecodeReplies(r.Body)
		if err != nil {
			writeError(w, &Error{Status: http.StatusBadRequest, Message: err.Error(), Type: "invalid_request_error"})
			return
		}
		s.Push(replies...)
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/v1/chat/completions" || r.URL.Path == "/chat/completions":
		if r.Method != http.MethodPost {
			writeError(w, &Error{Status: http.StatusMethodNotAllowed, Message: "use POST", Type: "invalid_request_error"})
			return
		}
		s.chat(w, r)
	default:
		writeError(w, &Error{Status: http.StatusNotFound, Message: "openaitest: unknown path " + r.URL.Path, Type: "invalid_request_error"})
	}
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Raw: json.RawMessage(raw)}
	if err == nil {
		err = json.Unmarshal(raw, &req.Body)
	}
	if !json.Valid(raw) {
		req.Raw = nil
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.n++
	n := s.n
	var (
		reply   Reply
		found   bool
		respond func(Request) Reply
	)
	if err == nil && req.Body.Stream {
		reply, found = s.next(req)
		if !found && s.respond != nil {
			respond, found = s.respond, true
		}
	}
	s.mu.Unlock()
	if respond != nil {
		reply = respond(req)
	}
	switch {
	case err != nil:
		writeError(w, &Error{Status: http.StatusBadRequest, Message: "openaitest: invalid body: " + err.Error(), Type: "invalid_request_error"})
		return
	case !req.Body.Stream:
		writeError(w, &Error{Status: http.StatusBadRequest, Message: "openaitest: only stream:true is supported", Type: "invalid_request_error"})
		return
	case !found:
		writeError(w, &Error{Status: http.StatusBadRequest, Message: "openaitest: no scripted reply left", Type: "invalid_request_error"})
		return
	}
	if !s.sleep(r.Context(), reply.DelayMS) {
		return
	}
	if reply.Error != nil {
		writeError(w, reply.Error)
		return
	}
	s.stream(w, r, req, reply, n)
}

// next takes the first queued reply for req; s.mu is held.
func (s *Server) next(req Request) (Reply, bool) {
	user := strings.ToLower(req.LastUser())
	for i, r := range s.queue {
		if r.Match != "" && !strings.Contains(user, strings.ToLower(r.Match)) {
			continue
		}
		if !r.Repeat {
			s.queue = append(s.queue[:i:i], s.queue[i+1:]...)
		}
		return r, true
	}
	return Reply{}, false
}

func (s *Server) sleep(ctx context.Context, ms int) bool {
	if ms <= 0 {
		return true
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.closed:
	}
	return false
}

func writeError(w http.ResponseWriter, e *Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if e.RetryAfter != "" {
		w.Header().Set("Retry-After", e.RetryAfter)
	}
	if e.RetryAfterMS > 0 {
		w.Header().Set("Retry-After-Ms", fmt.Sprint(e.RetryAfterMS))
	}
	body := e.Body
	if body == "" {
		b, _ := json.Marshal(map[string]any{"error": errorObject(e)})
		body = string(b)
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func errorObject(e *Error) map[string]any {
	typ := e.Type
	if typ == "" {
		typ = "server_error"
	}
	var code any
	if e.Code != "" {
		code = e.Code
	}
	return map[string]any{"message": e.Message, "type": typ, "param": nil, "code": code}
}

// chunk is a chat.completion.chunk.
type chunk struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	SystemFingerprint string   `json:"system_fingerprint"`
	Choices           []choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`
}

type choice struct {
	Index        int            `json:"index"`
	Delta        map[string]any `json:"delta"`
	Logprobs     any            `json:"logprobs"`
	FinishReason *string        `json:"finish_reason"`
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, req Request, reply Reply, n int) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	base := chunk{
		ID: fmt.Sprintf("chatcmpl-openaitest-%d", n), Object: "chat.completion.chunk",
		Created: time.Now().Unix(), Model: req.Body.Model, SystemFingerprint: "fp_openaitest",
	}
	sent := 0
	send := func(data []byte) bool {
		if sent > 0 && !s.sleep(r.Context(), reply.ChunkDelayMS) {
			return false
		}
		sent++
		if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	delta := func(d map[string]any, finish string) bool {
		c := base
		ch := choice{Delta: d}
		if finish != "" {
			ch.FinishReason = &finish
		}
		c.Choices = []choice{ch}
		b, _ := json.Marshal(c)
		return send(b)
	}
	chunks := reply.Chunks
	if chunks <= 0 {
		chunks = 3
	}
	if !delta(map[string]any{"role": "assistant", "content": "", "refusal": nil}, "") {
		return
	}
	field := reply.ReasoningField
	if field == "" {
		field = "reasoning_content"
	}
	for _, p := range Split(reply.Reasoning, chunks) {
		if !delta(map[string]any{field: p}, "") {
			return
		}
	}
	for _, p := range Split(reply.Text, chunks) {
		if !delta(map[string]any{"content": p}, "") {
			return
		}
	}
	if reply.Stall {
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		return
	}
	for _, e := range reply.RawEvents {
		if !send([]byte(e)) {
			return
		}
	}
	if reply.StreamError != nil {
		b, _ := json.Marshal(map[string]any{"error": errorObject(reply.StreamError)})
		send(b)
		return
	}
	// Tool calls: each call's first delta, then the argument fragments,
	// round robin over the calls.
	var frags [][]string
	for i, tc := range reply.ToolCalls {
		id := tc.ID
		if id == "" {
			id = fmt.Sprintf("call_%d_%d", n, i)
		}
		d := map[string]any{"content": nil, "tool_calls": []map[string]any{{
			"index": i, "id": id, "type": "function",
			"function": map[string]any{"name": tc.Name, "arguments": ""},
		}}}
		if !delta(d, "") {
			return
		}
		frags = append(frags, Split(tc.Arguments, chunks))
	}
	for k := 0; ; k++ {
		more := false
		for i, f := range frags {
			if k >= len(f) {
				continue
			}
			more = true
			d := map[string]any{"tool_calls": []map[string]any{{"index": i, "function": map[string]any{"arguments": f[k]}}}}
			if !delta(d, "") {
				return
			}
		}
		if !more {
			break
		}
	}
	finish := reply.FinishReason
	if finish == "" {
		finish = "stop"
		if len(reply.ToolCalls) > 0 {
			finish = "tool_calls"
		}
	}
	if !delta(map[string]any{}, finish) {
		return
	}
	if req.Body.StreamOptions != nil && req.Body.StreamOptions.IncludeUsage {
		u := usage(req, reply)
		c := base
		c.Choices = []choice{}
		c.Usage = &u
		b, _ := json.Marshal(c)
		if !send(b) {
			return
		}
	}
	send([]byte("[DONE]"))
}

func usage(req Request, reply Reply) Usage {
	var u Usage
	if reply.Usage != nil {
		u = *reply.Usage
	} else {
		for _, m := range req.Body.Messages {
			u.PromptTokens += int64(len(strings.Fields(m.Content)))
		}
		u.CompletionTokens = int64(len(strings.Fields(reply.Text)) + len(strings.Fields(reply.Reasoning)))
		for _, tc := range reply.ToolCalls {
			u.CompletionTokens += 1 + int64(len(strings.Fields(tc.Arguments)))
		}
	}
	if u.TotalTokens == 0 {
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	return u
}

// Split cuts s into about n pieces of similar length, never inside a
// UTF-8 sequence; joined they give s. An empty s gives no pieces.
func Split(s string, n int) []string {
	if s == "" {
		return nil
	}
	if n <= 1 {
		return []string{s}
	}
	size := (len(s) + n - 1) / n
	var out []string
	for len(s) > 0 {
		end := min(size, len(s))
		for end < len(s) && !utf8.RuneStart(s[end]) {
			end++
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}

// Script is the reply script of the fakeopenai command: an object with
// the replies, or just the array of replies.
type Script struct {
	Replies []Reply `json:"replies"`
}

// DecodeReplies reads a script: {"replies": [...]}, [...] or one Reply.
func DecodeReplies(r io.Reader) ([]Reply, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, nil
	}
	dec := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		return d.Decode(v)
	}
	if b[0] == '[' {
		var replies []Reply
		if err := dec(&replies); err != nil {
			return nil, fmt.Errorf("openaitest: script: %w", err)
		}
		return replies, nil
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("openaitest: script: %w", err)
	}
	if _, ok := probe["replies"]; ok {
		var sc Script
		if err := dec(&sc); err != nil {
			return nil, fmt.Errorf("openaitest: script: %w", err)
		}
		return sc.Replies, nil
	}
	var one Reply
	if err := dec(&one); err != nil {
		return nil, fmt.Errorf("openaitest: script: %w", err)
	}
	return []Reply{one}, nil
}

// FetchRequests returns the requests recorded by a server running in
// another process (baseURL as printed by fakeopenai, with or without /v1).
func FetchRequests(ctx context.Context, baseURL string) ([]Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, root(baseURL)+"/_openaitest/requests", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("openaitest: GET requests: %s", res.Status)
	}
	var out []Request
	return out, json.NewDecoder(res.Body).Decode(&out)
}

// PushRemote appends replies to the queue of a server running in another
// process.
func PushRemote(ctx context.Context, baseURL string, replies ...Reply) error {
	b, err := json.Marshal(replies)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, root(baseURL)+"/_openaitest/replies", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
		return fmt.Errorf("openaitest: POST replies: %s: %s", res.Status, msg)
	}
	return nil
}

func root(baseURL string) string {
	return strings.TrimSuffix(strings.TrimSuffix(baseURL, "/"), "/v1")
}
