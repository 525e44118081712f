package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// RenderEvent renders one event as an SSE frame:
//
//	id: <event_index>
//	event: <EventType>
//	data: <compact JSON of the event>
//
// The JSON is goccy/go-json's, which writes encoding/json's text
// (TestRenderEventAsEncodingJSON) in a fraction of its time: an event is
// rendered once per subscriber, at a model's token rate.
func RenderEvent(ev *core.Event) []byte {
	data, err := gojson.Marshal(eventWithMediaURLs(ev))
	if err != nil { // an Event always marshals; keep the stream well-formed anyway
		data = []byte(unrenderable)
	}
	b := make([]byte, 0, len(data)+64)
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, ev.EventIndex, 10)
	b = append(b, "\nevent: "...)
	b = append(b, ev.Event...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	b = append(b, "\n\n"...)
	return b
}

// unrenderable is the data of an event that does not marshal.
const unrenderable = `{"event":"RunError","content":"unrenderable event"}`

// RenderError renders a stream failure (for example a cursor overtaken by
// trimming) as a final "error" frame, so a client never sees a silent gap.
func RenderError(err error) []byte {
	body := errorBody(err)
	data, _ := json.Marshal(body)
	b := make([]byte, 0, len(data)+24)
	b = append(b, "event: error\ndata: "...)
	b = append(b, data...)
	b = append(b, "\n\n"...)
	return b
}

func errorBody(err error) httptransport.ErrorBody {
	body := httptransport.ErrorBody{Detail: core.MessageOf(err)}
	var ge *core.GoneError
	if errors.As(err, &ge) {
		idx := ge.FirstIndex
		body.FirstAvailableIndex = &idx
	}
	var ape *core.ApprovalPendingError
	if errors.As(err, &ape) {
		body.ApprovalID = ape.ApprovalID
	}
	return body
}

// eventSource adapts a core.Stream to the SSE writer. It renders each
// event into one buffer of its own (frame), through one encoder, from one
// Event (ev): at a model's token rate a stream allocates no frame, JSON
// copy or event per token.
type eventSource struct {
	stream *core.Stream
	failed bool
	ev     core.Event
	frame  bytes.Buffer
	enc    *gojson.Encoder // writes to frame
}

// NextWithin implements httptransport.Source: the frame is valid until
// the next call.
func (s *eventSource) NextWithin(ctx context.Context, d time.Duration) (httptransport.Frame, error) {
	if s.failed {
		return nil, io.EOF
	}
	var ok bool
	var err error
	s.ev, ok, err = s.stream.NextWithin(ctx, d)
	if errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		s.failed = true
		return RenderError(err), nil
	}
	if !ok {
		return nil, nil
	}
	return s.render(&s.ev), nil
}

// render is RenderEvent into s.frame.
func (s *eventSource) render(ev *core.Event) []byte {
	if s.enc == nil {
		s.enc = gojson.NewEncoder(&s.frame) // HTML-escaped, as gojson.Marshal
	}
	if s.frame.Cap() > 64<<10 { // after a large event
		s.frame = bytes.Buffer{}
	}
	s.frame.Reset()
	b := s.frame.AvailableBuffer()
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, ev.EventIndex, 10)
	b = append(b, "\nevent: "...)
	b = append(b, ev.Event...)
	b = append(b, "\ndata: "...)
	s.frame.Write(b)
	// The encoder ends the JSON with a newline, as the frame does.
	if err := s.enc.Encode(eventWithMediaURLs(ev)); err != nil {
		s.frame.Truncate(len(b))
		s.frame.WriteString(unrenderable + "\n")
	}
	s.frame.WriteByte('\n')
	return s.frame.Bytes()
}

func (s *eventSource) Close() { _ = s.stream.Close() }
