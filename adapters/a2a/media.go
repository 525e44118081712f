package a2a

import (
	"context"
	"log/slog"

	"github.com/agentgate/agentgate/core"
)

// MaxInlineMedia bounds the bytes of one produced medium given inline in a
// file part (v1.0 raw, v0.3 bytes); a larger one is given by the URL of
// the session's media route.
const MaxInlineMedia = 4 << 20

// inlineMedia completes the file parts of artifacts: those of at most
// limit bytes get their bytes from the media store, every other keeps the
// media route, made absolute under base (when given). A medium that
// cannot be read keeps its URL (logged).
func inlineMedia(ctx context.Context, store core.MediaOpener, base string, limit int64, log *slog.Logger, arts []Artifact) {
	for i := range arts {
		for j := range arts[i].Parts {
			f := arts[i].Parts[j].File
			if f == nil || f.Raw != nil {
				continue
			}
			nf := *f
			if len(nf.URL) > 0 && nf.URL[0] == '/' {
				nf.URL = base + nf.URL
			}
			if store != nil && f.Size > 0 && f.Size <= limit {
				b, err := core.ReadMedia(ctx, store, f.ID, limit)
				if err == nil && int64(len(b)) <= limit {
					nf.Raw = b
				} else {
					log.Warn("a2a: a medium of the run could not be read: given by its URL", "media_id", f.ID, "error", err)
				}
			}
			arts[i].Parts[j].File = &nf
		}
	}
}

// withMedia completes the file parts of a task's artifacts (see
// inlineMedia) and returns it.
func (h *Handler) withMedia(ctx context.Context, base string, t *Task) *Task {
	inlineMedia(ctx, h.mediaStore(), base, MaxInlineMedia, h.logger, t.Artifacts)
	return t
}

// itemMedia completes the file parts of a stream item.
func (h *Handler) itemMedia(ctx context.Context, base string, it StreamItem) StreamItem {
	return completeItem(ctx, h.mediaStore(), base, MaxInlineMedia, h.logger, it)
}

// completeItem completes the file parts of a stream item (see
// inlineMedia; with a nil store, their URLs are only made absolute).
func completeItem(ctx context.Context, store core.MediaOpener, base string, limit int64, log *slog.Logger, it StreamItem) StreamItem {
	switch {
	case it.Task != nil:
		inlineMedia(ctx, store, base, limit, log, it.Task.Artifacts)
	case it.Artifact != nil:
		inlineMedia(ctx, store, base, limit, log, []Artifact{it.Artifact.Artifact})
	}
	return it
}

func (h *Handler) mediaStore() core.MediaOpener {
	if h.cfg.Media == nil || h.cfg.Media.Store == nil {
		return nil
	}
	return h.cfg.Media.Store
}

// task is the A2A task of a stored run, its file parts completed.
func (h *Handler) task(cl *call, run *core.Run, view TaskView) *Task {
	return h.withMedia(cl.ctx, h.baseURL(cl.c), TaskFromRun(run, view))
}
