package riverqueue

import (
	"context"
	"log/slog"
)

// quietHandler passes River's records on with Info lowered to Debug: River
// logs its periodic housekeeping (leader election, maintenance services,
// producers starting) at Info, which is noise in an operator's log. Warnings
// and errors pass unchanged.
type quietHandler struct{ h slog.Handler }

// quiet returns a logger for River on top of l's handler.
func quiet(l *slog.Logger) *slog.Logger { return slog.New(quietHandler{l.Handler()}) }

func lower(l slog.Level) slog.Level {
	if l > slog.LevelDebug && l < slog.LevelWarn {
		return slog.LevelDebug
	}
	return l
}

func (q quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return q.h.Enabled(ctx, lower(l))
}

func (q quietHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = lower(r.Level)
	return q.h.Handle(ctx, r)
}

func (q quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietHandler{q.h.WithAttrs(attrs)}
}

func (q quietHandler) WithGroup(name string) slog.Handler { return quietHandler{q.h.WithGroup(name)} }
