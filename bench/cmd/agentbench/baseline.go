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
	// resume is set when the profile measures resumes (see resume.go).
	resume *resumeCapture
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
	stream *frameSet
	resume *frameSet // nil unless the profile measures resumes
	cap    *capture
}

// frameSet is a captured SSE answer the baseline sends frame by frame.
type frameSet struct {
	frames [][]byte
	ids    []int64      // each frame's id:
	events []core.Event // decoded frames, when they re-encode byte for byte
}

// newFrameSet decodes frames; its events are nil unless every frame
// decodes into a core.Event that rest.RenderEvent encodes back byte for
// byte.
func newFrameSet(frames [][]byte) *frameSet {
	fs := &frameSet{frames: frames}
	for _, f := range frames {
		id, _ := frameID(f)
		fs.ids = append(fs.ids, id)
	}
	events := make([]core.Event, 0, len(frames))
	for _, f := range frames {
		_, data, ok := frameData(f)
		if !ok {
			return fs
		}
		var ev core.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			return fs
		}
		if !bytes.Equal(rest.RenderEvent(&ev), f) {
			return fs
		}
		events = append(events, ev)
	}
	fs.events = events
	return fs
}

// frame returns frame i, encoded again when encode is set.
func (fs *frameSet) frame(i int, encode bool) []byte {
	if encode {
		return rest.RenderEvent(&fs.events[i])
	}
	return fs.frames[i]
}

func newBaselineBody(c *capture) *baselineBody {
	b := &baselineBody{cap: c, stream: newFrameSet(c.frames)}
	if c.resume != nil {
		b.resume = newFrameSet(c.resume.frames)
	}
	var run core.Run
	if err := json.Unmarshal(c.runJSON, &run); err != nil {
		return b
	}
	if again, err := json.Marshal(&run); err != nil || !bytes.Equal(again, c.runJSON) {
		return b
	}
	if b.stream.events == nil || (b.resume != nil && b.resume.events == nil) {
		return b
	}
	b.encode, b.run = true, &run
	return b
}

func (b *baselineBody) mode() string {
	what := "run/events"
	if b.resume != nil {
		what = "run/events/resumed events"
	}
	if b.encode {
		return "re-encodes the captured " + what + " per request (byte-identical)"
	}
	return "replays the captured bytes"
}

// sendFrames answers an SSE stream of the frames of fs whose index is >= from
// with agentgate's SSE headers, flushing the headers and then every frame.
func (b *baselineBody) sendFrames(ctx *fiber.Ctx, fs *frameSet, from int) {
	ctx.Set(fiber.HeaderContentType, "text/event-stream")
	ctx.Set(fiber.HeaderCacheControl, "no-cache")
	ctx.Set(fiber.HeaderConnection, "keep-alive")
	ctx.Set("X-Accel-Buffering", "no")
	ctx.Status(fiber.StatusOK)
	ctx.Context().SetBodyStreamWriter(fasthttp.StreamWriter(func(w *bufio.Writer) {
		if err := w.Flush(); err != nil {
			return
		}
		for i := from; i < len(fs.frames); i++ {
			if _, err := w.Write(fs.frame(i, b.encode)); err != nil {
				return
			}
			if err := w.Flush(); err != nil {
				return
			}
		}
	}))
}

// startBaseline serves a bare fiber app (no middleware, no engine, no
// storage) on a loopback listener with the same route as agentgate: it
// parses the same multipart form, then answers stream=false with a body of
// the captured run's size and shape, and stream=true with the captured
// stream's frames, flushing after each frame. When c has a resume capture
// it also serves GET /agents/{id}/runs/{run_id}/stream: it parses the
// Last-Event-ID (or last_event_index) cursor and sends the captured resume
// answer's frames after it, flushing after each.
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
		// The same headers and flushes as agentgate's SSE pump.
		body.sendFrames(ctx, body.stream, 0)
		return nil
	})
	if body.resume != nil {
		// The resume endpoint: parse the cursor as agentgate does and send
		// the captured resume answer's frames after it.
		app.Get("/agents/:agent_id/runs/:run_id/stream", func(ctx *fiber.Ctx) error {
			cursor := ctx.Get("Last-Event-ID")
			if cursor == "" {
				cursor = ctx.Query("last_event_index")
			}
			after, err := rest.ParseEventIndex(cursor)
			if err != nil {
				return ctx.Status(fiber.StatusBadRequest).JSON(fiber.Map{"detail": err.Error()})
			}
			from := 0
			for from < len(body.resume.ids) && body.resume.ids[from] <= after {
				from++
			}
			if from == len(body.resume.ids) {
				return ctx.SendStatus(fiber.StatusNoContent)
			}
			body.sendFrames(ctx, body.resume, from)
			return nil
		})
	}
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
