package knowledge

// The service: knowledge bases over a Store. Add stores a content as
// processing (its raw bytes stashed in the BlobStore, so any replica can
// ingest it) and enqueues its ingestion; Ingest is that job's body (fetch
// → read → chunk → embed → CompleteContent); Search runs keyword, vector
// or hybrid (reciprocal-rank fusion) searches.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/core"
)

// BlobStore keeps the raw bytes of contents until they are ingested (keyed
// by content id), so that the replica that works the ingestion job need
// not be the one that took the upload.
type BlobStore interface {
	// PutBlob stores data under key, replacing any there.
	PutBlob(ctx context.Context, key string, data []byte) error
	// GetBlob returns them (core.ErrNotFound, wrapped, when none).
	GetBlob(ctx context.Context, key string) ([]byte, error)
	// DeleteBlob removes them; no error when there are none.
	DeleteBlob(ctx context.Context, key string) error
}

// Readers finds the reader of a content (core/knowledge/reader's
// Registry).
type Readers interface {
	Get(id string) (Reader, error)
	For(name, contentType string) (Reader, error)
	All() []Reader
	ForType() map[string][]string
}

// Chunkers finds a chunker by id (core/knowledge/chunk's Registry).
type Chunkers interface {
	Get(id string) (Chunker, error)
	All() []Chunker
}

// Base is one configured knowledge base.
type Base struct {
	ID          string
	Name        string
	Description string
	// Embedder embeds chunks and queries; nil: keyword search only.
	Embedder Embedder
	// Chunker, ChunkSize and ChunkOverlap are the defaults of its
	// contents (a request may override them).
	Chunker      string
	ChunkSize    int
	ChunkOverlap int
	// MaxUploadSize bounds a content's raw bytes (default
	// DefaultMaxUploadSize).
	MaxUploadSize int64
	// AllowPrivateURLs lets URL ingestion reach private, loopback and
	// link-local addresses.
	AllowPrivateURLs bool
	// SearchType is the default search type (default hybrid with an
	// embedder, keyword without).
	SearchType string
	// Sources are the base's remote content sources (ids unique).
	Sources []Source
}

// SearchTypes are the search types the base serves.
func (b *Base) SearchTypes() []string {
	if b.Embedder == nil {
		return []string{SearchKeyword}
	}
	return []string{SearchVector, SearchKeyword, SearchHybrid}
}

func (b *Base) defaultSearchType() string {
	if b.SearchType != "" {
		return b.SearchType
	}
	if b.Embedder == nil {
		return SearchKeyword
	}
	return SearchHybrid
}

// Defaults.
const (
	DefaultMaxUploadSize = 32 << 20
	DefaultChunker       = "recursive"
	DefaultMaxResults    = 10
	MaxMaxResults        = 1000
	// RRFK is the k of reciprocal-rank fusion: a chunk ranked r by one
	// search scores 1/(RRFK+r) from it.
	RRFK = 60
)

// Fetcher gets a URL's body for ingestion (the wiring's client through the
// egress guard). allowPrivate lets it reach internal addresses. An error
// not worth a retry (a refused address) is wrapped with Final.
type Fetcher func(ctx context.Context, rawURL string, allowPrivate bool) (*http.Response, error)

// ServiceConfig configures a Service.
type ServiceConfig struct {
	Store    Store
	Blobs    BlobStore
	Bases    []Base
	Readers  Readers
	Chunkers Chunkers
	Fetch    Fetcher
	// Enqueue queues the ingestion of a content (the durable queue's
	// insert). nil: Add ingests in a goroutine of this process.
	Enqueue func(ctx context.Context, contentID string) error
	Logger  *slog.Logger
	Now     func() time.Time
}

// Service serves the knowledge bases.
type Service struct {
	cfg   ServiceConfig
	bases map[string]*Base
	order []string
	wg    sync.WaitGroup
}

// NewService checks the bases and returns the service.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Store == nil || cfg.Blobs == nil || cfg.Readers == nil || cfg.Chunkers == nil {
		return nil, errors.New("knowledge: the service needs a store, a blob store, readers and chunkers")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, bases: map[string]*Base{}}
	var errs []error
	for i := range cfg.Bases {
		b := cfg.Bases[i]
		switch {
		case b.ID == "":
			errs = append(errs, fmt.Errorf("knowledge[%d]: id is required", i))
			continue
		case s.bases[b.ID] != nil:
			errs = append(errs, fmt.Errorf("knowledge[%d]: id %q is used twice", i, b.ID))
			continue
		}
		if b.Chunker == "" {
			b.Chunker = DefaultChunker
		}
		if _, err := cfg.Chunkers.Get(b.Chunker); err != nil {
			errs = append(errs, fmt.Errorf("knowledge %q: chunker: %w", b.ID, err))
		}
		if b.MaxUploadSize <= 0 {
			b.MaxUploadSize = DefaultMaxUploadSize
		}
		if b.SearchType != "" && !slices.Contains(b.SearchTypes(), b.SearchType) {
			errs = append(errs, fmt.Errorf("knowledge %q: search_type %q is not one of %v", b.ID, b.SearchType, b.SearchTypes()))
		}
		if b.Name == "" {
			b.Name = b.ID
		}
		srcIDs := map[string]bool{}
		for _, src := range b.Sources {
			if src == nil || src.ID() == "" || srcIDs[src.ID()] || src.ID() == "file" || src.ID() == "text" || src.ID() == "url" {
				errs = append(errs, fmt.Errorf("knowledge %q: a source without an id, reusing one or named file, text or url", b.ID))
				break
			}
			srcIDs[src.ID()] = true
		}
		s.bases[b.ID] = &b
		s.order = append(s.order, b.ID)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Bases lists the knowledge bases in config order.
func (s *Service) Bases() []*Base {
	out := make([]*Base, len(s.order))
	for i, id := range s.order {
		out[i] = s.bases[id]
	}
	return out
}

// Base returns the knowledge base of id; "" is the first one. An unknown
// id is core.ErrNotFound.
func (s *Service) Base(id string) (*Base, error) {
	if id == "" {
		if len(s.order) == 0 {
			return nil, core.Errorf(core.CodeNotFound, "no knowledge base is configured (knowledge: in the config)")
		}
		return s.bases[s.order[0]], nil
	}
	b, ok := s.bases[id]
	if !ok {
		return nil, core.Errorf(core.CodeNotFound, "knowledge base %q not found", id)
	}
	return b, nil
}

// Readers and Chunkers are the registries (for /knowledge/config).
func (s *Service) Readers() Readers   { return s.cfg.Readers }
func (s *Service) Chunkers() Chunkers { return s.cfg.Chunkers }

// Wait waits for the ingestions run in goroutines (no Enqueue) to end.
func (s *Service) Wait() { s.wg.Wait() }

// Upload is a file of an AddRequest.
type Upload struct {
	Name        string
	ContentType string
	Data        []byte
}

// AddRequest is POST /knowledge/content: one of File, Text or URLs.
type AddRequest struct {
	KnowledgeID  string
	Name         string
	Description  string
	Metadata     map[string]any
	ReaderID     string
	Chunker      string
	ChunkSize    int
	ChunkOverlap int
	File         *Upload
	Text         string
	URLs         []string
}

// tooLarge is the error of a content over its base's max_upload_size
// (413).
func tooLarge(b *Base, size int64) error {
	return core.Errorf(core.CodeTooLarge, "the content is %d bytes, over knowledge base %q's max_upload_size of %d", size, b.ID, b.MaxUploadSize)
}

// Add stores the request's contents as processing and enqueues their
// ingestion. A content whose hash a processing or completed content of
// the base already has is not added again: that content is returned.
func (s *Service) Add(ctx context.Context, r AddRequest) ([]*Content, error) {
	b, err := s.Base(r.KnowledgeID)
	if err != nil {
		return nil, err
	}
	if err := s.checkOptions(b, r.ReaderID, r.Chunker, r.ChunkSize, r.ChunkOverlap); err != nil {
		return nil, err
	}
	given := 0
	if r.File != nil {
		given++
	}
	if r.Text != "" {
		given++
	}
	if len(r.URLs) > 0 {
		given++
	}
	if given != 1 {
		return nil, core.Errorf(core.CodeInvalid, "give exactly one of file, text_content or url")
	}
	if len(r.Name) > 255 || len(r.Description) > 1000 {
		return nil, core.Errorf(core.CodeInvalid, "name is at most 255 characters, description at most 1000")
	}
	now := s.cfg.Now().Unix()
	base := Content{KnowledgeID: b.ID, Name: r.Name, Description: r.Description, Metadata: r.Metadata,
		ReaderID: r.ReaderID, Chunker: r.Chunker, ChunkSize: r.ChunkSize, ChunkOverlap: r.ChunkOverlap,
		Status: StatusProcessing, CreatedAt: now, UpdatedAt: now}
	switch {
	case r.File != nil:
		f := r.File
		if int64(len(f.Data)) > b.MaxUploadSize {
			return nil, tooLarge(b, int64(len(f.Data)))
		}
		ct := f.ContentType
		if ct == "" || ct == "application/octet-stream" {
			if t := mime.TypeByExtension(path.Ext(f.Name)); t != "" {
				ct = t
			}
		}
		// A type no reader takes is refused now (415), not at ingestion.
		if r.ReaderID == "" {
			if _, err := s.cfg.Readers.For(f.Name, ct); err != nil {
				return nil, err
			}
		}
		c := base
		c.Name = cmp.Or(c.Name, f.Name)
		c.Type, c.Size, c.Source, c.LinkedTo = ct, int64(len(f.Data)), "file", f.Name
		one, err := s.add(ctx, &c, f.Data)
		if err != nil {
			return nil, err
		}
		return []*Content{one}, nil
	case r.Text != "":
		if int64(len(r.Text)) > b.MaxUploadSize {
			return nil, tooLarge(b, int64(len(r.Text)))
		}
		c := base
		c.Name = cmp.Or(c.Name, firstWords(r.Text))
		c.Type, c.Size, c.Source = "text", int64(len(r.Text)), "text"
		one, err := s.add(ctx, &c, []byte(r.Text))
		if err != nil {
			return nil, err
		}
		return []*Content{one}, nil
	}
	if len(r.URLs) > 100 {
		return nil, core.Errorf(core.CodeInvalid, "at most 100 urls per request")
	}
	for _, u := range r.URLs {
		if err := checkURL(u); err != nil {
			return nil, err
		}
	}
	var out []*Content
	for _, u := range r.URLs {
		c := base
		c.Name = cmp.Or(c.Name, u)
		c.Type, c.Source, c.SourceRef, c.LinkedTo = "url", "url", u, u
		one, err := s.add(ctx, &c, nil)
		if err != nil {
			return out, err
		}
		out = append(out, one)
	}
	return out, nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return core.Errorf(core.CodeInvalid, "url %q is not an http or https URL", raw)
	}
	return nil
}

func firstWords(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return s
}

// checkOptions validates a request's reader and chunking options.
func (s *Service) checkOptions(b *Base, readerID, chunker string, size, overlap int) error {
	if readerID != "" {
		if _, err := s.cfg.Readers.Get(readerID); err != nil {
			return err
		}
	}
	if chunker != "" {
		if _, err := s.cfg.Chunkers.Get(chunker); err != nil {
			return err
		}
	}
	if size < 0 || overlap < 0 || size > 1_000_000 {
		return core.Errorf(core.CodeInvalid, "chunk_size must be 1 to 1000000 and chunk_overlap not negative")
	}
	if overlap > 0 && overlap >= cmp.Or(size, b.ChunkSize, 5000) {
		return core.Errorf(core.CodeInvalid, "chunk_overlap (%d) must be below chunk_size", overlap)
	}
	return nil
}

// add stores one content (data, when set, as its blob) unless its hash is
// known, and enqueues it.
func (s *Service) add(ctx context.Context, c *Content, data []byte) (*Content, error) {
	h := sha256.New()
	if data != nil {
		h.Write(data)
	} else if c.remote() {
		h.Write([]byte("remote\x00" + c.Source + "\x00" + c.SourceRef))
	} else {
		h.Write([]byte("url\x00" + c.SourceRef))
	}
	c.Hash = hex.EncodeToString(h.Sum(nil))
	if old, err := s.cfg.Store.ContentByHash(ctx, c.KnowledgeID, c.Hash); err == nil {
		return old, nil
	} else if !errors.Is(err, core.ErrNotFound) {
		return nil, err
	}
	c.ID = uuid.NewString()
	if data != nil {
		c.SourceRef = c.ID
		if err := s.cfg.Blobs.PutBlob(ctx, c.ID, data); err != nil {
			return nil, err
		}
	}
	if err := s.cfg.Store.CreateContent(ctx, c); err != nil {
		if data != nil {
			_ = s.cfg.Blobs.DeleteBlob(context.WithoutCancel(ctx), c.ID)
		}
		if errors.Is(err, core.ErrConflict) {
			// The same content, added at the same moment by another request.
			if old, err2 := s.cfg.Store.ContentByHash(ctx, c.KnowledgeID, c.Hash); err2 == nil {
				return old, nil
			}
		}
		return nil, err
	}
	if s.cfg.Enqueue == nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			ictx := context.WithoutCancel(ctx)
			for attempt := 1; ; attempt++ {
				if err := s.Ingest(ictx, c.ID, attempt, attempt == 3); err == nil || IsFinal(err) {
					return
				}
				time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
			}
		}()
		return c, nil
	}
	if err := s.cfg.Enqueue(ctx, c.ID); err != nil {
		msg := "cannot queue the ingestion: " + err.Error()
		_ = s.cfg.Store.SetContentStatus(context.WithoutCancel(ctx), c.ID, StatusFailed, msg)
		return nil, fmt.Errorf("knowledge: %s: %w", msg, core.ErrUnavailable)
	}
	return c, nil
}

// finalError marks an ingestion failure not worth another attempt.
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }

// Final wraps err so that the ingestion is not retried.
func Final(err error) error {
	if err == nil {
		return nil
	}
	return &finalError{err: err}
}

// IsFinal reports whether err is Final: the content is failed and its job
// should not be retried.
func IsFinal(err error) bool {
	var f *finalError
	return errors.As(err, &f)
}

// Ingest is one attempt of a content's ingestion (the queue's job body):
// read, chunk and embed it and complete it. A content that is gone or no
// longer processing is left alone (nil). A failure is recorded: on the
// last attempt, or when retrying cannot help (a malformed or unsupported
// content, a refused URL), the content becomes failed with the reason and
// the error is Final; otherwise its message says the attempt failed and
// the error is returned for a retry.
func (s *Service) Ingest(ctx context.Context, contentID string, attempt int, last bool) error {
	c, err := s.cfg.Store.GetContent(ctx, contentID)
	if errors.Is(err, core.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.Status != StatusProcessing {
		return nil
	}
	err = s.ingest(ctx, c)
	if err == nil {
		if c.Source != "url" {
			if err := s.cfg.Blobs.DeleteBlob(ctx, c.ID); err != nil {
				s.cfg.Logger.Warn("knowledge: cannot delete an ingested content's blob", "content_id", c.ID, "err", err)
			}
		}
		return nil
	}
	final := IsFinal(err) || core.CodeOf(err) == core.CodeInvalid
	msg := core.MessageOf(err)
	if core.CodeOf(err) == core.CodeInternal {
		msg = err.Error()
	}
	wctx := context.WithoutCancel(ctx)
	if final || last {
		if serr := s.cfg.Store.SetContentStatus(wctx, c.ID, StatusFailed, msg); serr != nil && !errors.Is(serr, core.ErrNotFound) {
			return serr // retried: the failure is not recorded yet
		}
		_ = s.cfg.Blobs.DeleteBlob(wctx, c.ID)
		s.cfg.Logger.Info("knowledge: ingestion failed", "content_id", c.ID, "attempt", attempt, "err", msg)
		return Final(err)
	}
	_ = s.cfg.Store.SetContentStatus(wctx, c.ID, StatusProcessing, fmt.Sprintf("attempt %d failed, retrying: %s", attempt, msg))
	return err
}

// ingest reads, chunks and embeds c and completes it.
func (s *Service) ingest(ctx context.Context, c *Content) error {
	b, err := s.Base(c.KnowledgeID)
	if err != nil {
		return Final(fmt.Errorf("knowledge base %q is no longer configured", c.KnowledgeID))
	}
	data, ctype, name, err := s.source(ctx, b, c)
	if err != nil {
		return err
	}
	var rd Reader
	switch {
	case c.ReaderID != "":
		rd, err = s.cfg.Readers.Get(c.ReaderID)
	case c.Source == "text":
		rd, err = s.cfg.Readers.Get("text")
	default:
		rd, err = s.cfg.Readers.For(name, ctype)
	}
	if err != nil {
		return Final(err)
	}
	docs, err := rd.Read(ctx, bytes.NewReader(data), name, ctype)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return Final(err)
	}
	ch, err := s.cfg.Chunkers.Get(cmp.Or(c.Chunker, b.Chunker))
	if err != nil {
		return Final(err)
	}
	size, overlap := cmp.Or(c.ChunkSize, b.ChunkSize), cmp.Or(c.ChunkOverlap, b.ChunkOverlap)
	var chunks []Chunk
	for _, d := range docs {
		for _, t := range ch.Chunk(d.Text, size, overlap) {
			if strings.TrimSpace(t) == "" {
				continue
			}
			md := maps.Clone(c.Metadata)
			if md == nil && len(d.Metadata) > 0 {
				md = map[string]any{}
			}
			maps.Copy(md, d.Metadata)
			chunks = append(chunks, Chunk{ContentID: c.ID, KnowledgeID: c.KnowledgeID, Index: len(chunks),
				Name: cmp.Or(d.Name, c.Name), Text: t, Metadata: md})
		}
	}
	if b.Embedder != nil && len(chunks) > 0 {
		texts := make([]string, len(chunks))
		for i := range chunks {
			texts[i] = chunks[i].Text
		}
		vecs, err := b.Embedder.Embed(ctx, texts)
		if err != nil {
			return err
		}
		if len(vecs) != len(chunks) {
			return fmt.Errorf("embedder %q answered %d vectors for %d chunks", b.Embedder.ID(), len(vecs), len(chunks))
		}
		for i := range chunks {
			chunks[i].Embedding = vecs[i]
		}
	}
	return s.cfg.Store.CompleteContent(ctx, c.ID, chunks)
}

// source returns the raw bytes of c, their content type and name.
func (s *Service) source(ctx context.Context, b *Base, c *Content) ([]byte, string, string, error) {
	if c.Source != "url" {
		data, err := s.cfg.Blobs.GetBlob(ctx, c.ID)
		if errors.Is(err, core.ErrNotFound) && c.remote() && c.SourceRef != c.ID {
			return s.remoteBytes(ctx, b, c)
		}
		if errors.Is(err, core.ErrNotFound) {
			return nil, "", "", Final(errors.New("the uploaded bytes are gone (the content was deleted or already ingested)"))
		}
		return data, c.Type, cmp.Or(c.LinkedTo, c.Name), err
	}
	if s.cfg.Fetch == nil {
		return nil, "", "", Final(errors.New("URL ingestion is not configured"))
	}
	resp, err := s.cfg.Fetch(ctx, c.SourceRef, b.AllowPrivateURLs)
	if err != nil {
		if IsFinal(err) {
			return nil, "", "", err
		}
		return nil, "", "", fmt.Errorf("fetch %s: %w", c.SourceRef, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("fetch %s: the server answered %s", c.SourceRef, resp.Status)
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 429 {
			err = Final(err)
		}
		return nil, "", "", err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, b.MaxUploadSize+1))
	if err != nil {
		return nil, "", "", fmt.Errorf("fetch %s: %w", c.SourceRef, err)
	}
	if int64(len(data)) > b.MaxUploadSize {
		return nil, "", "", Final(tooLarge(b, int64(len(data))))
	}
	name := c.SourceRef
	if u, err := url.Parse(c.SourceRef); err == nil {
		name = u.Path
		if name == "" || name == "/" {
			name = u.Host
		}
	}
	return data, resp.Header.Get("Content-Type"), name, nil
}

// Get returns a content; knowledgeID, when set, must be its base.
func (s *Service) Get(ctx context.Context, knowledgeID, id string) (*Content, error) {
	if knowledgeID != "" {
		if _, err := s.Base(knowledgeID); err != nil {
			return nil, err
		}
	}
	c, err := s.cfg.Store.GetContent(ctx, id)
	if err != nil {
		return nil, err
	}
	if knowledgeID != "" && c.KnowledgeID != knowledgeID || s.bases[c.KnowledgeID] == nil {
		return nil, core.Errorf(core.CodeNotFound, "content %q not found", id)
	}
	return c, nil
}

// List lists a base's contents.
func (s *Service) List(ctx context.Context, l ContentList) ([]Content, int, error) {
	b, err := s.Base(l.KnowledgeID)
	if err != nil {
		return nil, 0, err
	}
	l.KnowledgeID = b.ID
	switch l.SortBy {
	case "", "created_at", "updated_at", "name", "status", "size", "type":
	default:
		return nil, 0, core.Errorf(core.CodeInvalid, "sort_by %q is not one of created_at, updated_at, name, status, size, type", l.SortBy)
	}
	switch strings.ToLower(l.SortOrder) {
	case "", "asc", "desc":
	default:
		return nil, 0, core.Errorf(core.CodeInvalid, "sort_order %q is not asc or desc", l.SortOrder)
	}
	return s.cfg.Store.ListContents(ctx, l)
}

// Update is PATCH /knowledge/content/{id}: what is set changes.
type Update struct {
	Name        *string
	Description *string
	Metadata    map[string]any
	ReaderID    *string
}

// Update changes a content's name, description, metadata or reader.
func (s *Service) Update(ctx context.Context, knowledgeID, id string, u Update) (*Content, error) {
	c, err := s.Get(ctx, knowledgeID, id)
	if err != nil {
		return nil, err
	}
	if u.Name != nil {
		if *u.Name == "" || len(*u.Name) > 255 {
			return nil, core.Errorf(core.CodeInvalid, "name must be 1 to 255 characters")
		}
		c.Name = *u.Name
	}
	if u.Description != nil {
		if len(*u.Description) > 1000 {
			return nil, core.Errorf(core.CodeInvalid, "description is at most 1000 characters")
		}
		c.Description = *u.Description
	}
	if u.Metadata != nil {
		c.Metadata = u.Metadata
	}
	if u.ReaderID != nil {
		if _, err := s.cfg.Readers.Get(*u.ReaderID); err != nil {
			return nil, err
		}
		c.ReaderID = *u.ReaderID
	}
	c.UpdatedAt = s.cfg.Now().Unix()
	if err := s.cfg.Store.UpdateContent(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Delete deletes a content and its chunks, and returns it.
func (s *Service) Delete(ctx context.Context, knowledgeID, id string) (*Content, error) {
	c, err := s.Get(ctx, knowledgeID, id)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Store.DeleteContent(ctx, id); err != nil {
		return nil, err
	}
	_ = s.cfg.Blobs.DeleteBlob(ctx, id)
	return c, nil
}

// DeleteAll deletes every content of a base.
func (s *Service) DeleteAll(ctx context.Context, knowledgeID string) (int, error) {
	b, err := s.Base(knowledgeID)
	if err != nil {
		return 0, err
	}
	return s.cfg.Store.DeleteContents(ctx, b.ID)
}

// SearchRequest is POST /knowledge/search.
type SearchRequest struct {
	Query       string
	KnowledgeID string
	SearchType  string
	MaxResults  int
	Filters     map[string]any
	Page, Limit int
}

// SearchHit is one result: the hit and its content's origin.
type SearchHit struct {
	Hit
	ContentOrigin string
}

// SearchResult is a page of hits.
type SearchResult struct {
	Hits  []SearchHit
	Total int
	Page  int
	Limit int
	Took  time.Duration
}

// FilterKeys lists the metadata keys of base knowledgeID's contents, the
// keys its searches can filter on (AgentOS's valid filters).
func (s *Service) FilterKeys(ctx context.Context, knowledgeID string) ([]string, error) {
	b, err := s.Base(knowledgeID)
	if err != nil {
		return nil, err
	}
	return s.cfg.Store.FilterKeys(ctx, b.ID)
}

// Search searches a base. Each content with chunks in the page answered
// has its access_count incremented.
func (s *Service) Search(ctx context.Context, r SearchRequest) (*SearchResult, error) {
	start := time.Now()
	b, err := s.Base(r.KnowledgeID)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(r.Query) == "" {
		return nil, core.Errorf(core.CodeInvalid, "query is required")
	}
	st := cmp.Or(r.SearchType, b.defaultSearchType())
	switch st {
	case SearchKeyword, SearchVector, SearchHybrid:
	default:
		return nil, core.Errorf(core.CodeInvalid, "search_type %q is not vector, keyword or hybrid", st)
	}
	if st != SearchKeyword && b.Embedder == nil {
		return nil, core.Errorf(core.CodeInvalid, "%s search needs an embedder: knowledge base %q has none (set its embedder in the config); keyword search works without one", st, b.ID)
	}
	n := cmp.Or(r.MaxResults, DefaultMaxResults)
	if n < 1 || n > MaxMaxResults {
		return nil, core.Errorf(core.CodeInvalid, "max_results must be 1 to %d", MaxMaxResults)
	}
	page, limit := max(r.Page, 1), cmp.Or(r.Limit, 20)
	if limit < 1 || limit > MaxMaxResults {
		return nil, core.Errorf(core.CodeInvalid, "limit must be 1 to %d", MaxMaxResults)
	}
	filter, err := NormalizeFilters(r.Filters)
	if err != nil {
		return nil, err
	}
	q := Query{KnowledgeID: b.ID, Text: r.Query, Limit: n, Filter: filter}
	var hits []Hit
	switch st {
	case SearchKeyword:
		hits, err = s.cfg.Store.SearchKeyword(ctx, q)
	case SearchVector:
		if q.Vector, err = s.embedQuery(ctx, b, r.Query); err == nil {
			hits, err = s.cfg.Store.SearchVector(ctx, q)
		}
	case SearchHybrid:
		hits, err = s.hybrid(ctx, b, q)
	}
	if err != nil {
		return nil, err
	}
	res := &SearchResult{Total: len(hits), Page: page, Limit: limit}
	from := min((page-1)*limit, len(hits))
	to := min(from+limit, len(hits))
	origins := map[string]string{}
	for _, h := range hits[from:to] {
		o, ok := origins[h.ContentID]
		if !ok {
			if c, err := s.cfg.Store.GetContent(ctx, h.ContentID); err == nil {
				o = cmp.Or(c.LinkedTo, c.Name)
			}
			origins[h.ContentID] = o
		}
		res.Hits = append(res.Hits, SearchHit{Hit: h, ContentOrigin: o})
	}
	// The contents whose chunks the caller gets were accessed once more.
	// The count is statistics: a failure to write it is logged, the
	// search answers.
	if len(origins) > 0 {
		ids := make([]string, 0, len(origins))
		for id := range origins {
			ids = append(ids, id)
		}
		if err := s.cfg.Store.CountAccess(ctx, ids); err != nil {
			s.cfg.Logger.Warn("knowledge: cannot count the access of searched contents", "knowledge_id", b.ID, "err", err)
		}
	}
	res.Took = time.Since(start)
	return res, nil
}

func (s *Service) embedQuery(ctx context.Context, b *Base, text string) ([]float32, error) {
	vecs, err := b.Embedder.Embed(ctx, []string{text})
	if err != nil {
		return nil, err
	}
	if len(vecs) != 1 {
		return nil, core.Errorf(core.CodeUnavailable, "embedder %q answered %d vectors for one query", b.Embedder.ID(), len(vecs))
	}
	return vecs[0], nil
}

// hybrid fuses keyword and vector results by reciprocal rank (k = RRFK):
// each list is asked for more than the limit (so a chunk ranked low by one
// and high by the other is found), the fused score of a chunk is the sum
// of 1/(RRFK+rank) over the lists that have it.
func (s *Service) hybrid(ctx context.Context, b *Base, q Query) ([]Hit, error) {
	vec, err := s.embedQuery(ctx, b, q.Text)
	if err != nil {
		return nil, err
	}
	wide := q
	wide.Limit = min(max(q.Limit*2, 20), MaxMaxResults)
	kw, err := s.cfg.Store.SearchKeyword(ctx, wide)
	if err != nil {
		return nil, err
	}
	wide.Vector = vec
	vs, err := s.cfg.Store.SearchVector(ctx, wide)
	if err != nil {
		return nil, err
	}
	return FuseRRF(q.Limit, kw, vs), nil
}

// FuseRRF fuses ranked lists by reciprocal rank (k = RRFK) and keeps the
// best limit; ties keep the first list's order.
func FuseRRF(limit int, lists ...[]Hit) []Hit {
	score := map[string]float64{}
	byID := map[string]Hit{}
	var order []string
	for _, l := range lists {
		for rank, h := range l {
			if _, ok := byID[h.ID]; !ok {
				byID[h.ID] = h
				order = append(order, h.ID)
			}
			score[h.ID] += 1 / float64(RRFK+rank+1)
		}
	}
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(score[b], score[a]) })
	if len(order) > limit {
		order = order[:limit]
	}
	out := make([]Hit, len(order))
	for i, id := range order {
		h := byID[id]
		h.Score = score[id]
		out[i] = h
	}
	return out
}

// Searcher adapts the service to the agents' knowledge hooks
// (core/agent's KnowledgeSearcher): a search of the base's default type,
// its best limit hits.
type Searcher struct{ Service *Service }

// Search searches knowledgeID for query.
func (a Searcher) Search(ctx context.Context, knowledgeID, query string, limit int) ([]Hit, error) {
	if limit <= 0 {
		limit = DefaultMaxResults
	}
	res, err := a.Service.Search(ctx, SearchRequest{Query: query, KnowledgeID: knowledgeID, MaxResults: limit, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]Hit, len(res.Hits))
	for i, h := range res.Hits {
		out[i] = h.Hit
	}
	return out, nil
}
