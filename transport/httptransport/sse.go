package httptransport

import (
	"bufio"
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
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
	c.Context().SetBodyStreamWriter(fasthttp.StreamWriter(func(w *bufio.Writer) {
		defer streamClosed()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		defer src.Close()

		type item struct {
			f   Frame
			err error
		}
		// Buffered, so that frames the source has ready (a replay) queue up
		// while the previous write is flushed, and go out together.
		frames := make(chan item, sseQueue)
		go func() {
			defer close(frames)
			for {
				f, err := src.Next(ctx)
				select {
				case frames <- item{f, err}:
				case <-ctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		}()
		disconnected := func() {
			if onDisconnect != nil {
				onDisconnect()
			}
		}
		// Flush headers at once so clients see the stream open.
		if err := w.Flush(); err != nil {
			disconnected()
			return
		}
		timer := time.NewTimer(heartbeat)
		defer timer.Stop()
		for {
			var (
				out []byte
				end bool // the source ended: write what was taken, then stop
			)
			select {
			case it, ok := <-frames:
				if !ok || it.err != nil {
					if it.err != nil && ok {
						logger.Debug("sse source ended", "err", it.err)
					}
					return
				}
				out = it.f
			case <-timer.C:
				out = []byte(": heartbeat\n\n")
			}
			if _, err := w.Write(out); err != nil {
				disconnected()
				return
			}
			// Frames already waiting go out in the same flush; a frame is
			// never held back for one that has not arrived.
		more:
			for range sseQueue {
				select {
				case it, ok := <-frames:
					if !ok || it.err != nil {
						if it.err != nil && ok {
							logger.Debug("sse source ended", "err", it.err)
						}
						end = true
						break more
					}
					if _, err := w.Write(it.f); err != nil {
						disconnected()
						return
					}
				default:
					break more
				}
			}
			if err := w.Flush(); err != nil {
				disconnected()
				return
			}
			if end {
				return
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(heartbeat)
		}
	}))
	return nil
}

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
