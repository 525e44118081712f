package reader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ledongthuc/pdf"

	"github.com/agentgate/agentgate/core/knowledge"
)

// PDFTimeout bounds the parse of one PDF: a pathological file (a cyclic
// page tree) could otherwise keep the parser busy forever. The parse runs
// in its own goroutine; past the timeout (or the context's end) the read
// fails and that goroutine is abandoned.
var PDFTimeout = 2 * time.Minute

// PDF reads a PDF's text, one document per page (github.com/ledongthuc/pdf,
// pure Go; no OCR).
type PDF struct{ Limits Limits }

func (PDF) ID() string   { return "pdf" }
func (PDF) Name() string { return "PDF" }
func (PDF) Description() string {
	return "A PDF's text, one document per page (no OCR: a scanned PDF has no text)."
}

func (p PDF) Read(ctx context.Context, r io.Reader, name, _ string) ([]knowledge.Document, error) {
	l := p.Limits.withDefaults()
	b, err := readAll(ctx, r, l.MaxBytes, "PDF")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, PDFTimeout)
	defer cancel()
	type result struct {
		docs []knowledge.Document
		err  error
	}
	done := make(chan result, 1)
	go func() {
		docs, err := pdfPages(ctx, b, title(name), l.MaxPages)
		done <- result{docs, err}
	}()
	select {
	case res := <-done:
		return res.docs, res.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, malformed("PDF", fmt.Errorf("not parsed within %s", PDFTimeout))
		}
		return nil, ctx.Err()
	}
}

// pdfPages extracts the text of each page of the PDF b.
func pdfPages(ctx context.Context, b []byte, name string, maxPages int) (docs []knowledge.Document, err error) {
	defer guard("PDF", &err)
	if !bytes.HasPrefix(bytes.TrimLeft(b, "\x00\t\n\f\r "), []byte("%PDF-")) {
		return nil, malformed("PDF", errors.New("no %PDF- header"))
	}
	rd, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		if strings.Contains(err.Error(), "encrypt") || strings.Contains(err.Error(), "password") {
			return nil, malformed("PDF", errors.New("the PDF is encrypted"))
		}
		return nil, malformed("PDF", err)
	}
	n := rd.NumPage()
	if n <= 0 {
		return nil, malformed("PDF", errors.New("no pages"))
	}
	if n > maxPages {
		return nil, malformed("PDF", fmt.Errorf("%d pages, more than the %d a reader takes", n, maxPages))
	}
	for i := 1; i <= n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pg := rd.Page(i)
		if pg.V.IsNull() {
			continue
		}
		t, err := pg.GetPlainText(nil) // nil: the page's own fonts
		if err != nil {
			return nil, malformed("PDF", fmt.Errorf("page %d: %w", i, err))
		}
		t = strings.TrimSpace(text([]byte(t)))
		if t == "" {
			continue
		}
		docs = append(docs, knowledge.Document{Name: name, Text: t, Metadata: map[string]any{"page": i, "pages": n}})
	}
	if len(docs) == 0 {
		return nil, malformed("PDF", errors.New("no text in it (a scanned PDF? it is not read with OCR)"))
	}
	return docs, nil
}
