// Package anthropictest is a fake Anthropic Messages API for tests: an HTTP
// server on the loopback interface that answers POST /v1/messages with
// stream:true in the real wire format (message_start, content_block_start,
// ping, content_block_delta, content_block_stop, message_delta,
// message_stop), from scripted replies, and records what it received.
//
//	srv := anthropictest.NewServer(t)
//	srv.Push(anthropictest.TextReply("Hello!"), anthropictest.ErrorReply(529, "", ""))
//	... point the client at srv.URL() ...
//	reqs := srv.Requests()
package anthropictest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Reply is one scripted answer to one request.
type Reply struct {
	// Status, when 400 or more, answers with that status and an error body
	// of Error (its type and message default from the status).
	Status int `json:"status,omitempty"`
	// Error is the error of an error reply.
	Error *Error `json:"error,omitempty"`
	// RetryAfter is sent as the retry-after header (seconds or a date).
	RetryAfter string `json:"retry_after,omitempty"`
	// Headers are added to the response.
	Headers map[string]string `json:"headers,omitempty"`

	// Blocks are the content blocks of a streamed reply, in order.
	Blocks []Block `json:"blocks,omitempty"`
	// StopReason defaults to tool_use when a block is a tool_use, else
	// end_turn.
	StopReason string `json:"stop_reason,omitempty"`
	// Usage is reported in message_start (input side) and message_delta
	// (output_tokens).
	Usage Usage `json:"usage,omitempty"`
	// StreamError, when set, is sent as an `event: error` after the blocks,
	// and the stream ends there.
	StreamError *Error `json:"stream_error,omitempty"`
	// ID is the message id (default a fresh msg_...).
	ID string `json:"id,omitempty"`

	// Delay is waited before the response starts (JSON: a Go duration
	// string such as "1.5s").
	Delay time.Duration `json:"-"`
	// ChunkDelay is waited before each frame after message_start.
	ChunkDelay time.Duration `json:"-"`
	// Stall, after message_start, holds the response open without sending
	// anything more until the client goes away or the server closes.
	Stall bool `json:"stall,omitempty"`
}

// UnmarshalJSON reads durations as Go duration strings ("250ms") and
// rejects unknown fields.
func (r *Reply) UnmarshalJSON(b []byte) error {
	type plain Reply
	aux := struct {
		*plain
		Delay      string `json:"delay"`
		ChunkDelay string `json:"chunk_delay"`
	}{plain: (*plain)(r)}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&aux); err != nil {
		return err
	}
	var err error
	if aux.Delay != "" {
		if r.Delay, err = time.ParseDuration(aux.Delay); err != nil {
			return fmt.Errorf("delay: %w", err)
		}
	}
	if aux.ChunkDelay != "" {
		if r.ChunkDelay, err = time.ParseDuration(aux.ChunkDelay); err != nil {
			return fmt.Errorf("chunk_delay: %w", err)
		}
	}
	return nil
}

// MarshalJSON writes durations as Go duration strings.
func (r Reply) MarshalJSON() ([]byte, error) {
	type plain Reply
	aux := struct {
		plain
		Delay      string `json:"delay,omitempty"`
		ChunkDelay string `json:"chunk_delay,omitempty"`
	}{plain: plain(r)}
	if r.Delay > 0 {
		aux.Delay = r.Delay.String()
	}
	if r.ChunkDelay > 0 {
		aux.ChunkDelay = r.ChunkDelay.String()
	}
	return json.Marshal(aux)
}

// Block is one content block of a reply.
type Block struct {
	// Type is text, thinking or tool_use.
	Type string `json:"type"`
	// Text is the text of a text block, or the thinking of a thinking block.
	Text string `json:"text,omitempty"`
	// Signature is a thinking block's signature (default a made-up one),
	// sent as a signature_delta.
	Signature string `json:"signature,omitempty"`
	// ID and Name are a tool_use block's (the id defaults to a fresh
	// toolu_...).
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	// Input is a tool_use block's input, sent as input_json_delta fragments
	// of its compact form (default {}).
	Input json.RawMessage `json:"input,omitempty"`
	// Chunks is how many deltas the text, thinking or input is split into
	// (default 3).
	Chunks int `json:"chunks,omitempty"`
}

// Error is an API error: its type (e.g. overloaded_error) and message.
type Error struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Usage is a reply's token counts.
type Usage struct {
	InputTokens              int64 `json:"input_tokens,omitempty"`
	OutputTokens             int64 `json:"output_tokens,omitempty"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens,omitempty"`
}

// Text is a text block.
func Text(s string) Block { return Block{Type: "text", Text: s} }

// Thinking is a thinking block.
func Thinking(s string) Block { return Block{Type: "thinking", Text: s} }

// ToolUse is a tool_use block; id may be empty, input is JSON ("" is {}).
func ToolUse(id, name, input string) Block {
	b := Block{Type: "tool_use", ID: id, Name: name}
	if input != "" {
		b.Input = json.RawMessage(input)
	}
	return b
}

// TextReply is a reply of one text block.
func TextReply(s string) Reply { return Reply{Blocks: []Block{Text(s)}} }

// ToolUseReply is a reply of tool_use blocks.
func ToolUseReply(calls ...Block) Reply { return Reply{Blocks: calls} }

// ErrorReply is an error response; typ and message default from the
// status.
func ErrorReply(status int, typ, message string) Reply {
	return Reply{Status: status, Error: &Error{Type: typ, Message: message}}
}

// Request is one request the server received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	// Raw is the body as received; Body is it decoded (nil if it is not a
	// JSON object).
	Raw  []byte
	Body map[string]any
}

// Decode decodes the body into v.
func (r Request) Decode(v any) error { return json.Unmarshal(r.Raw, v) }

// Messages is the body's messages array.
func (r Request) Messages() []any { l, _ := r.Body["messages"].([]any); return l }

// Server is a fake Anthropic Messages API. Its methods are safe for
// concurrent use.
type Server struct {
	srv  *httptest.Server
	done chan struct{}

	mu        sync.Mutex
	queue     []Reply
	respond   func(Request) Reply
	requests  []Request
	apiKey    string
	closeOnce sync.Once
}

// NewServer starts a server on the loopback interface and closes it when the
// test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s, err := Start("")
	if err != nil {
		t.Fatalf("anthropictest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a server listening on addr (empty: a free loopback port).
func Start(addr string) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{done: make(chan struct{})}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	s.srv.Listener.Close()
	s.srv.Listener = ln
	s.srv.Start()
	return s, nil
}

// URL is the base URL (no /v1), e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server, ending stalled responses.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// Push queues replies, answered in order before Respond's function.
func (s *Server) Push(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, replies...)
}

// Respond sets the function answering requests once the queue is empty.
func (s *Server) Respond(f func(Request) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.respond = f
}

// RequireAPIKey makes requests without this x-api-key fail with 401
// authentication_error.
func (s *Server) RequireAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
}

// Requests returns the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Pending is how many queued replies are left.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Raw: raw}
	_ = json.Unmarshal(raw, &req.Body)

	s.mu.Lock()
	s.requests = append(s.requests, req)
	var (
		reply Reply
		fail  *Reply
	)
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/v1/messages":
		fail = ptr(ErrorReply(http.StatusNotFound, "not_found_error", "Not found: "+r.Method+" "+r.URL.Path))
	case s.apiKey != "" && r.Header.Get("x-api-key") != s.apiKey:
		fail = ptr(ErrorReply(http.StatusUnauthorized, "authentication_error", "invalid x-api-key"))
	case req.Body == nil:
		fail = ptr(ErrorReply(http.StatusBadRequest, "invalid_request_error", "The request body is not valid JSON."))
	case req.Body["stream"] != true:
		fail = ptr(ErrorReply(http.StatusBadRequest, "invalid_request_error", "anthropictest: only stream: true is supported"))
	case len(s.queue) > 0:
		reply = s.queue[0]
		s.queue = s.queue[1:]
	case s.respond != nil:
		respond := s.respond
		s.mu.Unlock()
		reply = respond(req)
		s.mu.Lock()
	default:
		fail = ptr(ErrorReply(http.StatusBadRequest, "invalid_request_error", "anthropictest: no reply scripted for this request"))
	}
	s.mu.Unlock()

	if fail != nil {
		writeError(w, *fail)
		return
	}
	if reply.Delay > 0 && !s.wait(r.Context(), reply.Delay) {
		return
	}
	if reply.Status >= 400 {
		writeError(w, reply)
		return
	}
	model, _ := req.Body["model"].(string)
	s.stream(w, r.Context(), reply, model)
}

func ptr[T any](v T) *T { return &v }

// wait waits d, reporting false when the client went away or the server
// closes first.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

func writeError(w http.ResponseWriter, r Reply) {
	e := Error{}
	if r.Error != nil {
		e = *r.Error
	}
	if e.Type == "" {
		e.Type = errorType(r.Status)
	}
	if e.Message == "" {
		e.Message = http.StatusText(r.Status)
		if e.Message == "" {
			e.Message = "Overloaded"
		}
	}
	reqID := newID("req_")
	h := w.Header()
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set("request-id", reqID)
	if r.RetryAfter != "" {
		h.Set("retry-after", r.RetryAfter)
	}
	w.WriteHeader(r.Status)
	body, _ := json.Marshal(struct {
		Type      string `json:"type"`
		Error     Error  `json:"error"`
		RequestID string `json:"request_id"`
	}{"error", e, reqID})
	_, _ = w.Write(body)
}

// errorType is the API's error type for a status.
func errorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 402:
		return "billing_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 504:
		return "timeout_error"
	case 529:
		return "overloaded_error"
	}
	return "api_error"
}

// The wire payloads, with Anthropic's field order.
type (
	usageJSON struct {
		InputTokens              int64  `json:"input_tokens"`
		CacheCreationInputTokens int64  `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int64  `json:"cache_read_input_tokens"`
		OutputTokens             int64  `json:"output_tokens"`
		ServiceTier              string `json:"service_tier"`
	}
	messageJSON struct {
		ID           string    `json:"id"`
		Type         string    `json:"type"`
		Role         string    `json:"role"`
		Model        string    `json:"model"`
		Content      []any     `json:"content"`
		StopReason   *string   `json:"stop_reason"`
		StopSequence *string   `json:"stop_sequence"`
		Usage        usageJSON `json:"usage"`
	}
	textBlockJSON struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	thinkingBlockJSON struct {
		Type      string `json:"type"`
		Thinking  string `json:"thinking"`
		Signature string `json:"signature"`
	}
	toolUseBlockJSON struct {
		Type  string          `json:"type"`
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	}
	typeOnly struct {
		Type string `json:"type"`
	}
	messageStartJSON struct {
		Type    string      `json:"type"`
		Message messageJSON `json:"message"`
	}
	blockStartJSON struct {
		Type         string `json:"type"`
		Index        int    `json:"index"`
		ContentBlock any    `json:"content_block"`
	}
	blockDeltaJSON struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
		Delta any    `json:"delta"`
	}
	blockStopJSON struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}
	textDeltaJSON struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	thinkingDeltaJSON struct {
		Type     string `json:"type"`
		Thinking string `json:"thinking"`
	}
	signatureDeltaJSON struct {
		Type      string `json:"type"`
		Signature string `json:"signature"`
	}
	inputDeltaJSON struct {
		Type        string `json:"type"`
		PartialJSON string `json:"partial_json"`
	}
	messageDeltaJSON struct {
		Type  string `json:"type"`
		Delta struct {
			StopReason   string  `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		} `json:"delta"`
		Usage struct {
			OutputTokens int64 `json:"output_tokens"`
		} `json:"usage"`
	}
	errorEventJSON struct {
		Type  string `json:"type"`
		Error Error  `json:"error"`
	}
)

func (s *Server) stream(w http.ResponseWriter, ctx context.Context, reply Reply, model string) {
	flusher, _ := w.(http.Flusher)
	h := w.Header()
	for k, v := range reply.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("request-id", newID("req_"))
	w.WriteHeader(http.StatusOK)

	first := true
	send := func(event string, data any) bool {
		if !first && reply.ChunkDelay > 0 && !s.wait(ctx, reply.ChunkDelay) {
			return false
		}
		first = false
		b, err := json.Marshal(data)
		if err != nil {
			panic(err)
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return ctx.Err() == nil
	}

	id := reply.ID
	if id == "" {
		id = newID("msg_")
	}
	if model == "" {
		model = "claude-test"
	}
	u := reply.Usage
	start := messageJSON{
		ID: id, Type: "message", Role: "assistant", Model: model, Content: []any{},
		Usage: usageJSON{
			InputTokens: u.InputTokens, CacheCreationInputTokens: u.CacheCreationInputTokens,
			CacheReadInputTokens: u.CacheReadInputTokens, OutputTokens: min(u.OutputTokens, 1), ServiceTier: "standard",
		},
	}
	if !send("message_start", messageStartJSON{Type: "message_start", Message: start}) {
		return
	}
	if reply.Stall {
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		return
	}
	if !send("ping", typeOnly{Type: "ping"}) {
		return
	}
	stop := "end_turn"
	for i, b := range reply.Blocks {
		var (
			startBlock any
			deltas     []any
		)
		switch b.Type {
		case "text":
			startBlock = textBlockJSON{Type: "text", Text: ""}
			for _, p := range split(b.Text, b.Chunks) {
				deltas = append(deltas, textDeltaJSON{Type: "text_delta", Text: p})
			}
		case "thinking":
			startBlock = thinkingBlockJSON{Type: "thinking"}
			for _, p := range split(b.Text, b.Chunks) {
				deltas = append(deltas, thinkingDeltaJSON{Type: "thinking_delta", Thinking: p})
			}
			sig := b.Signature
			if sig == "" {
				sig = "EqQBCgIYAhIM" + newID("")
			}
			deltas = append(deltas, signatureDeltaJSON{Type: "signature_delta", Signature: sig})
		case "tool_use":
			stop = "tool_use"
			tid := b.ID
			if tid == "" {
				tid = newID("toolu_")
			}
			startBlock = toolUseBlockJSON{Type: "tool_use", ID: tid, Name: b.Name, Input: json.RawMessage(`{}`)}
			input := string(b.Input)
			if input == "" {
				input = "{}"
			} else if c := compact(b.Input); c != "" {
				input = c
			}
			deltas = append(deltas, inputDeltaJSON{Type: "input_json_delta"})
			for _, p := range split(input, b.Chunks) {
				deltas = append(deltas, inputDeltaJSON{Type: "input_json_delta", PartialJSON: p})
			}
		default:
			panic(fmt.Sprintf("anthropictest: unknown block type %q", b.Type))
		}
		if !send("content_block_start", blockStartJSON{Type: "content_block_start", Index: i, ContentBlock: startBlock}) {
			return
		}
		for _, d := range deltas {
			if !send("content_block_delta", blockDeltaJSON{Type: "content_block_delta", Index: i, Delta: d}) {
				return
			}
		}
		if !send("content_block_stop", blockStopJSON{Type: "content_block_stop", Index: i}) {
			return
		}
	}
	if e := reply.StreamError; e != nil {
		send("error", errorEventJSON{Type: "error", Error: *e})
		return
	}
	if reply.StopReason != "" {
		stop = reply.StopReason
	}
	md := messageDeltaJSON{Type: "message_delta"}
	md.Delta.StopReason = stop
	md.Usage.OutputTokens = u.OutputTokens
	if !send("message_delta", md) {
		return
	}
	send("message_stop", typeOnly{Type: "message_stop"})
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return ""
	}
	return b.String()
}

// split cuts s into n pieces (default 3) of about equal length at rune
// boundaries; joined they give s.
func split(s string, n int) []string {
	if n <= 0 {
		n = 3
	}
	runes := utf8.RuneCountInString(s)
	if runes <= 1 || n == 1 {
		return []string{s}
	}
	n = min(n, runes)
	var out []string
	rest := s
	for i := 0; i < n; i++ {
		want := runes/n + boolInt(i < runes%n)
		cut := 0
		for j := 0; j < want; j++ {
			_, size := utf8.DecodeRuneInString(rest[cut:])
			cut += size
		}
		out = append(out, rest[:cut])
		rest = rest[cut:]
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const idChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID is prefix followed by 24 random base62 characters, like
// msg_01XFDUDYJgAACzvnptvVoYEL.
func newID(prefix string) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString("01")
	for i := 0; i < 22; i++ {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(idChars))))
		if err != nil {
			panic(err)
		}
		b.WriteByte(idChars[n.Int64()])
	}
	return b.String()
}

// ParseScript reads a JSON array of replies (the fakeanthropic script).
func ParseScript(data []byte) ([]Reply, error) {
	var replies []Reply
	if err := json.Unmarshal(data, &replies); err != nil {
		return nil, fmt.Errorf("anthropictest: script: %w", err)
	}
	for i, r := range replies {
		if r.Status != 0 && r.Status < 400 {
			return nil, fmt.Errorf("anthropictest: script reply %d: status %d is not an error status", i, r.Status)
		}
		for j, b := range r.Blocks {
			switch b.Type {
			case "text", "thinking", "tool_use":
			default:
				return nil, fmt.Errorf("anthropictest: script reply %d block %d: unknown type %q", i, j, b.Type)
			}
		}
	}
	return replies, nil
}
