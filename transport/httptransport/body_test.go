package httptransport

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// TestBodyLimitStreaming: with the server streaming bodies, bodies are
// still bounded by BodyLimit (declared or chunked: 413) and read whole
// for c.Body(); a StreamBody request's handler reads it as it arrives.
func TestBodyLimitStreaming(t *testing.T) {
	s := New(Config{BodyLimit: 100, AccessLogOff: true, StreamBody: func(m, p, ct string) bool { return p == "/stream" }})
	s.App.Post("/echo", func(c *fiber.Ctx) error { return c.Send(c.Body()) })
	s.App.Post("/stream", func(c *fiber.Ctx) error {
		r, ok := StreamedBody(c)
		if !ok {
			return c.SendString("not streamed")
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		return c.SendString(string(rune('0' + len(b)/100)))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	defer s.App.Shutdown()
	url := "http://" + ln.Addr().String()
	post := func(path string, body io.Reader) (int, string) {
		resp, err := http.Post(url+path, "text/plain", body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := post("/echo", strings.NewReader("hello")); code != 200 || b != "hello" {
		t.Errorf("small body: %d %q", code, b)
	}
	if code, _ := post("/echo", strings.NewReader(strings.Repeat("a", 101))); code != 413 {
		t.Errorf("declared over the limit: %d, want 413", code)
	}
	// io.MultiReader hides the length: the client sends it chunked.
	if code, _ := post("/echo", io.MultiReader(strings.NewReader(strings.Repeat("a", 150)))); code != 413 {
		t.Errorf("chunked over the limit: %d, want 413", code)
	}
	if code, b := post("/echo", io.MultiReader(strings.NewReader("chunked"))); code != 200 || b != "chunked" {
		t.Errorf("chunked body: %d %q", code, b)
	}
	if code, b := post("/stream", strings.NewReader(strings.Repeat("a", 500))); code != 200 || b != "5" {
		t.Errorf("streamed body past BodyLimit: %d %q, want its 500 bytes read", code, b)
	}
}
