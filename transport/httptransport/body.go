package httptransport

import (
	"bytes"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// The server streams request bodies (fasthttp's StreamRequestBody): it
// reads a request's headers and at most 8 KiB of its body before the
// handlers run. bodyLimit then reads the body of every request whole,
// bounded by Config.BodyLimit (413 past it), except those
// Config.StreamBody names: their handler reads the body as it arrives
// (StreamedBody) and bounds it itself.

// streamedBody is a streamed request's body: it knows whether its handler
// read it to the end.
type streamedBody struct {
	r   io.Reader
	eof bool
}

func (s *streamedBody) Read(p []byte) (int, error) {
	if s.eof {
		return 0, io.EOF
	}
	n, err := s.r.Read(p)
	if err == io.EOF {
		s.eof = true
	}
	return n, err
}

const streamedKey = "agentgate.streamedBody"

// StreamedBody returns the body of a request the server streams
// (Config.StreamBody), to read as it arrives; ok is false for a request
// whose body was read whole (c.Body()).
func StreamedBody(c *fiber.Ctx) (io.Reader, bool) {
	s, ok := c.Locals(streamedKey).(*streamedBody)
	return s, ok
}

// maxDrain is what is read of a streamed body its handler left unread
// before the answer, so that the connection can serve the next request;
// past it the connection is closed instead.
const maxDrain = 256 << 10

// bodyLimit reads bodies whole up to limit, or hands streamed ones to
// their handlers (stream, nil: none).
func bodyLimit(limit int, stream func(method, path, contentType string) bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		req := c.Request()
		if !req.IsBodyStream() {
			if m := c.Method(); m != fiber.MethodGet && m != fiber.MethodHead && m != fiber.MethodOptions {
				// No body: an empty one to read (huma's fiber adapter
				// reads the body stream when the server streams).
				req.SetBodyStream(bytes.NewReader(nil), 0)
			}
			return c.Next()
		}
		cl := req.Header.ContentLength()
		if stream != nil && stream(c.Method(), c.Path(), string(req.Header.ContentType())) {
			sb := &streamedBody{r: c.Context().RequestBodyStream(), eof: cl == 0}
			c.Locals(streamedKey, sb)
			err := c.Next()
			if !sb.eof {
				// Read what is left (a multipart epilogue, or the body of
				// a request refused early); the rest of a large one would
				// be taken for the next request: close instead.
				_, _ = io.CopyN(io.Discard, sb, maxDrain)
				if !sb.eof {
					c.Context().SetConnectionClose()
				}
			}
			return err
		}
		if cl == 0 {
			return c.Next()
		}
		if cl > limit {
			c.Context().SetConnectionClose()
			return fiber.ErrRequestEntityTooLarge
		}
		var body []byte
		var err error
		if cl > 0 {
			body = make([]byte, cl)
			_, err = io.ReadFull(c.Context().RequestBodyStream(), body)
		} else { // chunked
			body, err = io.ReadAll(io.LimitReader(c.Context().RequestBodyStream(), int64(limit)+1))
			if err == nil && len(body) > limit {
				c.Context().SetConnectionClose()
				return fiber.ErrRequestEntityTooLarge
			}
		}
		if err != nil {
			c.Context().SetConnectionClose()
			return fiber.NewError(fiber.StatusBadRequest, "reading the request body failed: "+strings.TrimSpace(err.Error()))
		}
		// The body, read, as a stream again: c.Body() reads it back into
		// the request's buffer, and huma's fiber adapter reads the stream.
		req.SetBodyStream(bytes.NewReader(body), len(body))
		return c.Next()
	}
}
