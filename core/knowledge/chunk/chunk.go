// Package chunk holds the chunkers of knowledge ingestion (knowledge.Chunker):
// fixed size with overlap, recursive (paragraph → line → sentence → word →
// rune) and Markdown-aware (by headings, then recursive inside a section),
// and a registry that finds one by id.
//
// Sizes and overlaps count runes (Unicode code points), never bytes, so a
// chunk never splits a UTF-8 sequence. Every chunker works on spans of the
// original text: a chunk is a piece of the text (the Markdown chunker may
// put its section's heading path before a piece, see Markdown), chunks come
// in text order, and every non-space character of the text is in some
// chunk. A size <= 0 is DefaultSize; an overlap < 0 is 0 and one above
// half the size is half the size (more would make a chunk per few runes).
package chunk

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
)

// DefaultSize is the chunk size of a size <= 0, AgentOS's default
// chunk_size.
const DefaultSize = 5000

// span is the text's bytes [start, end).
type span struct{ start, end int }

// limits normalises size and overlap (see the package documentation).
func limits(size, overlap int) (int, int) {
	if size <= 0 {
		size = DefaultSize
	}
	overlap = max(overlap, 0)
	overlap = min(overlap, size/2)
	return size, overlap
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// texts turns spans of text into strings.
func texts(text string, spans []span) []string {
	if len(spans) == 0 {
		return nil
	}
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = text[s.start:s.end]
	}
	return out
}

// trim narrows s to exclude the spaces at both ends; false when nothing is
// left.
func trim(text string, s span) (span, bool) {
	for s.start < s.end {
		r, n := utf8.DecodeRuneInString(text[s.start:s.end])
		if !unicode.IsSpace(r) {
			break
		}
		s.start += n
	}
	for s.end > s.start {
		r, n := utf8.DecodeLastRuneInString(text[s.start:s.end])
		if !unicode.IsSpace(r) {
			break
		}
		s.end -= n
	}
	return s, s.end > s.start
}

// Fixed cuts the text into windows of exactly size runes (the last may be
// shorter), each starting size-overlap runes after the previous one, so
// consecutive chunks share exactly overlap runes. A text of spaces only has
// no chunk.
type Fixed struct{}

func (Fixed) ID() string   { return "fixed" }
func (Fixed) Name() string { return "Fixed size" }
func (Fixed) Description() string {
	return "Windows of chunk_size characters, consecutive ones sharing chunk_overlap characters."
}

func (Fixed) Chunk(text string, size, overlap int) []string {
	return texts(text, fixedSpans(text, span{0, len(text)}, size, overlap))
}

// fixedSpans are the windows over the text's s.
func fixedSpans(text string, s span, size, overlap int) []span {
	size, overlap = limits(size, overlap)
	if _, ok := trim(text, s); !ok {
		return nil
	}
	// offs are the byte offsets of each rune of s, and its end.
	offs := make([]int, 0, s.end-s.start+1)
	for i := range text[s.start:s.end] {
		offs = append(offs, s.start+i)
	}
	n := len(offs)
	offs = append(offs, s.end)
	step := size - overlap
	var out []span
	for i := 0; ; i += step {
		end := min(i+size, n)
		out = append(out, span{offs[i], offs[end]})
		if end == n {
			return out
		}
	}
}

// separators are the recursive chunker's split points, coarsest first:
// paragraphs, lines, sentences, clauses, words. Past the last the text is
// cut at runes.
var separators = []string{"\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " "}

// Recursive splits the text at paragraphs, then lines, sentences and words
// (each piece too large for a chunk is split at the next, finer
// separator; a word too long is cut at runes), and packs consecutive
// pieces into chunks of at most size runes. A chunk starts with the last
// pieces of the previous one that fit in overlap runes, so consecutive
// chunks share at most overlap runes, at piece boundaries. Chunks are
// trimmed of the spaces at their ends.
type Recursive struct{}

func (Recursive) ID() string   { return "recursive" }
func (Recursive) Name() string { return "Recursive" }
func (Recursive) Description() string {
	return "Splits at paragraphs, then lines, sentences and words, and packs the pieces into chunks of at most chunk_size characters."
}

func (Recursive) Chunk(text string, size, overlap int) []string {
	return texts(text, recursiveSpans(text, span{0, len(text)}, size, overlap))
}

// recursiveSpans chunks the text's s.
func recursiveSpans(text string, s span, size, overlap int) []span {
	size, overlap = limits(size, overlap)
	pieces := split(text, s, separators, size, nil)
	return pack(text, pieces, size, overlap)
}

// split appends to out the pieces of s, each of at most size runes,
// contiguous and covering s: s itself when it fits, else s cut after each
// occurrence of the first of seps it holds (each part split further when
// too large), else cut at runes.
func split(text string, s span, seps []string, size int, out []span) []span {
	if runes(text[s.start:s.end]) <= size {
		return append(out, s)
	}
	for i, sep := range seps {
		if !strings.Contains(text[s.start:s.end], sep) {
			continue
		}
		start := s.start
		for start < s.end {
			j := strings.Index(text[start:s.end], sep)
			end := s.end
			if j >= 0 {
				end = start + j + len(sep)
			}
			out = split(text, span{start, end}, seps[i+1:], size, out)
			start = end
		}
		return out
	}
	return append(out, fixedSpans(text, s, size, 0)...)
}

// pack packs contiguous pieces into chunks of at most size runes, each
// starting with the previous chunk's last pieces that fit in overlap runes
// (and leave room for a new piece), trimmed of spaces.
func pack(text string, pieces []span, size, overlap int) []span {
	var out []span
	n := make([]int, len(pieces))    // runes of each piece
	tail := make([]int, len(pieces)) // ... without its trailing spaces
	for i, p := range pieces {
		n[i] = runes(text[p.start:p.end])
		tail[i] = n[i]
		if t, ok := trim(text, p); ok {
			tail[i] = n[i] - runes(text[t.end:p.end])
		} else {
			tail[i] = 0
		}
	}
	emit := func(from, to int) { // pieces [from, to)
		// A chunk of carried pieces and spaces only adds nothing.
		if s, ok := trim(text, span{pieces[from].start, pieces[to-1].end}); ok && (len(out) == 0 || s.end > out[len(out)-1].end) {
			out = append(out, s)
		}
	}
	first, total := 0, 0 // the current chunk's first piece and runes
	for i := 0; i < len(pieces); i++ {
		// The chunk is trimmed: piece i's trailing spaces do not count.
		if i > first && total+tail[i] > size {
			emit(first, i)
			// Carry the last pieces that fit in overlap and leave room
			// for piece i.
			back, kept := i, 0
			for back > first+1 && kept+n[back-1] <= overlap && kept+n[back-1]+tail[i] <= size {
				back--
				kept += n[back]
			}
			first, total = back, kept
		}
		total += n[i]
	}
	if first < len(pieces) {
		emit(first, len(pieces))
	}
	return out
}

// UnknownError is the error of a chunker id the registry does not have.
type UnknownError struct{ ID string }

func (e *UnknownError) Error() string { return fmt.Sprintf("unknown chunker %q", e.ID) }

// Is makes it core.ErrInvalid (a bad request).
func (e *UnknownError) Is(target error) bool { return target == core.ErrInvalid }

// Registry finds chunkers by id (or AgentOS's class name: FixedSizeChunker,
// RecursiveChunker, MarkdownChunker; case-insensitive).
type Registry struct {
	list []knowledge.Chunker
	byID map[string]knowledge.Chunker
}

// NewRegistry returns a registry of chunkers (later ones win an id).
func NewRegistry(chunkers ...knowledge.Chunker) *Registry {
	r := &Registry{byID: map[string]knowledge.Chunker{}}
	for _, c := range chunkers {
		r.Add(c)
	}
	return r
}

// Default is the registry of this package's chunkers.
func Default() *Registry { return NewRegistry(Fixed{}, Recursive{}, Markdown{}) }

// agnoNames are AgentOS's chunker names of ours.
var agnoNames = map[string]string{
	"fixedsizechunker": "fixed", "fixed_size": "fixed", "fixed_size_chunker": "fixed",
	"recursivechunker": "recursive", "recursive_chunker": "recursive",
	"markdownchunker": "markdown", "markdown_chunker": "markdown",
}

// Add adds (or replaces) c.
func (r *Registry) Add(c knowledge.Chunker) {
	id := strings.ToLower(c.ID())
	if _, ok := r.byID[id]; ok {
		for i, old := range r.list {
			if strings.ToLower(old.ID()) == id {
				r.list = append(r.list[:i:i], r.list[i+1:]...)
				break
			}
		}
	}
	r.byID[id] = c
	r.list = append(r.list, c)
}

// Get returns the chunker of id, or an *UnknownError.
func (r *Registry) Get(id string) (knowledge.Chunker, error) {
	key := strings.ToLower(strings.TrimSpace(id))
	if c, ok := r.byID[key]; ok {
		return c, nil
	}
	if alias, ok := agnoNames[key]; ok {
		if c, ok := r.byID[alias]; ok {
			return c, nil
		}
	}
	return nil, &UnknownError{ID: id}
}

// All lists the chunkers in the order they were added.
func (r *Registry) All() []knowledge.Chunker { return append([]knowledge.Chunker(nil), r.list...) }
