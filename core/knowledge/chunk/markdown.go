package chunk

import (
	"strings"
)

// Markdown splits the text into sections at its ATX headings (# to ######
// at the start of a line, outside fenced code blocks), packs consecutive
// sections that fit together into one chunk, and splits a section too
// large for a chunk with Recursive. The chunks of a split section after
// its first (which starts with the heading itself) begin with the
// section's heading path, "Title > Section > Subsection" and a blank line,
// counted in the size; a path longer than half the size is left out.
// Overlap applies between the continued chunks of a split section.
type Markdown struct{}

func (Markdown) ID() string   { return "markdown" }
func (Markdown) Name() string { return "Markdown" }
func (Markdown) Description() string {
	return "Splits Markdown at its headings, then recursively inside a section too large; continued chunks carry the heading path."
}

func (Markdown) Chunk(text string, size, overlap int) []string {
	pcs := markdownPieces(text, size, overlap)
	if len(pcs) == 0 {
		return nil
	}
	out := make([]string, len(pcs))
	for i, p := range pcs {
		out[i] = p.prefix + text[p.start:p.end]
	}
	return out
}

// mdPiece is a chunk of the Markdown chunker: prefix and then the text's
// span.
type mdPiece struct {
	prefix string
	span
}

// section is a heading's section: from its heading line to the next
// heading, with the path of headings it is under (its own last).
type section struct {
	span
	path []string
}

// sections splits the text at its ATX headings outside code fences. The
// text before the first heading is a section with no path.
func sections(text string) []section {
	var (
		out   []section
		stack []string // heading texts by level - 1
		fence string   // the open fence ("```" or "~~~"), or ""
		cur   = section{}
	)
	for off := 0; off < len(text); {
		end := strings.IndexByte(text[off:], '\n')
		next := len(text)
		if end >= 0 {
			next = off + end + 1
		}
		line := strings.TrimRight(text[off:next], "\r\n")
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		switch {
		case indent > 3:
		case fence != "":
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
		case strings.HasPrefix(trimmed, "```"), strings.HasPrefix(trimmed, "~~~"):
			fence = trimmed[:3]
		default:
			if level, title, ok := heading(trimmed); ok {
				if off > cur.start {
					cur.end = off
					out = append(out, cur)
				}
				if len(stack) >= level {
					stack = stack[:level-1]
				}
				for len(stack) < level-1 {
					stack = append(stack, "")
				}
				stack = append(stack, title)
				var path []string
				for _, h := range stack {
					if h != "" {
						path = append(path, h)
					}
				}
				cur = section{span: span{start: off}, path: path}
			}
		}
		off = next
	}
	if len(text) > cur.start {
		cur.end = len(text)
		out = append(out, cur)
	}
	return out
}

// heading parses an ATX heading line: its level and text.
func heading(line string) (int, string, bool) {
	level := 0
	for level < len(line) && line[level] == '#' {
		level++
	}
	if level == 0 || level > 6 {
		return 0, "", false
	}
	rest := line[level:]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return 0, "", false
	}
	title := strings.TrimSpace(rest)
	title = strings.TrimSpace(strings.TrimRight(title, "#")) // closing sequence
	if title == "" {
		title = strings.Repeat("#", level)
	}
	return level, title, true
}

// markdownPieces chunks text (see Markdown).
func markdownPieces(text string, size, overlap int) []mdPiece {
	size, overlap = limits(size, overlap)
	var out []mdPiece
	var acc span // sections packed so far (end 0: none)
	has := false
	flush := func() {
		if !has {
			return
		}
		if s, ok := trim(text, acc); ok {
			out = append(out, mdPiece{span: s})
		}
		has = false
	}
	for _, sec := range sections(text) {
		n := runes(text[sec.start:sec.end])
		if n <= size {
			if has && runes(text[acc.start:sec.end]) <= size {
				acc.end = sec.end
				continue
			}
			flush()
			acc, has = sec.span, true
			continue
		}
		flush()
		prefix := ""
		if len(sec.path) > 0 {
			prefix = strings.Join(sec.path, " > ") + "\n\n"
			if runes(prefix) > size/2 {
				prefix = ""
			}
		}
		// The first chunk starts with the heading; the later ones get the
		// prefix, so they are split for size minus it.
		first := recursiveSpans(text, sec.span, size, overlap)
		if len(first) == 0 {
			continue
		}
		out = append(out, mdPiece{span: first[0]})
		if first[0].end >= sec.end {
			continue
		}
		// The rest starts after the first chunk (no overlap across the
		// heading's chunk: the rest is split on its own).
		rest, ok := trim(text, span{first[0].end, sec.end})
		if !ok {
			continue
		}
		for _, s := range recursiveSpans(text, rest, size-runes(prefix), overlap) {
			out = append(out, mdPiece{prefix: prefix, span: s})
		}
	}
	flush()
	return out
}
