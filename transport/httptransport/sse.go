package httptransport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// sseQueue is how many frames a source may have ready ahead of the writer;
// frames waiting are written together and flushed once.
const sseQueue = 16

// Frame is one SSE frame to write (already rendered by an adapter).
type Frame []byte

// Source produces the frames of one SSE response. Next blocks until the
// next frame, and returns (nil, io.EOF) at the end. It must return when ctx
// is cancelled.
type Source interface {
	Next(ctx context.Context) (Frame, error)
	// Close is called once when the response ends, for whatever reason.
	Close()
}

// WaitingSource is a Source that can bound its wait for the next frame.
// StreamSSE reads such a source on the connection's own goroutine, which
// then waits for a frame and its heartbeat's timeout in the same place:
// one goroutine hand-off per frame instead of two.
type WaitingSource interface {
	Source
	// NextWithin is Next waiting at most d (0: only a frame at hand); it
	// returns (nil, nil) when none came within d. The frame is valid until
	// the next call (it is copied at once).
	NextWithin(ctx context.Context, d time.Duration) (Frame, error)
}

// StreamSSE answers with text/event-stream and pumps src's frames, writing a
// heartbeat comment after each HeartbeatInterval of silence. fasthttp does
// not cancel a request's context when the client goes away, so a
// disconnect is noticed through a failed write (a heartbeat bounds how long
// that takes); onDisconnect is then called. The pump ends at src's end, at
// a disconnect, or at server shutdown.
func (s *Server) StreamSSE(c *fiber.Ctx, src Source, onDisconnect func()) error {
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderConnection, "keep-alive")
	c.Set("X-Accel-Buffering", "no")
	c.Status(fiber.StatusOK)
	heartbeat := s.cfg.HeartbeatInterval
	logger := s.cfg.Logger
	streamClosed := func() {}
	if s.cfg.Hooks != nil {
		streamClosed = s.cfg.Hooks.StreamOpened(streamInterface(c.Path()))
	}
	ctx, cancel := context.WithCancel(context.Background())
	body := &sseBody{
		heartbeat:    heartbeat,
		logger:       logger,
		ctx:          ctx,
		cancel:       cancel,
		src:          src,
		onDisconnect: onDisconnect,
		streamClosed: streamClosed,
	}
	if ws, ok := src.(WaitingSource); ok {
		body.waiting = ws
	} else {
		body.frames = make(chan sseItem, sseQueue)
		go body.pump(ctx)
	}
	// The headers go out at once, so clients see the stream open; the
	// frames are then read from body by fasthttp's own connection
	// goroutine, each read written as one chunk and flushed.
	c.Context().Response.ImmediateHeaderFlush = true
	c.Context().Response.SetBodyStream(body, -1)
	return nil
}

type sseItem struct {
	f   Frame
	err error
}

// sseBody is an SSE response's body as the reader fasthttp writes from
// (rather than fasthttp's StreamWriter, which runs the writer in a goroutine
// of its own and copies its output through an in-memory pipe to the
// connection's goroutine: a second goroutine hand-off and copy per event).
// A read returns the frames the source has ready — a frame is never held
// back for one that has not arrived — or a heartbeat comment after
// heartbeat of silence; the source's end ends the body. fasthttp closes it
// (CloseWithError) when the response ends, with the write error when the
// client went away. A WaitingSource is read by Read itself, without the
// pump goroutine and its channel.
type sseBody struct {
	frames       chan sseItem  // from the pump (nil: waiting is read)
	waiting      WaitingSource // read by Read
	heartbeat    time.Duration
	logger       *slog.Logger
	ctx          context.Context
	cancel       context.CancelFunc
	src          Source
	onDisconnect func()
	streamClosed func()

	timer  *time.Timer
	buf    []byte // frames taken; buf[off:] is not yet read
	off    int
	ended  bool // the source ended: EOF once buf is read
	closed sync.Once
}

// pump moves the source's frames to the reader.
func (b *sseBody) pump(ctx context.Context) {
	defer close(b.frames)
	for {
		f, err := b.src.Next(ctx)
		select {
		case b.frames <- sseItem{f, err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// take records one item of the source: false at its end.
func (b *sseBody) take(it sseItem, ok bool) bool {
	if !ok || it.err != nil {
		if ok && !errors.Is(it.err, io.EOF) {
			b.logger.Debug("sse source ended", "err", it.err)
		}
		b.ended = true
		return false
	}
	b.buf = append(b.buf, it.f...)
	return true
}

func (b *sseBody) Read(p []byte) (int, error) {
	if b.off == len(b.buf) {
		b.buf, b.off = b.buf[:0], 0
		if cap(b.buf) > 64<<10 { // after a large frame
			b.buf = nil
		}
		if b.ended {
			return 0, io.EOF
		}
		var more bool
		if b.waiting != nil {
			more = b.readWaiting(len(p))
		} else {
			more = b.readPumped(len(p))
		}
		if !more {
			return 0, io.EOF
		}
	}
	n := copy(p, b.buf[b.off:])
	b.off += n
	return n, nil
}

// readPumped takes the pump's next frame, or a heartbeat after its
// silence, and the frames already waiting after it, up to about room
// bytes: false at the source's end with nothing taken.
func (b *sseBody) readPumped(room int) bool {
	if b.timer == nil {
		b.timer = time.NewTimer(b.heartbeat)
	} else {
		b.timer.Reset(b.heartbeat)
	}
	select {
	case it, ok := <-b.frames:
		b.timer.Stop()
		if !b.take(it, ok) {
			return false
		}
	case <-b.timer.C:
		b.buf = append(b.buf, ": heartbeat\n\n"...)
	}
	// Frames already waiting go out in the same chunk.
	for len(b.buf) < room && !b.ended {
		select {
		case it, ok := <-b.frames:
			if !b.take(it, ok) {
				return true
			}
		default:
			return true
		}
	}
	return true
}

// readWaiting is readPumped reading the source itself.
func (b *sseBody) readWaiting(room int) bool {
	f, err := b.waiting.NextWithin(b.ctx, b.heartbeat)
	switch {
	case err != nil:
		b.take(sseItem{err: err}, true)
		return false
	case f == nil:
		b.buf = append(b.buf, ": heartbeat\n\n"...)
	default:
		b.buf = append(b.buf, f...)
	}
	for len(b.buf) < room {
		f, err := b.waiting.NextWithin(b.ctx, 0)
		if err != nil {
			b.take(sseItem{err: err}, true)
			return true
		}
		if f == nil {
			return true
		}
		b.buf = append(b.buf, f...)
	}
	return true
}

// CloseWithError implements fasthttp.ReadCloserWithError: the response
// ended, after a failed write (the client went away) when err is set.
func (b *sseBody) CloseWithError(err error) error {
	b.closed.Do(func() {
		b.cancel()
		if b.timer != nil {
			b.timer.Stop()
		}
		b.src.Close()
		if err != nil || !b.ended {
			b.logger.Debug("sse client gone", "err", err)
			if b.onDisconnect != nil {
				b.onDisconnect()
			}
		}
		b.streamClosed()
	})
	return nil
}

// Close implements io.Closer (fasthttp calls CloseWithError after it).
func (b *sseBody) Close() error { return nil }

// streamInterface names the interface of an SSE response by its path.
func streamInterface(path string) string {
	switch {
	case strings.HasPrefix(path, "/mcp"):
		return "mcp"
	case strings.HasPrefix(path, "/a2a"):
		return "a2a"
	}
	return "rest"
}
