package rest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/media"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// ingestFiles stores a run form's media in the media store: its file
// parts and AgentOS's JSON media fields (images, audio, videos,
// input_files: URLs, data: URLs or base64 content), each checked (type,
// bytes, size) before the run starts, so a bad medium is the request's
// error, not the run's. up holds the files a streamed form stored as they
// arrived (readForm); its media come first.
func (h *Handler) ingestFiles(ctx context.Context, up *media.Upload, files []FormFile, form Form) ([]core.MediaRef, error) {
	var srcs []media.Source
	for _, f := range files {
		srcs = append(srcs, media.Source{Name: f.Name, MIMEType: f.ContentType, Data: f.Body, Field: f.Field})
	}
	for _, field := range jsonMediaFields {
		more, err := media.ParseJSONMedia(field, form[field])
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, more...)
	}
	return up.Resolve(ctx, srcs)
}

// jsonMediaFields are AgentOS's JSON media fields of a run form.
var jsonMediaFields = []string{"images", "audio", "videos", "input_files"}

// mediaIDs is the part of an idempotent request its media make.
func mediaIDs(refs []core.MediaRef) string {
	if len(refs) == 0 {
		return ""
	}
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	return ";media=" + strings.Join(ids, ",")
}

// mediaURL is where a session's medium is served.
func mediaURL(sessionID, id string) string { return "/sessions/" + sessionID + "/media/" + id }

// withMediaURLs is r with the URLs of its media set (a copy when it has
// any): its input's and those it produced.
func withMediaURLs(r *core.Run) *core.Run {
	in, produced := r.Input.Media(), r.RunMedia.All()
	if (in == nil && produced == nil) || r.SessionID == "" {
		return r
	}
	out := *r
	if in != nil {
		out.Input = core.NewRunInput(r.Input.InputContent, withURLs(r.SessionID, in).All())
	}
	if produced != nil {
		out.RunMedia = withURLs(r.SessionID, produced)
	}
	return &out
}

// withURLs files media by kind with their URLs in the session set (media
// is the caller's copy).
func withURLs(sessionID string, media []core.MediaRef) core.RunMedia {
	var o core.RunMedia
	for _, m := range media {
		m.URL = mediaURL(sessionID, m.ID)
		o.Add(m)
	}
	return o
}

// eventWithMediaURLs is ev with the URLs of the media it carries set (a
// copy when it carries any).
func eventWithMediaURLs(ev *core.Event) *core.Event {
	if ev.EventDetail == nil || ev.SessionID == "" {
		return ev
	}
	media := ev.EventDetail.RunMedia.All()
	if media == nil {
		return ev
	}
	out, detail := *ev, *ev.EventDetail
	detail.RunMedia = withURLs(ev.SessionID, media)
	out.EventDetail = &detail
	return &out
}

func (h *Handler) mediaRoutes() []Route {
	return []Route{{Operation: huma.Operation{OperationID: "get-session-media", Method: http.MethodGet, Path: "/sessions/{session_id}/media/{media_id}",
		Summary:     "Get a medium of a session",
		Description: "The bytes of a file, image, audio or video a run of the session carried, with its content type; single byte ranges (Range: bytes=a-b) are answered 206.",
		Tags:        []string{"Sessions"},
		Parameters: []*huma.Param{
			{Name: "session_id", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}},
			{Name: "media_id", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}, Description: "The SHA-256 of the medium's bytes (hex): the id the run's input lists."},
			{Name: "Range", In: "header", Schema: &huma.Schema{Type: "string"}, Description: "One byte range, bytes=first-last (or -suffix)."},
		}},
		DBScoped: true, Access: scoped(auth.ResourceSessions, auth.ActionRead, "session_id"), Owner: OwnerBound, Errors: []int{404, 416},
		Raw: h.sessionMedia, Resp: rawBytes{}}}
}

// sessionMedia serves a medium of a session: found only when the session
// (the caller's, under isolation) carries it.
func (h *Handler) sessionMedia(c *fiber.Ctx) error {
	ctx := c.UserContext()
	sid, id := c.Params("session_id"), c.Params("media_id")
	if _, err := h.session(ctx, sid); err != nil {
		return fail(c, err)
	}
	ref, err := h.sessionMediaRef(ctx, sid, id)
	if err != nil {
		return fail(c, err)
	}
	if h.cfg.Media == nil || h.cfg.Media.Store == nil {
		return fail(c, core.Errorf(core.CodeNotFound, "media %q not found", id))
	}
	rc, size, err := h.cfg.Media.Store.Open(ctx, id)
	if err != nil {
		return fail(c, err)
	}
	c.Set(fiber.HeaderContentType, ref.MIMEType)
	c.Set(fiber.HeaderAcceptRanges, "bytes")
	c.Set(fiber.HeaderETag, `"`+id+`"`)
	c.Set(fiber.HeaderCacheControl, "private, max-age=31536000, immutable")
	if ref.Name != "" {
		c.Set(fiber.HeaderContentDisposition, `inline; filename="`+strings.NewReplacer(`"`, "", "\\", "", "\r", "", "\n", "").Replace(ref.Name)+`"`)
	}
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm == `"`+id+`"` {
		rc.Close()
		return c.SendStatus(http.StatusNotModified)
	}
	start, end, partial, err := byteRange(c.Get(fiber.HeaderRange), size)
	if err != nil {
		rc.Close()
		c.Set(fiber.HeaderContentRange, "bytes */"+strconv.FormatInt(size, 10))
		return httptransport.WriteError(c, http.StatusRequestedRangeNotSatisfiable, httptransport.ErrorBody{Detail: err.Error()})
	}
	if partial {
		if _, err := rc.Seek(start, io.SeekStart); err != nil {
			rc.Close()
			return fail(c, err)
		}
		c.Status(http.StatusPartialContent)
		c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes %d-%d/%d", start, end, size))
	}
	n := end - start + 1
	if size == 0 {
		n = 0
	}
	// fasthttp closes the stream when it has sent it.
	c.Context().SetBodyStream(struct {
		io.Reader
		io.Closer
	}{io.LimitReader(rc, n), rc}, int(n))
	return nil
}

// sessionMediaRef finds medium id among the session's media records.
func (h *Handler) sessionMediaRef(ctx context.Context, sid, id string) (core.MediaRef, error) {
	if !media.ValidKey(id) {
		return core.MediaRef{}, core.Errorf(core.CodeNotFound, "media %q not found in session %q", id, sid)
	}
	m, err := h.eng.SessionMedia(ctx, sid, id)
	if err != nil {
		return core.MediaRef{}, err
	}
	return *m, nil
}

// rawBytes documents a route answering raw bytes (documentRaw).
type rawBytes struct{}

// rangeError is a Range the medium cannot answer (416).
type rangeError struct{ msg string }

func (e rangeError) Error() string { return e.msg }

// byteRange reads a Range header of one byte range against size: the
// inclusive range to send and whether it is partial. No header, another
// unit or several ranges send everything (as RFC 9110 allows); a range
// that starts past the end is an error (416).
func byteRange(h string, size int64) (start, end int64, partial bool, err error) {
	all := func() (int64, int64, bool, error) { return 0, max(size-1, 0), false, nil }
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return all()
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return all()
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	switch {
	case first == "" && last == "": // "bytes=-"
		return all()
	case first == "": // the last n bytes
		n, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil || n <= 0 {
			return all()
		}
		if size == 0 {
			return 0, 0, false, rangeError{"range not satisfiable: the medium is empty"}
		}
		return max(size-n, 0), size - 1, true, nil
	}
	s, perr := strconv.ParseInt(first, 10, 64)
	if perr != nil || s < 0 {
		return all()
	}
	if s >= size {
		return 0, 0, false, rangeError{fmt.Sprintf("range not satisfiable: byte %d of a %d-byte medium", s, size)}
	}
	e := size - 1
	if last != "" {
		v, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil || v < s {
			return all()
		}
		e = min(v, size-1)
	}
	return s, e, true, nil
}
