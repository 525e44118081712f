package rest

import (
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
		data = []byte(`{"event":"RunError","content":"unrenderable event"}`)
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

// eventSource adapts a core.Stream to the SSE pump.
type eventSource struct {
	stream *core.Stream
	failed bool
}

func (s *eventSource) Next(ctx context.Context) (httptransport.Frame, error) {
	return s.NextWithin(ctx, -1)
}

// NextWithin implements httptransport.WaitingSource.
func (s *eventSource) NextWithin(ctx context.Context, d time.Duration) (httptransport.Frame, error) {
	if s.failed {
		return nil, io.EOF
	}
	ev, ok, err := s.stream.NextWithin(ctx, d)
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
	return RenderEvent(&ev), nil
}

func (s *eventSource) Close() { _ = s.stream.Close() }
