package agentgate

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The documentation links only inside the repository: every relative link
// of README.md and docs/*.md resolves to a file (and its #anchor to a
// heading there), and no link leaves the repository (absolute links rot, and
// the README must work offline).

var (
	mdLink     = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)
	mdAutolink = regexp.MustCompile(`<(https?://[^>]+)>`)
	mdHeading  = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*$`)
)

// prose returns md without its fenced code blocks and inline code spans,
// which hold examples, not links.
func prose(md string) string {
	var b strings.Builder
	fenced := false
	for line := range strings.SplitSeq(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			b.WriteString(regexp.MustCompile("`[^`]*`").ReplaceAllStringFunc(line, func(s string) string {
				// Keep link targets written as code: [`x`](x).
				return strings.ReplaceAll(s, "`", "")
			}))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// anchor is GitHub's anchor of a heading.
func anchor(heading string) string {
	h := strings.ToLower(strings.ReplaceAll(heading, "`", ""))
	var b strings.Builder
	for _, r := range h {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

func anchorsOf(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range mdHeading.FindAllStringSubmatch(prose(string(b)), -1) {
		out[anchor(m[1])] = true
	}
	return out
}

func TestDocsLinks(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{"README.md"}, files...)
	if len(files) < 2 {
		t.Fatalf("want README.md and docs/ARCHITECTURE.md, found %v", files)
	}
	links := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := prose(string(b))
		for _, m := range mdAutolink.FindAllStringSubmatch(text, -1) {
			t.Errorf("%s: links outside the repository: %s", f, m[1])
		}
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			target := m[1]
			links++
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				t.Errorf("%s: links outside the repository: %s", f, target)
				continue
			}
			path, frag, _ := strings.Cut(target, "#")
			resolved := f
			if path != "" {
				resolved = filepath.Join(filepath.Dir(f), path)
				rel, err := filepath.Rel(".", resolved)
				if err != nil || strings.HasPrefix(rel, "..") {
					t.Errorf("%s: link %s leaves the repository", f, target)
					continue
				}
				if _, err := os.Stat(resolved); err != nil {
					t.Errorf("%s: dead link %s: %v", f, target, err)
					continue
				}
			}
			if frag != "" {
				if !strings.HasSuffix(resolved, ".md") {
					t.Errorf("%s: anchor on a non-Markdown file: %s", f, target)
				} else if !anchorsOf(t, resolved)[frag] {
					t.Errorf("%s: link %s: no heading with anchor #%s in %s", f, target, frag, resolved)
				}
			}
		}
	}
	if links == 0 {
		t.Fatal("no links found: has the parser broken?")
	}
}

// TestReadmeEmbeddingSnippet: the README's embedding program is
// examples/embed/main.go (which the build compiles), word for word.
func TestReadmeEmbeddingSnippet(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("examples/embed/main.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Embedding \\(Go\\).*?```go\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("no Go block under \"Embedding (Go)\" in README.md")
	}
	body := string(src)
	body = body[strings.Index(body, "package main"):]
	if string(m[1]) != body {
		t.Errorf("README's embedding snippet differs from examples/embed/main.go (from its package clause on):\n%s", m[1])
	}
}
