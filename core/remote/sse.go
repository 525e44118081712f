package remote

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// sseEvent is one Server-Sent Events frame (comments are skipped).
type sseEvent struct {
	Event string
	Data  []byte
}

// maxEventBytes bounds one SSE frame of the remote.
const maxEventBytes = 4 << 20

// errEventTooLarge is readLine's error for a frame over maxEventBytes.
var errEventTooLarge = fmt.Errorf("an event of the remote is larger than %d bytes", maxEventBytes)

// errStreamEnded is returned by stream when the remote closed its stream
// before the callback said it was done.
var errStreamEnded = errors.New("the remote closed the stream before the run ended")

// stream sends req (built by build with the context it is given) and calls
// each for every SSE frame of the answer until each returns done. The
// remote's silence for longer than the timeout ends it with an error, as
// does an answer that is not an event stream, or a stream that closes
// before done. An answer that is not an event stream but JSON is passed to
// onJSON when set (a remote answering a streamed call in one piece).
func (a *Agent) stream(ctx context.Context, build func(context.Context) (*http.Request, error),
	each func(sseEvent) (done bool, err error), onJSON func([]byte) error) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := build(rctx)
	if err != nil {
		return err
	}
	a.setHeaders(req)
	req.Header.Set("Accept", "text/event-stream")
	var silent atomic.Bool
	timer := time.AfterFunc(a.cfg.Timeout, func() { silent.Store(true); cancel() })
	defer timer.Stop()
	resp, err := a.client.Do(req)
	if err != nil {
		// The timer or the client's own header timeout (the same bound)
		// may fire first: either way the remote did not answer in time.
		var ne net.Error
		if ctx.Err() == nil && (silent.Load() || (errors.As(err, &ne) && ne.Timeout())) {
			return fmt.Errorf("no answer from the remote in %s", a.cfg.Timeout)
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return statusError(resp)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "text/event-stream" {
		if onJSON != nil && (mt == "application/json" || mt == "application/a2a+json") {
			b, err := readBody(resp)
			if err != nil {
				return err
			}
			return onJSON(b)
		}
		return fmt.Errorf("the remote answered %q, not an event stream", resp.Header.Get("Content-Type"))
	}
	timer.Reset(a.cfg.Timeout)
	br := bufio.NewReaderSize(&idleReader{r: resp.Body, timer: timer, d: a.cfg.Timeout}, 64<<10)
	for {
		ev, err := readEvent(br)
		if err != nil {
			switch {
			case errors.Is(err, errEventTooLarge):
				// Read whole before the idle timer could say otherwise.
				return err
			case silent.Load() && ctx.Err() == nil:
				return fmt.Errorf("the remote sent nothing for %s", a.cfg.Timeout)
			case errors.Is(err, io.EOF):
				return errStreamEnded
			}
			return err
		}
		done, err := each(ev)
		if err != nil || done {
			return err
		}
	}
}

// idleReader restarts timer whenever bytes arrive.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.timer.Reset(r.d)
	}
	return n, err
}

// readEvent reads the next frame that has data (comments and frames with
// no data, such as heartbeats, are skipped). io.EOF: the stream ended.
func readEvent(br *bufio.Reader) (sseEvent, error) {
	var ev sseEvent
	var data bytes.Buffer
	hasData := false
	size := 0
	for {
		line, err := readLine(br, maxEventBytes-size)
		if err != nil {
			if errors.Is(err, io.EOF) && hasData {
				ev.Data = data.Bytes()
				return ev, nil // a last frame without its blank line
			}
			return sseEvent{}, err
		}
		size += len(line)
		if len(line) == 0 {
			if hasData {
				ev.Data = data.Bytes()
				return ev, nil
			}
			ev = sseEvent{}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			ev.Event = string(value)
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.Write(value)
			hasData = true
		}
	}
}

// readLine reads one line without its end (\n, \r\n), at most limit bytes.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > limit {
			return nil, errEventTooLarge
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) > 0 {
				return bytes.TrimRight(line, "\r\n"), nil
			}
			return nil, err
		}
		return bytes.TrimRight(line, "\r\n"), nil
	}
}
