package media

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/agentgate/agentgate/core"
)

// Source is a medium as an interface received it: its bytes (Data), or a
// URL to fetch them from, with the name and content type the sender gave.
type Source struct {
	Name     string
	MIMEType string
	Data     []byte
	URL      string
	// Field names where the source came from, for errors ("files",
	// "images[0]", "parts[1]").
	Field string
}

// Resolver turns the media a run is sent into stored media: checked,
// bounded and stored once, before the run starts. URLs are fetched with
// Client, which must refuse what the gateway may not reach (the egress
// guard: private, loopback and link-local addresses).
type Resolver struct {
	Store  Store
	Client *http.Client
	Limits Limits
	// MaxRunBytes bounds all of a run's media (0: 4 × Limits' MaxBytes).
	MaxRunBytes int64
}

// MaxSources bounds the media of one run.
const MaxSources = 32

func (r *Resolver) maxRun() int64 {
	if r.MaxRunBytes > 0 {
		return r.MaxRunBytes
	}
	return 4 * r.Limits.maxBytes()
}

// Resolve stores srcs and returns their references, in order. A bad
// medium is the caller's error (invalid, 400, or too large, 413) naming
// it; nothing of a refused run is left referenced.
func (r *Resolver) Resolve(ctx context.Context, srcs []Source) ([]core.MediaRef, error) {
	return r.NewUpload().Resolve(ctx, srcs)
}

// Upload is one run's media as they arrive: files streamed into the store
// as they are read (AddStream), then the sources Resolve takes, all of
// them under the per-file and per-run limits.
type Upload struct {
	r     *Resolver
	total int64
	refs  []core.MediaRef
	// keep: the spooled bytes of every medium stay (spools, by id) until
	// Close, for RestoreMedia.
	keep   bool
	mu     sync.Mutex
	spools map[string]*os.File
}

// NewUpload starts a run's media (r may be nil: a gateway without media).
func (r *Resolver) NewUpload() *Upload { return &Upload{r: r} }

// Restorable makes the upload keep each medium's spooled bytes until Close,
// so that it can store them again (RestoreMedia: a core.MediaRestorer, the
// run's StartParams.MediaSource). The caller must Close it.
func (u *Upload) Restorable() *Upload {
	u.keep = true
	return u
}

// IDs returns the ids of the media stored so far, in order (a refused
// run's, whose bytes the caller deletes unless a session carries them:
// core.Engine.DeleteUnreferencedMedia).
func (u *Upload) IDs() []string {
	out := make([]string, len(u.refs))
	for i, m := range u.refs {
		out[i] = m.ID
	}
	return out
}

// RestoreMedia implements core.MediaRestorer for a Restorable upload: m,
// one of its media, is stored again from its spooled bytes.
func (u *Upload) RestoreMedia(ctx context.Context, m core.MediaRef) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	f := u.spools[m.ID]
	if f == nil {
		return fmt.Errorf("media: %s is not one of the upload's kept media", m.ID)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("media: spool: %w", err)
	}
	return u.r.Store.Put(ctx, m.ID, f, m.Size)
}

// Close removes the spooled bytes a Restorable upload kept; the upload
// restores nothing after it. It may be called more than once, and on a
// nil upload (nothing).
func (u *Upload) Close() error {
	if u == nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	var errs []error
	for id, f := range u.spools {
		f.Close()
		if err := os.Remove(f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		delete(u.spools, id)
	}
	return errors.Join(errs...)
}

// UnreferencedDeleter deletes stored media that no session carries
// (core.Engine.DeleteUnreferencedMedia, which holds off a concurrent
// record of the same media while it deletes).
type UnreferencedDeleter interface {
	DeleteUnreferencedMedia(ctx context.Context, ids []string) error
}

// End ends a run request's upload, whatever the interface: its kept spools
// are removed (Close) and, unless the run was started (started: its media
// were recorded, which core.Engine.Start, StartStream, RunBlocking,
// Continue and ContinueStream do before they return), the bytes it stored
// are deleted again where no session carries them; a medium another
// session has (the same bytes) stays. del may be nil (nothing is
// deleted), and so may u (nothing).
// A failed delete leaves the bytes unreferenced (the engine logs it).
func (u *Upload) End(ctx context.Context, del UnreferencedDeleter, started bool) {
	if u == nil {
		return
	}
	defer u.Close()
	if started || del == nil {
		return
	}
	if ids := u.IDs(); len(ids) > 0 {
		_ = del.DeleteUnreferencedMedia(context.WithoutCancel(ctx), ids)
	}
}

// ingest stores one medium, keeping its spool when the upload is
// Restorable.
func (u *Upload) ingest(ctx context.Context, rd io.Reader, name, declared string, lim Limits) (Media, error) {
	m, spool, err := ingest(ctx, u.r.Store, rd, name, declared, lim, u.keep)
	if err != nil || spool == nil {
		return m, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.spools == nil {
		u.spools = map[string]*os.File{}
	}
	if _, dup := u.spools[m.ID]; dup {
		spool.Close()
		os.Remove(spool.Name())
	} else {
		u.spools[m.ID] = spool
	}
	return m, nil
}

func (u *Upload) check(more int) error {
	if u.r == nil || u.r.Store == nil {
		return core.Errorf(core.CodeInvalid, "this gateway keeps no media: files, images, audio and video are not accepted")
	}
	if n := len(u.refs) + more; n > MaxSources {
		return core.Errorf(core.CodeInvalid, "%d media: at most %d per run", n, MaxSources)
	}
	return nil
}

// Room is the most the next medium may be: the per-file limit, and what
// is left of the run's (0 or less: nothing more fits).
func (u *Upload) Room() (perFile, run int64) {
	return u.r.Limits.maxBytes(), u.r.maxRun() - u.total
}

// AddStream stores the medium read from rd, refused as soon as its bytes
// pass the per-file limit or what is left of the run's (a core too-large
// error, 413, naming it): it is spooled while it is read and stored only
// when whole and checked, never held in memory.
func (u *Upload) AddStream(ctx context.Context, rd io.Reader, name, declared string) error {
	if err := u.check(1); err != nil {
		return err
	}
	maxRun := u.r.maxRun()
	room := maxRun - u.total
	if room <= 0 {
		return core.Errorf(core.CodeTooLarge, "file %q: the run's media are over the limit of %d bytes together", name, maxRun)
	}
	lim := u.r.Limits
	byRun := room < lim.maxBytes()
	if byRun {
		lim.MaxBytes = room
	}
	m, err := u.ingest(ctx, rd, name, declared, lim)
	if err != nil {
		if byRun && core.CodeOf(err) == core.CodeTooLarge {
			return core.Errorf(core.CodeTooLarge, "file %q: the run's media are over the limit of %d bytes together", name, maxRun)
		}
		return err
	}
	u.total += m.Size
	u.refs = append(u.refs, m)
	return nil
}

// Resolve stores srcs too and returns the references of all the run's
// media, in order: those streamed in first.
func (u *Upload) Resolve(ctx context.Context, srcs []Source) ([]core.MediaRef, error) {
	if len(srcs) == 0 {
		if len(u.refs) == 0 {
			return nil, nil
		}
		return u.refs, nil
	}
	if err := u.check(len(srcs)); err != nil {
		return nil, err
	}
	total := u.total
	for _, s := range srcs {
		total += int64(len(s.Data))
	}
	maxRun := u.r.maxRun()
	if total > maxRun {
		return nil, core.Errorf(core.CodeTooLarge, "the run's media are %d bytes together, over the limit of %d bytes", total, maxRun)
	}
	for _, s := range srcs {
		var m Media
		var err error
		if s.URL != "" && s.Data == nil {
			m, err = u.fetch(ctx, s, maxRun-total)
		} else {
			m, err = u.ingest(ctx, bytes.NewReader(s.Data), s.Name, s.MIMEType, u.r.Limits)
		}
		if err != nil {
			if s.Field != "" && s.Field != "files" {
				return nil, core.Errorf(core.CodeOf(err), "%s: %s", s.Field, core.MessageOf(err))
			}
			return nil, err
		}
		if s.URL != "" && s.Data == nil {
			total += m.Size
		}
		u.refs = append(u.refs, m)
	}
	u.total = total
	return u.refs, nil
}

// fetch downloads a URL medium (at most room bytes more for the run).
func (u *Upload) fetch(ctx context.Context, s Source, room int64) (Media, error) {
	r := u.r
	pu, err := url.Parse(s.URL)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return Media{}, core.Errorf(core.CodeInvalid, "media URL %q: want an http or https URL", s.URL)
	}
	if r.Client == nil {
		return Media{}, core.Errorf(core.CodeInvalid, "media URL %q: this gateway fetches no URLs", s.URL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return Media{}, core.Errorf(core.CodeInvalid, "media URL %q: %v", s.URL, err)
	}
	resp, err := r.Client.Do(req)
	if err != nil {
		return Media{}, core.Errorf(core.CodeInvalid, "media URL %q could not be fetched: %v", s.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return Media{}, core.Errorf(core.CodeInvalid, "media URL %q answered %s", s.URL, resp.Status)
	}
	name := s.Name
	if name == "" {
		name = path.Base(pu.Path)
		if name == "/" || name == "." {
			name = pu.Host
		}
	}
	mt := s.MIMEType
	if mt == "" {
		mt = resp.Header.Get("Content-Type")
	}
	lim := r.Limits
	if room < lim.maxBytes() {
		lim.MaxBytes = max(room, 1)
	}
	m, err := u.ingest(ctx, resp.Body, name, mt, lim)
	if err != nil {
		if core.CodeOf(err) == core.CodeTooLarge {
			return Media{}, core.Errorf(core.CodeTooLarge, "media URL %q: over the limit of %d bytes", s.URL, lim.MaxBytes)
		}
		return Media{}, err
	}
	return m, nil
}

// JSONMedia is one medium of AgentOS's JSON media fields (images, audio,
// videos, files): a URL, or the bytes in base64 (content), with the
// optional name and type. A plain string is a URL, or a data: URL.
type JSONMedia struct {
	URL      string `json:"url,omitempty"`
	Content  string `json:"content,omitempty"`
	MIMEType string `json:"mime_type,omitempty"`
	Format   string `json:"format,omitempty"`
	Filename string `json:"filename,omitempty"`
	Name     string `json:"name,omitempty"`
}

// ParseJSONMedia reads a JSON media field: a list of objects (JSONMedia)
// or strings (URLs, data: URLs), or one of them. field names it in errors.
func ParseJSONMedia(field, raw string) ([]Source, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	var items []json.RawMessage
	if strings.HasPrefix(raw, "[") {
		if err := json.Unmarshal([]byte(raw), &items); err != nil {
			return nil, core.Errorf(core.CodeInvalid, "%s: want a JSON list of media ({url} or {content: base64, mime_type}): %v", field, err)
		}
	} else if strings.HasPrefix(raw, "{") || strings.HasPrefix(raw, `"`) {
		items = []json.RawMessage{json.RawMessage(raw)}
	} else {
		items = []json.RawMessage{mustJSON(raw)}
	}
	if len(items) > MaxSources {
		return nil, core.Errorf(core.CodeInvalid, "%s: %d media, at most %d", field, len(items), MaxSources)
	}
	out := make([]Source, 0, len(items))
	for i, it := range items {
		where := fmt.Sprintf("%s[%d]", field, i)
		var jm JSONMedia
		var s string
		if err := json.Unmarshal(it, &s); err == nil {
			jm.URL = s
		} else if err := json.Unmarshal(it, &jm); err != nil {
			return nil, core.Errorf(core.CodeInvalid, "%s: want {url} or {content, mime_type}: %v", where, err)
		}
		src, err := jm.source(where)
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, nil
}

func mustJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

func (jm JSONMedia) source(where string) (Source, error) {
	src := Source{Field: where, MIMEType: jm.MIMEType, Name: jm.Filename}
	if src.Name == "" {
		src.Name = jm.Name
	}
	if src.MIMEType == "" && jm.Format != "" && !strings.Contains(jm.Format, "/") {
		src.Name = strings.TrimSuffix(orDefault(src.Name, "media"), "."+jm.Format) + "." + jm.Format
	}
	switch {
	case jm.Content != "" && jm.URL != "":
		return Source{}, core.Errorf(core.CodeInvalid, "%s: give url or content, not both", where)
	case jm.Content != "":
		data, err := decodeBase64(jm.Content)
		if err != nil {
			return Source{}, core.Errorf(core.CodeInvalid, "%s: content is not base64: %v", where, err)
		}
		src.Data = data
	case strings.HasPrefix(jm.URL, "data:"):
		mt, data, err := DecodeDataURL(jm.URL)
		if err != nil {
			return Source{}, core.Errorf(core.CodeInvalid, "%s: %v", where, err)
		}
		src.Data = data
		if src.MIMEType == "" {
			src.MIMEType = mt
		}
	case jm.URL != "":
		src.URL = jm.URL
	default:
		return Source{}, core.Errorf(core.CodeInvalid, "%s: give url or content", where)
	}
	if src.Name == "" && src.URL == "" {
		src.Name = strings.ReplaceAll(where, "[", "-")
		src.Name = strings.TrimSuffix(src.Name, "]")
	}
	return src, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// decodeBase64 reads standard or URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	_, err := base64.StdEncoding.DecodeString(s)
	return nil, err
}

// DecodeDataURL reads a base64 data: URL ("data:image/png;base64,…").
func DecodeDataURL(u string) (mimeType string, data []byte, err error) {
	rest, ok := strings.CutPrefix(u, "data:")
	meta, payload, ok2 := strings.Cut(rest, ",")
	if !ok || !ok2 {
		return "", nil, fmt.Errorf("not a data: URL")
	}
	mt, isB64 := strings.CutSuffix(meta, ";base64")
	if !isB64 {
		dec, err := url.PathUnescape(payload)
		if err != nil {
			return "", nil, fmt.Errorf("data: URL: %v", err)
		}
		return mt, []byte(dec), nil
	}
	b, err := decodeBase64(payload)
	if err != nil {
		return "", nil, fmt.Errorf("data: URL is not base64: %v", err)
	}
	return mt, b, nil
}
