// Package sse reads server-sent events (text/event-stream) from a response
// body: the one reader of the streams agentgate consumes (a model
// provider's streamed reply, a remote agent's run stream), bounded in the
// bytes one event may take so a hostile or broken server cannot make it
// buffer without limit.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// ErrTooLarge is Next's error for an event (or a line) over the reader's
// bound.
var ErrTooLarge = errors.New("sse: an event is larger than the bound")

// Event is one event that carried data. Comments, ids, retry fields and
// frames without data (heartbeats) are skipped.
type Event struct {
	// Name is the event field's value ("" when the frame had none).
	Name string
	// Data are the frame's data lines joined by "\n"; valid until the next
	// call to Next.
	Data []byte
}

// Reader reads the events of one stream.
type Reader struct {
	r    *bufio.Reader
	max  int // bytes of one event's data, and of one line (with lineSlack)
	data []byte
	line []byte
	err  error
}

// NewReader reads events from r through a buffer of bufSize bytes; an
// event whose data, or a line, is over max bytes is ErrTooLarge.
func NewReader(r io.Reader, bufSize, max int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, bufSize), max: max}
}

// Max is the reader's bound on one event.
func (s *Reader) Max() int { return s.max }

// Next returns the next event, dispatched at a blank line or at the end of
// the body (a last event without its blank line is delivered), or io.EOF
// when the body ends. Once it has returned an error it returns it again.
func (s *Reader) Next() (Event, error) {
	if s.err != nil {
		return Event{}, s.err
	}
	s.data = s.data[:0]
	var ev Event
	have := false
	for {
		line, err := s.readLine()
		if err != nil {
			if err == io.EOF && have {
				s.err = io.EOF
				ev.Data = s.data
				return ev, nil
			}
			s.err = err
			return Event{}, err
		}
		if len(line) == 0 {
			if have {
				ev.Data = s.data
				return ev, nil
			}
			ev = Event{} // a frame without data names nothing
			continue
		}
		if line[0] == ':' {
			continue // a comment
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(field) {
		case "event":
			ev.Name = string(value)
		case "data":
			if have {
				s.data = append(s.data, '\n')
			}
			if len(s.data)+len(value) > s.max {
				s.err = ErrTooLarge
				return Event{}, s.err
			}
			s.data = append(s.data, value...)
			have = true
		}
	}
}

// lineSlack is what a line may hold beyond the bound: its field name
// ("data: ") and its end.
const lineSlack = 16

// readLine returns one line without its end (\n, \r\n), valid until the
// next call.
func (s *Reader) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.line = append(s.line[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(s.line) > s.max+lineSlack {
				return nil, ErrTooLarge
			}
			line, err = s.r.ReadSlice('\n')
			s.line = append(s.line, line...)
		}
		line = s.line
	}
	if len(line) > s.max+lineSlack {
		return nil, ErrTooLarge
	}
	if err != nil && (err != io.EOF || len(line) == 0) {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
}
