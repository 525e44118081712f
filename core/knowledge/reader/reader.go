// Package reader holds the readers of knowledge ingestion
// (knowledge.Reader): plain text, Markdown, HTML, web pages (main-content
// extraction), PDF text, CSV, JSON and DOCX, and a registry that picks one
// by content type, falling back on the file name's extension.
//
// Every reader reads at most Limits.MaxBytes of its input (more is a
// too-large error, 413), and a malformed input is an invalid error (400)
// whose message says what is wrong, never a panic: the third-party parsers
// (PDF, HTML main content) run under recover. What each makes of its input:
//
//   - text, markdown: one document, the text as it is (invalid UTF-8
//     replaced, a byte-order mark dropped);
//   - html: one document, the page's visible text (block elements on their
//     own lines; scripts, styles and the head left out), titled by <title>;
//   - web: one document, the page's main content (go-readability: what a
//     reader view shows, without navigation, ads and footers), falling back
//     on the whole visible text when no article is found;
//   - pdf: one document per page with text (metadata "page"), at most
//     Limits.MaxPages pages; a PDF with no text at all (scanned) is an
//     error, as is an encrypted one;
//   - csv: one document, one line per row "column: value, ...", labelled by
//     the header row (TSV and ;-separated files are detected), at most
//     Limits.MaxRows rows; the recursive chunker then keeps rows whole;
//   - json: one document per element of a top-level array, per line of
//     JSON Lines, else one for the value, each indented JSON;
//   - docx: one document, the paragraphs of word/document.xml (headings as
//     Markdown "#" lines, table cells separated by tabs); its uncompressed
//     size is capped (Limits.MaxUncompressed), whatever the zip declares.
package reader

import (
	"context"
	"fmt"
	"io"
	"mime"
	"path"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
)

// Limits bound what a reader reads. Zero fields take the defaults.
type Limits struct {
	// MaxBytes is the most a reader reads of its input (default 32 MiB).
	MaxBytes int64
	// MaxPages is the most pages of a PDF (default 2000).
	MaxPages int
	// MaxRows is the most rows of a CSV (default 1,000,000).
	MaxRows int
	// MaxUncompressed is the most bytes a DOCX's document may inflate to
	// (default 64 MiB): the zip bomb guard.
	MaxUncompressed int64
}

// Defaults of Limits.
const (
	DefaultMaxBytes        = 32 << 20
	DefaultMaxPages        = 2000
	DefaultMaxRows         = 1_000_000
	DefaultMaxUncompressed = 64 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxPages <= 0 {
		l.MaxPages = DefaultMaxPages
	}
	if l.MaxRows <= 0 {
		l.MaxRows = DefaultMaxRows
	}
	if l.MaxUncompressed <= 0 {
		l.MaxUncompressed = DefaultMaxUncompressed
	}
	return l
}

// UnsupportedError is the error of a content no reader reads: Type is its
// content type (or, when it had none, its name's extension). The REST layer
// answers it with 415; core.CodeOf makes it invalid (400) elsewhere.
type UnsupportedError struct {
	Type string
	Name string
}

func (e *UnsupportedError) Error() string {
	t := e.Type
	if t == "" {
		t = "unknown"
	}
	if e.Name != "" {
		return fmt.Sprintf("unsupported content type %q (%s): readers take text, Markdown, HTML, PDF, CSV, JSON and DOCX", t, e.Name)
	}
	return fmt.Sprintf("unsupported content type %q: readers take text, Markdown, HTML, PDF, CSV, JSON and DOCX", t)
}

// Is makes it core.ErrInvalid.
func (e *UnsupportedError) Is(target error) bool { return target == core.ErrInvalid }

// UnknownError is the error of a reader id the registry does not have.
type UnknownError struct{ ID string }

func (e *UnknownError) Error() string { return fmt.Sprintf("unknown reader %q", e.ID) }

// Is makes it core.ErrInvalid.
func (e *UnknownError) Is(target error) bool { return target == core.ErrInvalid }

// malformed is the error of an input its reader cannot parse.
func malformed(what string, err error) error {
	return &core.Error{Code: core.CodeInvalid, Message: fmt.Sprintf("malformed %s: %v", what, err)}
}

// readAll reads r up to max bytes; more is a too-large error.
func readAll(ctx context.Context, r io.Reader, max int64, what string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if int64(len(b)) > max {
		return nil, core.Errorf(core.CodeTooLarge, "%s is larger than the %d bytes a reader takes", what, max)
	}
	return b, ctx.Err()
}

// decode converts b from the charset contentType names (charset=...) to
// UTF-8; b is kept as it is when there is none, it is UTF-8 or unknown.
func decode(b []byte, contentType string) []byte {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil || params["charset"] == "" {
		return b
	}
	return decodeWith(b, params["charset"])
}

// decodeWith converts b from the named charset to UTF-8.
func decodeWith(b []byte, label string) []byte {
	enc, name := charset.Lookup(label)
	if enc == nil || name == "utf-8" {
		return b
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return b
	}
	return out
}

// text is b as valid UTF-8, without a byte-order mark.
func text(b []byte) string {
	s := strings.TrimPrefix(string(b), "\ufeff")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\ufffd")
	}
	return s
}

// title is a document's name: name without its directories.
func title(name string) string {
	if name == "" {
		return ""
	}
	if i := strings.IndexAny(name, "?#"); i > 0 && strings.Contains(name, "://") {
		name = name[:i]
	}
	return path.Base(strings.TrimRight(name, "/"))
}

// guard turns a panic of a third-party parser into a malformed error.
func guard(what string, err *error) {
	if r := recover(); r != nil {
		*err = malformed(what, fmt.Errorf("parser failed: %v", r))
	}
}

// Registry finds readers by id and by content type.
type Registry struct {
	list   []knowledge.Reader
	byID   map[string]knowledge.Reader
	byType map[string]string // media type → reader id
	byExt  map[string]string // ".ext" → reader id
}

// Content types and extensions of the readers of Default.
var (
	defaultTypes = map[string]string{
		"text/plain": "text", "text/markdown": "markdown", "text/x-markdown": "markdown",
		"text/html": "html", "application/xhtml+xml": "html",
		"application/pdf": "pdf", "application/x-pdf": "pdf",
		"text/csv": "csv", "application/csv": "csv", "text/tab-separated-values": "csv",
		"application/json": "json", "text/json": "json", "application/x-ndjson": "json", "application/jsonl": "json",
		"application/ld+json": "json",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
	}
	defaultExts = map[string]string{
		".txt": "text", ".text": "text", ".log": "text",
		".md": "markdown", ".markdown": "markdown", ".mdx": "markdown",
		".html": "html", ".htm": "html", ".xhtml": "html",
		".pdf": "pdf", ".csv": "csv", ".tsv": "csv",
		".json": "json", ".jsonl": "json", ".ndjson": "json",
		".docx": "docx",
	}
	// genericTypes say nothing of the content: the extension decides.
	genericTypes = map[string]bool{"": true, "application/octet-stream": true, "binary/octet-stream": true,
		"application/binary": true, "application/unknown": true, "application/x-www-form-urlencoded": true}
)

// agnoNames are AgentOS's reader names of ours.
var agnoNames = map[string]string{
	"textreader": "text", "markdownreader": "markdown", "htmlreader": "html", "websitereader": "web",
	"website": "web", "pdfreader": "pdf", "csvreader": "csv", "jsonreader": "json", "docxreader": "docx",
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byID: map[string]knowledge.Reader{}, byType: map[string]string{}, byExt: map[string]string{}}
}

// Default is the registry of this package's readers, bounded by l.
func Default(l Limits) *Registry {
	l = l.withDefaults()
	r := NewRegistry()
	for _, rd := range []knowledge.Reader{Text{l}, Markdown{l}, HTML{l}, Web{l}, PDF{l}, CSV{l}, JSON{l}, DOCX{l}} {
		r.Add(rd)
	}
	for t, id := range defaultTypes {
		r.Map(id, t)
	}
	for e, id := range defaultExts {
		r.Map(id, e)
	}
	return r
}

// Add adds (or replaces) rd.
func (r *Registry) Add(rd knowledge.Reader) {
	id := strings.ToLower(rd.ID())
	if _, ok := r.byID[id]; ok {
		for i, old := range r.list {
			if strings.ToLower(old.ID()) == id {
				r.list = append(r.list[:i:i], r.list[i+1:]...)
				break
			}
		}
	}
	r.byID[id] = rd
	r.list = append(r.list, rd)
}

// Map makes the reader id read a content type ("text/csv") or an
// extension (".csv").
func (r *Registry) Map(id, typeOrExt string) {
	k := strings.ToLower(typeOrExt)
	if strings.HasPrefix(k, ".") {
		r.byExt[k] = strings.ToLower(id)
	} else {
		r.byType[k] = strings.ToLower(id)
	}
}

// Get returns the reader of id (or AgentOS's class name: PDFReader,
// WebsiteReader...; case-insensitive), or an *UnknownError.
func (r *Registry) Get(id string) (knowledge.Reader, error) {
	key := strings.ToLower(strings.TrimSpace(id))
	if rd, ok := r.byID[key]; ok {
		return rd, nil
	}
	if alias, ok := agnoNames[key]; ok {
		if rd, ok := r.byID[alias]; ok {
			return rd, nil
		}
	}
	return nil, &UnknownError{ID: id}
}

// For picks the reader of a content: by its content type, or, when that
// says nothing (empty, application/octet-stream) or no reader takes it, by
// its name's extension; text/plain with a more telling extension (.md,
// .csv...) goes by the extension. An HTML page named by an http(s) URL
// (a fetched page) is read by the web reader. None is an
// *UnsupportedError naming the type.
func (r *Registry) For(name, contentType string) (knowledge.Reader, error) {
	mt := strings.ToLower(strings.TrimSpace(contentType))
	if parsed, _, err := mime.ParseMediaType(contentType); err == nil {
		mt = strings.ToLower(parsed)
	}
	ext := strings.ToLower(path.Ext(title(name)))
	byExt, extOK := r.byExt[ext]
	byType, typeOK := r.byType[mt]
	id := ""
	switch {
	case typeOK && byType == "text" && extOK:
		id = byExt
	case typeOK:
		id = byType
	case extOK:
		id = byExt
	}
	if id == "html" && (strings.HasPrefix(name, "http://") || strings.HasPrefix(name, "https://")) {
		if _, ok := r.byID["web"]; ok {
			id = "web" // a fetched page: its main content
		}
	}
	if id != "" {
		return r.Get(id)
	}
	t := mt
	if genericTypes[mt] {
		t = ext
	}
	return nil, &UnsupportedError{Type: t, Name: name}
}

// All lists the readers in the order they were added.
func (r *Registry) All() []knowledge.Reader { return append([]knowledge.Reader(nil), r.list...) }

// ForType lists, per content type and extension, the id of the reader
// that reads it (AgentOS's readersForType of /knowledge/config).
func (r *Registry) ForType() map[string][]string {
	out := map[string][]string{}
	for k, id := range r.byType {
		out[k] = []string{id}
	}
	for k, id := range r.byExt {
		out[k] = []string{id}
	}
	return out
}
