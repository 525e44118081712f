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

// Frame is one SSE frame to write (already rendered by an adapter).
type Frame []byte

// Source produces the frames of one SSE response. StreamSSE reads it on
// the connection's own goroutine, which waits for a frame and for its
// heartbeat's timeout in the same place: no goroutine or channel of its
// own per stream.
type Source interface {
	// NextWithin waits at most d for the next frame (0: only a frame at
	// hand; negative: as long as it takes) and returns (nil, nil) when none
	// came within d, or (nil, io.EOF) at the end. The frame is valid until
	// the next call (it is copied at once). It must return when ctx is
	// cancelled.
	NextWithin(ctx context.Context, d time.Duration) (Frame, error)
	// Close is called once when the response ends, for whatever reason.
	Close()
}

// StreamSSE answers with text/event-stream and writes src's frames, writing a
// heartbeat comment after each HeartbeatInterval of silence. fasthttp does
// not cancel a request's context when the client goes away, so a
// disconnect is noticed through a failed write (a heartbeat bounds how long
// that takes); onDisconnect is then called. The stream ends at src's end,
// at a disconnect, or at server shutdown.
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
	// The headers go out at once, so clients see the stream open; the
	// frames are then read from body by fasthttp's own connection
	// goroutine, each read written as one chunk and flushed.
	c.Context().Response.ImmediateHeaderFlush = true
	c.Context().Response.SetBodyStream(body, -1)
	return nil
}

// sseBody is an SSE response's body as the reader fasthttp writes from
// (rather than fasthttp's StreamWriter, which runs the writer in a goroutine
// of its own and copies its output through an in-memory pipe to the
// connection's goroutine: a second goroutine hand-off and copy per event).
// A read returns the frames the source has ready — a frame is never held
// back for one that has not arrived — or a heartbeat comment after
// heartbeat of silence; the source's end ends the body. fasthttp closes it
// (CloseWithError) when the response ends, with the write error when the
// client went away.
type sseBody struct {
	heartbeat    time.Duration
	logger       *slog.Logger
	ctx          context.Context
	cancel       context.CancelFunc
	src          Source
	onDisconnect func()
	streamClosed func()

	buf    []byte // frames taken; buf[off:] is not yet read
	off    int
	ended  bool // the source ended: EOF once buf is read
	closed sync.Once
}

// end records the source's end (err: io.EOF, or why it failed).
func (b *sseBody) end(err error) {
	if !errors.Is(err, io.EOF) {
		b.logger.Debug("sse source ended", "err", err)
	}
	b.ended = true
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
		if !b.read(len(p)) {
			return 0, io.EOF
		}
	}
	n := copy(p, b.buf[b.off:])
	b.off += n
	return n, nil
}

// read takes the source's next frame, or a heartbeat after heartbeat of
// silence, and the frames already at hand after it, up to about room
// bytes: false at the source's end with nothing taken.
func (b *sseBody) read(room int) bool {
	f, err := b.src.NextWithin(b.ctx, b.heartbeat)
	switch {
	case err != nil:
		b.end(err)
		return false
	case f == nil:
		b.buf = append(b.buf, ": heartbeat\n\n"...)
	default:
		b.buf = append(b.buf, f...)
	}
	// Frames already at hand go out in the same chunk.
	for len(b.buf) < room {
		f, err := b.src.NextWithin(b.ctx, 0)
		if err != nil {
			b.end(err)
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
