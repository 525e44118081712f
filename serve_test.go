package agentgate

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestHandoff: the port answers as "starting" until the handoff, then the
// next server takes every new connection, and closing the last phase
// releases the port.
func TestHandoff(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) int {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	hl := newHandoff(ln)
	starting := startingServer(hl.next())
	if c := get("/health"); c != 200 {
		t.Errorf("/health while starting: %d", c)
	}
	if c := get("/ready"); c != 503 {
		t.Errorf("/ready while starting: %d", c)
	}
	if c := get("/agents"); c != 503 {
		t.Errorf("/agents while starting: %d", c)
	}
	live := hl.next()
	go func() { _ = starting.Shutdown() }()
	srv := &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) { c.SetStatusCode(http.StatusTeapot) }}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(live) }()
	for i := 0; i < 5; i++ {
		if c := get("/ready"); c != http.StatusTeapot {
			t.Fatalf("after the handoff, request %d answered %d by the starting server", i, c)
		}
	}
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("shutting down the live server hangs")
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("the port still accepts after the last phase closed")
	}
}
