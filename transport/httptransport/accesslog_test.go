package httptransport

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/internal/testutil"
)

// TestAccessLogStatus checks that the access log records the status the
// client really got: a route that is not found, an error a handler
// returns, a status a handler writes itself, and a plain success.
func TestAccessLogStatus(t *testing.T) {
	var buf testutil.SyncBuffer
	srv := New(Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	srv.App.Get("/ok", func(c *fiber.Ctx) error { return c.SendString("ok") })
	srv.App.Get("/teapot", func(c *fiber.Ctx) error { return c.SendStatus(http.StatusTeapot) })
	srv.App.Get("/conflict", func(c *fiber.Ctx) error { return fiber.NewError(http.StatusConflict, "no") })
	for _, c := range []struct {
		path string
		want int
	}{{"/ok", 200}, {"/teapot", 418}, {"/conflict", 409}, {"/no-such-route", 404}} {
		resp, err := srv.App.Test(httptest.NewRequest(http.MethodGet, c.path, nil), 5000)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Fatalf("%s: sent %d, want %d", c.path, resp.StatusCode, c.want)
		}
		var line string
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.Contains(l, "msg=request") && strings.Contains(l, "path="+c.path+" ") {
				line = l
			}
		}
		if line == "" {
			t.Fatalf("%s: no access log line in:\n%s", c.path, buf.String())
		}
		if !strings.Contains(line, " status="+strconv.Itoa(c.want)+" ") {
			t.Errorf("%s: sent %d, logged: %s", c.path, resp.StatusCode, line)
		}
	}
}
