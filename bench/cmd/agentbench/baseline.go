package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/agentgate/agentgate/adapters/rest"
	"github.com/agentgate/agentgate/core"
)

// capture is one real blocking response and one real stream of agentgate,
// recorded before measuring, which the baseline replays.
type capture struct {
	runJSON []byte   // body of a blocking (stream=false) run
	frames  [][]byte // the SSE frames of a streaming run, each ending "\n\n"
}

func (c *capture) streamBytes() int {
	n := 0
	for _, f := range c.frames {
		n += len(f)
	}
	return n
}

// splitFrames cuts an SSE body into frames (each keeps its "\n\n").
func splitFrames(body []byte) [][]byte {
	var out [][]byte
	for len(body) > 0 {
		i := bytes.Index(body, []byte("\n\n"))
		if i < 0 {
			out = append(out, body)
			break
		}
		out = append(out, body[:i+2])
		body = body[i+2:]
	}
	return out
}

// frameData returns the data: payload and event type of an SSE frame.
func frameData(frame []byte) (event string, data []byte, ok bool) {
	for _, line := range bytes.Split(bytes.TrimRight(frame, "\n"), []byte("\n")) {
		switch {
		case bytes.HasPrefix(line, []byte("event:")):
			event = strings.TrimSpace(string(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			data = bytes.TrimSpace(line[len("data:"):])
		}
	}
	return event, data, event != "" && data != nil
}

// baselineBody is what the baseline answers: either the captured bytes as
// they are, or (when the captured values round-trip byte for byte) the
// decoded values encoded again on every request, so the baseline does the
// same JSON encoding work as agentgate.
type baselineBody struct {
	encode bool
	run    *core.Run
	events []core.Event
	cap    *capture
}

func newBaselineBody(c *capture) *baselineBody {
	b := &baselineBody{cap: c}
	var run core.Run
	if err := json.Unmarshal(c.runJSON, &run); err != nil {
		return b
	}
	if again, err := json.Marshal(&run); err != nil || !bytes.Equal(again, c.runJSON) {
		return b
	}
	events := make([]core.Event, 0, len(c.frames))
	for _, f := range c.frames {
		_, data, ok := frameData(f)
		if !ok {
			return b
		}
		var ev core.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			return b
		}
		if !bytes.Equal(rest.RenderEvent(&ev), f) {
			return b
		}
		events = append(events, ev)
	}
	b.encode, b.run, b.events = true, &run, events
	return b
}

func (b *baselineBody) mode() string {
	if b.encode {
		return "re-encodes the captured run/events per request (byte-identical)"
	}
	return "replays the captured bytes"
}

// startBaseline serves a bare fiber app (no middleware, no engine, no
// storage) on a loopback listener with the same route as agentgate: it
// parses the same multipart form, then answers stream=false with a body of
// the captured run's size and shape, and stream=true with the captured
// stream's frames, flushing after each frame.
func startBaseline(c *capture) (*target, string, error) {
	body := newBaselineBody(c)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post("/agents/:agent_id/runs", func(ctx *fiber.Ctx) error {
		if strings.TrimSpace(ctx.FormValue("message")) == "" {
			return ctx.Status(fiber.StatusBadRequest).JSON(fiber.Map{"detail": "message is required"})
		}
		stream, err := formBool(ctx.FormValue("stream"), true)
		if err != nil {
			return ctx.Status(fiber.StatusBadRequest).JSON(fiber.Map{"detail": err.Error()})
		}
		if _, err := formBool(ctx.FormValue("background"), false); err != nil {
			return ctx.Status(fiber.StatusBadRequest).JSON(fiber.Map{"detail": err.Error()})
		}
		if !stream {
			if body.encode {
				return ctx.JSON(body.run)
			}
			ctx.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			return ctx.Send(body.cap.runJSON)
		}
		// The same headers as agentgate's SSE pump.
		ctx.Set(fiber.HeaderContentType, "text/event-stream")
		ctx.Set(fiber.HeaderCacheControl, "no-cache")
		ctx.Set(fiber.HeaderConnection, "keep-alive")
		ctx.Set("X-Accel-Buffering", "no")
		ctx.Status(fiber.StatusOK)
		ctx.Context().SetBodyStreamWriter(fasthttp.StreamWriter(func(w *bufio.Writer) {
			if err := w.Flush(); err != nil {
				return
			}
			for i := range body.cap.frames {
				var f []byte
				if body.encode {
					f = rest.RenderEvent(&body.events[i])
				} else {
					f = body.cap.frames[i]
				}
				if _, err := w.Write(f); err != nil {
					return
				}
				if err := w.Flush(); err != nil {
					return
				}
			}
		}))
		return nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- app.Listener(ln) }()
	t := &target{
		name:     "baseline",
		baseURL:  "http://" + ln.Addr().String(),
		agentID:  benchAgentID,
		describe: "bare fiber app",
	}
	t.stop = func(ctx context.Context) error {
		err := app.ShutdownWithContext(ctx)
		if e := <-serveErr; e != nil && !errors.Is(e, net.ErrClosed) {
			err = errors.Join(err, e)
		}
		return err
	}
	return t, body.mode(), nil
}

func formBool(v string, def bool) (bool, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, nil
	}
	switch strings.ToLower(v) {
	case "yes", "on":
		return true, nil
	case "no", "off":
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("not a boolean: %q", v)
	}
	return b, nil
}
