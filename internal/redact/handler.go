package redact

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// Handler is a slog.Handler that redacts every record before the wrapped
// handler sees it: the message and each string-like attribute value go
// through Text, each occurrence of a configured secret is masked, and a
// string value under a sensitive key (password, token, authorization...)
// is masked whole. It is the safety net under the call sites, which log
// redacted values themselves.
type Handler struct {
	next    slog.Handler
	secrets []string // longest first
}

// minSecretLen is the shortest configured value masked wherever it
// appears (a shorter one would mask ordinary words).
const minSecretLen = 6

// NewHandler wraps next; secrets are values masked wherever they appear
// (database passwords, keys, tokens).
func NewHandler(next slog.Handler, secrets []string) *Handler {
	var s []string
	for _, v := range secrets {
		if v = strings.TrimSpace(v); len(v) >= minSecretLen && !slices.Contains(s, v) {
			s = append(s, v)
		}
	}
	slices.SortFunc(s, func(a, b string) int { return len(b) - len(a) })
	return &Handler{next: next, secrets: s}
}

func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.attr(a)
	}
	return &Handler{next: h.next.WithAttrs(red), secrets: h.secrets}
}

func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), secrets: h.secrets}
}

// String redacts s: the configured secrets, then Text.
func (h *Handler) String(s string) string {
	for _, v := range h.secrets {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return Text(s)
}

func (h *Handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if SensitiveKey(a.Key) && v.String() != "" {
			return slog.String(a.Key, Mask)
		}
		return slog.String(a.Key, h.String(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = h.attr(ga)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		var s string
		switch x := v.Any().(type) {
		case nil:
			return a
		case error:
			s = x.Error()
		case fmt.Stringer:
			s = x.String()
		case []byte:
			s = string(x)
		default:
			s = fmt.Sprintf("%+v", x)
		}
		if SensitiveKey(a.Key) && s != "" {
			return slog.String(a.Key, Mask)
		}
		return slog.String(a.Key, h.String(s))
	}
	return slog.Attr{Key: a.Key, Value: v}
}
