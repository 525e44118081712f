package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

// recorder is an Execution's Emit that keeps the events.
type recorder struct {
	mu     sync.Mutex
	events []core.Event
}

func (r *recorder) emit(_ context.Context, ev core.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return nil
}

func (r *recorder) list() []core.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]core.Event(nil), r.events...)
}

// types is the events' types, space separated.
func (r *recorder) types() string {
	var s []string
	for _, ev := range r.list() {
		s = append(s, string(ev.Event))
	}
	return strings.Join(s, " ")
}

// execution is a new run's Execution (or, with resume, a continued one's).
func execution(r *recorder, msg string, resume *core.PausedState) *core.Execution {
	return &core.Execution{
		Run:     &core.Run{RunID: "run-1", SessionID: "sess-1", AgentID: "remote", Status: core.RunRunning},
		Message: msg, Resume: resume, Emit: r.emit,
	}
}

// wantRemoteError fails unless err is a remote_error whose message has
// each of parts.
func wantRemoteError(t *testing.T, err error, parts ...string) {
	t.Helper()
	var ae *core.AgentError
	if !errors.As(err, &ae) || ae.Type != ErrorType {
		t.Fatalf("error %v (%T), want a %s AgentError", err, err, ErrorType)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

// writeSSE writes one SSE frame and flushes it.
func writeSSE(w http.ResponseWriter, event, data string) {
	if event != "" {
		fmt.Fprintf(w, "event: %s\n", event)
	}
	fmt.Fprintf(w, "data: %s\n\n", data)
	w.(http.Flusher).Flush()
}

func sseHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

// hold blocks a handler until release is closed, the client goes away
// or 5 s pass (the body is read first, so the server notices the client
// leaving).
func hold(r *http.Request, release chan struct{}) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-release:
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

// within fails the test if f takes longer than d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s took longer than %s", what, d)
	}
}
