package httptransport

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

// chanSource is a Source fed by a channel; closing it ends the stream.
type chanSource struct {
	frames chan Frame
	closed atomic.Int32
}

func (s *chanSource) NextWithin(ctx context.Context, d time.Duration) (Frame, error) {
	var timeout <-chan time.Time
	switch {
	case d == 0:
		select {
		case f, ok := <-s.frames:
			if !ok {
				return nil, io.EOF
			}
			return f, nil
		default:
			return nil, nil
		}
	case d > 0:
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case f, ok := <-s.frames:
		if !ok {
			return nil, io.EOF
		}
		return f, nil
	case <-timeout:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *chanSource) Close() { s.closed.Add(1) }

// sseServer serves one SSE route whose source and disconnect counter the
// test gets back per request.
func sseServer(t *testing.T, heartbeat time.Duration) (url string, next func() (*chanSource, *atomic.Int32)) {
	t.Helper()
	s := New(Config{HeartbeatInterval: heartbeat, Logger: slog.New(slog.DiscardHandler)})
	type pair struct {
		src  *chanSource
		drop *atomic.Int32
	}
	pairs := make(chan pair, 4)
	s.App.Get("/sse", func(c *fiber.Ctx) error {
		p := pair{src: &chanSource{frames: make(chan Frame)}, drop: new(atomic.Int32)}
		pairs <- p
		return s.StreamSSE(c, p.src, func() { p.drop.Add(1) })
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { _ = s.App.Shutdown() })
	return "http://" + ln.Addr().String() + "/sse", func() (*chanSource, *atomic.Int32) {
		select {
		case p := <-pairs:
			return p.src, p.drop
		case <-time.After(5 * time.Second):
			t.Fatal("no request reached the handler")
			return nil, nil
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStreamSSEFramesInOrderToTheEnd: the headers come before any frame,
// frames (one larger than fasthttp's 4 KiB copy buffer among them) arrive
// whole and in order, the source's end ends the response, and the source is
// closed once without a disconnect.
func TestStreamSSEFramesInOrderToTheEnd(t *testing.T) {
	t.Parallel()
	url, next := sseServer(t, time.Minute)
	type result struct {
		resp *http.Response
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(url)
		got <- result{resp, err}
	}()
	src, drop := next()
	var r result
	select {
	case r = <-got: // the headers, before any frame
	case <-time.After(5 * time.Second):
		t.Fatal("the headers did not come before the first frame")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.resp.Body.Close()
	if ct := r.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	big := "data: " + strings.Repeat("x", 10_000) + "\n\n"
	want := []string{"data: 1\n\n", big, "data: 3\n\n"}
	go func() {
		for _, f := range want {
			src.frames <- Frame(f)
		}
		close(src.frames)
	}()
	body, err := io.ReadAll(r.resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != strings.Join(want, "") {
		t.Errorf("body (%d bytes) is not the frames (%d bytes)", len(body), len(strings.Join(want, "")))
	}
	waitFor(t, "the source's close", func() bool { return src.closed.Load() == 1 })
	if n := drop.Load(); n != 0 {
		t.Errorf("onDisconnect called %d times at a normal end", n)
	}
}

// TestStreamSSEHeartbeatAndDisconnect: silence gets heartbeat comments; a
// client that goes away is noticed by a failed write, which calls
// onDisconnect once and closes the source.
func TestStreamSSEHeartbeatAndDisconnect(t *testing.T) {
	t.Parallel()
	url, next := sseServer(t, 20*time.Millisecond)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	src, drop := next()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != ": heartbeat\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	src.frames <- Frame("data: a\n\n")
	for {
		line, err = br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "data: a\n" {
			break
		}
	}
	resp.Body.Close()
	waitFor(t, "onDisconnect", func() bool { return drop.Load() == 1 })
	waitFor(t, "the source's close", func() bool { return src.closed.Load() == 1 })
	time.Sleep(50 * time.Millisecond)
	if drop.Load() != 1 || src.closed.Load() != 1 {
		t.Errorf("onDisconnect %d, closes %d: want once each", drop.Load(), src.closed.Load())
	}
}
