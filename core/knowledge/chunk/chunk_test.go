package chunk

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/agentgate/agentgate/core"
)

// checkSpans asserts what every chunker promises of its spans over text:
// each at most size runes (plus prefix), in order, consecutive ones
// sharing at most overlap runes (exactly, when exact), and every non-space
// rune of the text in one of them.
func checkSpans(t *testing.T, text string, spans []span, prefixes []string, size, overlap int, exact bool) {
	t.Helper()
	size, overlap = limits(size, overlap)
	covered := 0 // bytes of text before this offset are covered or spaces
	for i, s := range spans {
		if s.start < 0 || s.end > len(text) || s.start >= s.end {
			t.Fatalf("chunk %d: bad span %v of %d bytes", i, s, len(text))
		}
		p := ""
		if prefixes != nil {
			p = prefixes[i]
		}
		if n := runes(p) + runes(text[s.start:s.end]); n > size {
			t.Fatalf("chunk %d has %d runes, size %d: %q", i, n, size, p+text[s.start:s.end])
		}
		if i > 0 {
			prev := spans[i-1]
			if s.start < prev.start || s.end <= prev.end {
				t.Fatalf("chunk %d %v is not after chunk %d %v", i, s, i-1, prev)
			}
			shared := 0
			if s.start < prev.end {
				shared = runes(text[s.start:prev.end])
			}
			if shared > overlap || exact && shared != overlap {
				t.Fatalf("chunks %d and %d share %d runes, overlap %d (exact %v)", i-1, i, shared, overlap, exact)
			}
		}
		// Everything between what was covered and this chunk is spaces.
		if s.start > covered {
			for _, r := range text[covered:s.start] {
				if !unicode.IsSpace(r) {
					t.Fatalf("rune %q before chunk %d (bytes %d..%d) is in no chunk", r, i, covered, s.start)
				}
			}
		}
		covered = max(covered, s.end)
	}
	for _, r := range text[covered:] {
		if !unicode.IsSpace(r) {
			t.Fatalf("rune %q after the last chunk (from byte %d) is in no chunk", r, covered)
		}
	}
}

func checkAll(t *testing.T, text string, size, overlap int) {
	t.Helper()
	checkSpans(t, text, fixedSpans(text, span{0, len(text)}, size, overlap), nil, size, overlap, true)
	checkSpans(t, text, recursiveSpans(text, span{0, len(text)}, size, overlap), nil, size, overlap, false)
	pcs := markdownPieces(text, size, overlap)
	spans, prefixes := make([]span, len(pcs)), make([]string, len(pcs))
	for i, p := range pcs {
		spans[i], prefixes[i] = p.span, p.prefix
	}
	checkSpans(t, text, spans, prefixes, size, overlap, false)
	// The exported Chunk methods give the same pieces as strings.
	for _, c := range Default().All() {
		for _, s := range c.Chunk(text, size, overlap) {
			if !utf8.ValidString(s) && utf8.ValidString(text) {
				t.Fatalf("%s: chunk of valid text is not valid UTF-8: %q", c.ID(), s)
			}
		}
	}
}

func TestFixed(t *testing.T) {
	got := Fixed{}.Chunk("abcdefghij", 4, 1)
	want := []string{"abcd", "defg", "ghij"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Fixed = %q, want %q", got, want)
	}
	// Runes, not bytes: no chunk splits a multi-byte rune.
	got = Fixed{}.Chunk("héllo wörld ✓✓✓", 3, 0)
	want = []string{"hél", "lo ", "wör", "ld ", "✓✓✓"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Fixed(unicode) = %q, want %q", got, want)
	}
	if got := (Fixed{}).Chunk(" \n\t ", 3, 0); got != nil {
		t.Fatalf("Fixed(spaces) = %q, want none", got)
	}
	// An overlap above half the size is half the size.
	got = Fixed{}.Chunk("abcdef", 4, 10)
	want = []string{"abcd", "cdef"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Fixed(big overlap) = %q, want %q", got, want)
	}
	if got := (Fixed{}).Chunk("short", 0, 0); len(got) != 1 || got[0] != "short" {
		t.Fatalf("Fixed(size 0) = %q, want the text (DefaultSize)", got)
	}
}

func TestRecursive(t *testing.T) {
	text := "First paragraph here.\n\nSecond paragraph. It has two sentences.\n\nThird."
	got := Recursive{}.Chunk(text, 30, 0)
	want := []string{"First paragraph here.", "Second paragraph.", "It has two sentences.\n\nThird."}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Recursive = %q, want %q", got, want)
	}
	// The whole text fits: one chunk.
	if got := (Recursive{}).Chunk(text, 1000, 0); len(got) != 1 || got[0] != text {
		t.Fatalf("Recursive(big) = %q", got)
	}
	// Words, then runes when a word is too long.
	got = Recursive{}.Chunk("aa bb cc dddddddd", 5, 0)
	want = []string{"aa bb", "cc", "ddddd", "ddd"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Recursive(words) = %q, want %q", got, want)
	}
	// Overlap carries the previous chunk's last words.
	got = Recursive{}.Chunk("one two three four five six", 14, 6)
	want = []string{"one two three", "three four", "four five six"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Recursive(overlap) = %q, want %q", got, want)
	}
	checkAll(t, text, 30, 5)
}

func TestMarkdown(t *testing.T) {
	text := "Intro line.\n\n# Guide\n\nShort.\n\n## Install\n\n" + strings.Repeat("Run the installer now. ", 6) +
		"\n\n```\n# not a heading\n```\n\n## Use\n\nUse it."
	got := Markdown{}.Chunk(text, 60, 0)
	if len(got) < 3 {
		t.Fatalf("Markdown = %q, want several chunks", got)
	}
	if !strings.HasPrefix(got[0], "Intro line.") || !strings.Contains(got[0], "# Guide") {
		t.Errorf("first chunk %q: want the intro and the short Guide section packed", got[0])
	}
	var install, cont, use bool
	for _, c := range got {
		if strings.HasPrefix(c, "## Install") {
			install = true
		}
		if strings.HasPrefix(c, "Guide > Install\n\n") {
			cont = true
		}
		if strings.Contains(c, "## Use") {
			use = true
		}
		if strings.Contains(c, "Guide > # not a heading") {
			t.Errorf("a heading inside a code fence was taken for one: %q", c)
		}
		if runes(c) > 60 {
			t.Errorf("chunk of %d runes > 60: %q", runes(c), c)
		}
	}
	if !install || !cont || !use {
		t.Fatalf("Markdown = %q: want the Install section's heading, its continued chunks with the path, and Use", got)
	}
	checkAll(t, text, 60, 10)
	if s := sections("# A\n## B\ntext\n# C\n"); len(s) != 3 || strings.Join(s[1].path, ">") != "A>B" || strings.Join(s[2].path, ">") != "C" {
		t.Fatalf("sections = %+v", s)
	}
}

func TestRegistry(t *testing.T) {
	r := Default()
	for id, want := range map[string]string{"fixed": "fixed", "Recursive": "recursive", "MarkdownChunker": "markdown", "FixedSizeChunker": "fixed"} {
		c, err := r.Get(id)
		if err != nil || c.ID() != want {
			t.Errorf("Get(%q) = %v, %v; want %s", id, c, err, want)
		}
	}
	_, err := r.Get("semantic")
	var ue *UnknownError
	if !errors.As(err, &ue) || ue.ID != "semantic" || core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("Get(semantic) = %v, want an UnknownError (invalid)", err)
	}
	if n := len(r.All()); n != 3 {
		t.Fatalf("All() has %d chunkers", n)
	}
	r.Add(Fixed{})
	if n := len(r.All()); n != 3 {
		t.Fatalf("All() after replacing fixed has %d chunkers", n)
	}
}

func FuzzChunkers(f *testing.F) {
	f.Add("Hello world. This is a test.\n\nAnother paragraph!", 10, 3)
	f.Add("# T\n\n## S\n\n"+strings.Repeat("word ", 50), 20, 5)
	f.Add("héllo ✓ wörld\n```\n# x\n```\n###### deep\n", 3, 1)
	f.Add("\xff\xfe broken \x80 utf8", 4, 2)
	f.Add("", 0, 0)
	f.Fuzz(func(t *testing.T, text string, size, overlap int) {
		if len(text) > 1<<14 {
			return
		}
		size = size % 300 // keep chunk counts small
		checkAll(t, text, size, overlap)
	})
}
