package reader

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/agentgate/agentgate/core/knowledge"
)

// DOCX reads a Word document's text: the paragraphs of its
// word/document.xml (encoding/xml over archive/zip), headings written as
// Markdown "#" lines, table cells separated by tabs.
type DOCX struct{ Limits Limits }

func (DOCX) ID() string   { return "docx" }
func (DOCX) Name() string { return "DOCX" }
func (DOCX) Description() string {
	return "A Word (.docx) document's text; headings become Markdown headings."
}

// maxZipEntries bounds the entries of a DOCX's zip.
const maxZipEntries = 10000

func (d DOCX) Read(ctx context.Context, r io.Reader, name, _ string) ([]knowledge.Document, error) {
	l := d.Limits.withDefaults()
	b, err := readAll(ctx, r, l.MaxBytes, "DOCX")
	if err != nil {
		return nil, err
	}
	body, err := docxText(ctx, b, l.MaxUncompressed)
	if err != nil {
		return nil, err
	}
	return []knowledge.Document{{Name: title(name), Text: body, Metadata: map[string]any{"format": "docx"}}}, nil
}

// docxText extracts the text of the DOCX b, inflating at most max bytes.
func docxText(ctx context.Context, b []byte, max int64) (s string, err error) {
	defer guard("DOCX", &err)
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return "", malformed("DOCX", err)
	}
	if len(zr.File) > maxZipEntries {
		return "", malformed("DOCX", fmt.Errorf("%d zip entries, more than %d", len(zr.File), maxZipEntries))
	}
	var doc *zip.File
	for _, f := range zr.File {
		if f.Name == "word/document.xml" {
			doc = f
			break
		}
	}
	if doc == nil {
		return "", malformed("DOCX", errors.New("no word/document.xml (not a Word document)"))
	}
	if doc.UncompressedSize64 > uint64(max) {
		return "", malformed("DOCX", fmt.Errorf("word/document.xml inflates to %d bytes, more than the %d allowed", doc.UncompressedSize64, max))
	}
	rc, err := doc.Open()
	if err != nil {
		return "", malformed("DOCX", err)
	}
	defer rc.Close()
	// The declared size may lie: the reader itself is capped too.
	lr := &capped{r: rc, left: max}
	out, err := wordText(ctx, lr)
	if lr.over {
		return "", malformed("DOCX", fmt.Errorf("word/document.xml inflates to more than the %d bytes allowed", max))
	}
	if err != nil {
		return "", malformed("DOCX", err)
	}
	return out, nil
}

// capped reads at most left bytes of r and notes a reader that had more.
type capped struct {
	r    io.Reader
	left int64
	over bool
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			c.over = true
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// wordText walks WordprocessingML: w:t is text, w:tab a tab, w:br and w:cr
// line breaks, w:p a paragraph (a Heading<n> or Title style makes it a
// Markdown heading), w:tc a table cell, w:tr a table row.
func wordText(ctx context.Context, r io.Reader) (string, error) {
	dec := xml.NewDecoder(r)
	var (
		out    strings.Builder
		para   strings.Builder
		level  int  // the paragraph's heading level (0: none)
		inText bool // inside w:t
		cells  int  // cells of the current row so far
		tokens int
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		if tokens++; tokens%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return "", err
			}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "t":
				inText = true
			case "tab":
				para.WriteByte('\t')
			case "br", "cr":
				para.WriteByte('\n')
			case "p":
				para.Reset()
				level = 0
			case "pStyle":
				for _, a := range t.Attr {
					if a.Name.Local == "val" {
						level = headingLevel(a.Value)
					}
				}
			case "tr":
				cells = 0
			case "tc":
				if cells > 0 {
					out.WriteByte('\t')
				}
				cells++
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				line := strings.TrimSpace(para.String())
				if line == "" {
					break
				}
				if level > 0 {
					out.WriteString(strings.Repeat("#", level) + " ")
				}
				out.WriteString(line)
				if cells > 0 {
					out.WriteByte(' ') // inside a table cell
				} else {
					out.WriteString("\n\n")
				}
				para.Reset()
			case "tr":
				out.WriteString("\n")
				cells = 0
			case "tbl":
				out.WriteString("\n")
			}
		case xml.CharData:
			if inText {
				para.Write(t)
			}
		}
	}
	return strings.TrimSpace(text([]byte(out.String()))), nil
}

// headingLevel is the heading level of a paragraph style: Title 1,
// Heading1..Heading6 (or "heading 1") their number, else 0.
func headingLevel(style string) int {
	s := strings.ToLower(strings.ReplaceAll(style, " ", ""))
	if s == "title" {
		return 1
	}
	if rest, ok := strings.CutPrefix(s, "heading"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 1 && n <= 6 {
			return n
		}
	}
	return 0
}
