package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/agentgate/agentgate/internal/sse"
)

// maxEventBytes bounds one SSE frame of the remote.
const maxEventBytes = 4 << 20

// errEventTooLarge is stream's error for a frame over maxEventBytes.
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
	each func(sse.Event) (done bool, err error), onJSON func([]byte) error) error {
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
	events := sse.NewReader(&idleReader{r: resp.Body, timer: timer, d: a.cfg.Timeout}, 64<<10, maxEventBytes)
	for {
		ev, err := events.Next()
		if err != nil {
			switch {
			case errors.Is(err, sse.ErrTooLarge):
				// Read whole before the idle timer could say otherwise.
				return errEventTooLarge
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
