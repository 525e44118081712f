package reader

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
)

// makePDF writes a PDF with one page per text (fpdf).
func makePDF(t testing.TB, pages ...string) []byte {
	t.Helper()
	p := fpdf.New("P", "mm", "A4", "")
	p.SetFont("Helvetica", "", 12)
	for _, text := range pages {
		p.AddPage()
		if text != "" {
			p.MultiCell(0, 8, text, "", "L", false)
		}
	}
	var buf bytes.Buffer
	if err := p.Output(&buf); err != nil {
		t.Fatalf("fpdf: %v", err)
	}
	return buf.Bytes()
}

// makeDOCX writes a minimal DOCX whose word/document.xml has body inside
// w:body.
func makeDOCX(t testing.TB, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("[Content_Types].xml")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(`<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`))
	w, err = zw.Create("word/document.xml")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
		`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` + body + `</w:body></w:document>`))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func para(style, text string) string {
	p := "<w:p>"
	if style != "" {
		p += `<w:pPr><w:pStyle w:val="` + style + `"/></w:pPr>`
	}
	return p + "<w:r><w:t>" + text + "</w:t></w:r></w:p>"
}

func read(t *testing.T, id string, in []byte, name, ct string) []knowledge.Document {
	t.Helper()
	rd, err := Default(Limits{}).Get(id)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := rd.Read(t.Context(), bytes.NewReader(in), name, ct)
	if err != nil {
		t.Fatalf("%s.Read: %v", id, err)
	}
	return docs
}

func wantCode(t *testing.T, err error, code core.ErrorCode, contains string) {
	t.Helper()
	if err == nil || core.CodeOf(err) != code || !strings.Contains(err.Error(), contains) {
		t.Fatalf("err = %v (code %s), want code %s containing %q", err, core.CodeOf(err), code, contains)
	}
}

func TestRegistryFor(t *testing.T) {
	r := Default(Limits{})
	for _, c := range []struct{ name, ct, want string }{
		{"a.txt", "text/plain; charset=utf-8", "text"},
		{"a.md", "text/plain", "markdown"}, // the extension is more telling
		{"a.md", "", "markdown"},
		{"notes", "text/markdown", "markdown"},
		{"x.bin", "application/pdf", "pdf"},
		{"report.PDF", "application/octet-stream", "pdf"},
		{"page", "text/html; charset=iso-8859-1", "html"},
		{"t.tsv", "", "csv"},
		{"d.jsonl", "", "json"},
		{"w.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"},
		{"w.docx", "application/zip-unknown", "docx"}, // an unknown type falls back on the extension
		{"https://example.com/a/b.csv?x=1", "", "csv"},
		{"https://example.com/post", "text/html; charset=utf-8", "web"}, // a fetched page: its main content
		{"https://example.com/post.html", "", "web"},
	} {
		rd, err := r.For(c.name, c.ct)
		if err != nil || rd.ID() != c.want {
			t.Errorf("For(%q, %q) = %v, %v; want %s", c.name, c.ct, rd, err, c.want)
		}
	}
	_, err := r.For("photo.png", "image/png")
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Type != "image/png" || !strings.Contains(err.Error(), `"image/png"`) || core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("For(png) = %v, want an UnsupportedError naming image/png", err)
	}
	_, err = r.For("blob.xyz", "application/octet-stream")
	if !errors.As(err, &ue) || ue.Type != ".xyz" {
		t.Fatalf("For(.xyz) = %v, want an UnsupportedError naming .xyz", err)
	}
	for _, id := range []string{"pdf", "PDFReader", "WebsiteReader", "docx"} {
		if _, err := r.Get(id); err != nil {
			t.Errorf("Get(%q): %v", id, err)
		}
	}
	var unk *UnknownError
	if _, err := r.Get("youtube"); !errors.As(err, &unk) {
		t.Errorf("Get(youtube) = %v, want an UnknownError", err)
	}
	if ft := r.ForType(); ft["application/pdf"][0] != "pdf" || ft[".md"][0] != "markdown" {
		t.Errorf("ForType = %v", ft)
	}
	if n := len(r.All()); n != 8 {
		t.Errorf("All has %d readers, want 8", n)
	}
}

func TestTextAndMarkdown(t *testing.T) {
	docs := read(t, "text", []byte("\ufeffhello \xff world"), "dir/notes.txt", "")
	if len(docs) != 1 || docs[0].Text != "hello \ufffd world" || docs[0].Name != "notes.txt" {
		t.Fatalf("text = %+v", docs)
	}
	docs = read(t, "text", []byte("caf\xe9"), "latin.txt", "text/plain; charset=iso-8859-1")
	if docs[0].Text != "café" {
		t.Fatalf("latin-1 text = %q", docs[0].Text)
	}
	md := "# Title\n\nSome *text*.\n"
	docs = read(t, "markdown", []byte(md), "a.md", "")
	if len(docs) != 1 || docs[0].Text != md || docs[0].Metadata["format"] != "markdown" {
		t.Fatalf("markdown = %+v", docs)
	}
	small := Default(Limits{MaxBytes: 10})
	rd, _ := small.Get("text")
	_, err := rd.Read(t.Context(), strings.NewReader(strings.Repeat("x", 11)), "big.txt", "")
	wantCode(t, err, core.CodeTooLarge, "10 bytes")
	if _, err := rd.Read(t.Context(), strings.NewReader(strings.Repeat("x", 10)), "ok.txt", ""); err != nil {
		t.Fatalf("10 bytes of 10: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := rd.Read(ctx, strings.NewReader("x"), "", ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v", err)
	}
}

func TestHTMLAndWeb(t *testing.T) {
	page := `<html><head><title>The  Page</title><style>body{color:red}</style><script>var secret=1</script></head>
<body><nav><a href="/">Home</a> | <a href="/about">About us</a> | <a href="/shop">Shop</a></nav>
<article><h1>Growing tomatoes</h1>` + strings.Repeat(`<p>Tomatoes need sun, water and patience. Plant them after the last frost, in rich soil, and stake them early so the stems do not break under the fruit.</p>`, 6) +
		`</article><footer>Copyright 2026 Garden Corp. All rights reserved.</footer></body></html>`
	docs := read(t, "html", []byte(page), "page.html", "text/html")
	if len(docs) != 1 {
		t.Fatalf("html = %+v", docs)
	}
	d := docs[0]
	if d.Metadata["title"] != "The Page" || !strings.Contains(d.Text, "Growing tomatoes") || !strings.Contains(d.Text, "Copyright") {
		t.Errorf("html: %+v", d)
	}
	if strings.Contains(d.Text, "secret") || strings.Contains(d.Text, "color:red") || strings.Contains(d.Text, "The  Page") {
		t.Errorf("html text has the head, a script or a style: %q", d.Text)
	}
	if !strings.Contains(d.Text, "Growing tomatoes\n") {
		t.Errorf("html: a heading is not on its own line: %q", d.Text)
	}

	docs = read(t, "web", []byte(page), "https://garden.example/tomatoes", "text/html")
	d = docs[0]
	if !strings.Contains(d.Text, "Tomatoes need sun") || strings.Contains(d.Text, "About us") || strings.Contains(d.Text, "Copyright") {
		t.Errorf("web: want the article without the navigation and footer: %q", d.Text)
	}
	if d.Metadata["url"] != "https://garden.example/tomatoes" || d.Metadata["title"] == "" {
		t.Errorf("web metadata: %v", d.Metadata)
	}
	// A charset named by the content type, or by a <meta>.
	docs = read(t, "html", []byte("<p>na\xefve</p>"), "l.html", "text/html; charset=windows-1252")
	if docs[0].Text != "naïve" {
		t.Errorf("windows-1252 page = %q", docs[0].Text)
	}
	docs = read(t, "html", []byte("<html><head><meta charset=\"iso-8859-1\"></head><body><p>gar\xe7on</p></body></html>"), "m.html", "")
	if docs[0].Text != "garçon" {
		t.Errorf("<meta charset> page = %q", docs[0].Text)
	}
	if docs = read(t, "html", []byte("<p>naïve ✓</p>"), "u.html", "text/html"); docs[0].Text != "naïve ✓" {
		t.Errorf("UTF-8 page = %q", docs[0].Text)
	}
	// No article: the visible text.
	docs = read(t, "web", []byte(`<p>tiny</p>`), "x.html", "")
	if docs[0].Text != "tiny" {
		t.Errorf("web of a tiny page = %q", docs[0].Text)
	}
	// Too deep.
	deep := strings.Repeat("<div>", 600) + "x"
	rd, _ := Default(Limits{}).Get("html")
	_, err := rd.Read(t.Context(), strings.NewReader(deep), "deep.html", "")
	wantCode(t, err, core.CodeInvalid, "malformed HTML")
}

func TestPDF(t *testing.T) {
	b := makePDF(t, "First page about apples.", "", "Third page about pears.")
	docs := read(t, "pdf", b, "fruit.pdf", "application/pdf")
	if len(docs) != 2 {
		t.Fatalf("pdf = %+v, want 2 pages with text", docs)
	}
	if !strings.Contains(docs[0].Text, "apples") || docs[0].Metadata["page"] != 1 || docs[0].Metadata["pages"] != 3 {
		t.Errorf("page 1 = %+v", docs[0])
	}
	if !strings.Contains(docs[1].Text, "pears") || docs[1].Metadata["page"] != 3 || docs[1].Name != "fruit.pdf" {
		t.Errorf("page 3 = %+v", docs[1])
	}

	rd, _ := Default(Limits{MaxPages: 2}).Get("pdf")
	_, err := rd.Read(t.Context(), bytes.NewReader(b), "fruit.pdf", "")
	wantCode(t, err, core.CodeInvalid, "3 pages, more than the 2")

	rd, _ = Default(Limits{}).Get("pdf")
	for name, bad := range map[string][]byte{
		"not a pdf":  []byte("hello"),
		"truncated":  b[:len(b)/2],
		"header":     []byte("%PDF-1.4\n%%EOF"),
		"empty page": makePDF(t, ""),
		"garbage":    append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{0xff, 0x00, '(', ')'}, 200)...),
	} {
		_, err := rd.Read(t.Context(), bytes.NewReader(bad), name, "")
		if core.CodeOf(err) != core.CodeInvalid || !strings.Contains(err.Error(), "PDF") {
			t.Errorf("%s: err = %v, want a malformed PDF error", name, err)
		}
	}
}

func TestCSV(t *testing.T) {
	docs := read(t, "csv", []byte("name,city\nAda,London\n\"Grace, Dr\",\"New\nYork\"\n"), "people.csv", "text/csv")
	want := "name: Ada, city: London\nname: Grace, Dr, city: New York"
	if len(docs) != 1 || docs[0].Text != want || docs[0].Metadata["rows"] != 2 {
		t.Fatalf("csv = %+v, want %q", docs, want)
	}
	docs = read(t, "csv", []byte("a\tb\n1\t2\n"), "t.tsv", "")
	if docs[0].Text != "a: 1, b: 2" {
		t.Errorf("tsv = %q", docs[0].Text)
	}
	docs = read(t, "csv", []byte("a;b;c\n1;;3\n4;5;6;7\n"), "semi.csv", "")
	if docs[0].Text != "a: 1, c: 3\na: 4, b: 5, c: 6, 7" {
		t.Errorf("semicolons = %q", docs[0].Text)
	}
	rd, _ := Default(Limits{MaxRows: 1}).Get("csv")
	_, err := rd.Read(t.Context(), strings.NewReader("h\n1\n2\n"), "x.csv", "")
	wantCode(t, err, core.CodeInvalid, "rows")
	_, err = rd.Read(t.Context(), strings.NewReader(""), "x.csv", "")
	wantCode(t, err, core.CodeInvalid, "no rows")
}

func TestJSON(t *testing.T) {
	docs := read(t, "json", []byte(`[{"a":1},{"b":[true,null]}]`), "x.json", "application/json")
	if len(docs) != 2 || docs[0].Text != "{\n  \"a\": 1\n}" || docs[1].Metadata["index"] != 1 {
		t.Fatalf("json array = %+v", docs)
	}
	docs = read(t, "json", []byte(`{"big": 12345678901234567890}`), "x.json", "")
	if len(docs) != 1 || !strings.Contains(docs[0].Text, "12345678901234567890") {
		t.Fatalf("json object = %+v", docs)
	}
	docs = read(t, "json", []byte("{\"n\":1}\n{\"n\":2}\n[1,2]\n"), "x.jsonl", "")
	if len(docs) != 3 || !strings.Contains(docs[2].Text, "1,\n  2") {
		t.Fatalf("jsonl = %+v", docs)
	}
	rd, _ := Default(Limits{}).Get("json")
	for _, bad := range []string{``, `{"a":`, `[1,2`, `{"a":1} trailing`} {
		if _, err := rd.Read(t.Context(), strings.NewReader(bad), "x.json", ""); core.CodeOf(err) != core.CodeInvalid {
			t.Errorf("json %q: err = %v, want invalid", bad, err)
		}
	}
}

func TestDOCX(t *testing.T) {
	body := para("Title", "Report") + para("Heading2", "Results") + para("", "It &amp; worked.") +
		`<w:p><w:r><w:t>a</w:t><w:tab/><w:t>b</w:t><w:br/><w:t>c</w:t></w:r></w:p>` +
		`<w:tbl><w:tr><w:tc>` + para("", "x1") + `</w:tc><w:tc>` + para("", "y1") + `</w:tc></w:tr>` +
		`<w:tr><w:tc>` + para("", "x2") + `</w:tc><w:tc>` + para("", "y2") + `</w:tc></w:tr></w:tbl>` + para("", "End.")
	docs := read(t, "docx", makeDOCX(t, body), "r.docx", "")
	want := "# Report\n\n## Results\n\nIt & worked.\n\na\tb\nc\n\nx1 \ty1 \nx2 \ty2 \n\nEnd."
	if len(docs) != 1 || docs[0].Text != want {
		t.Fatalf("docx text = %q, want %q", docs[0].Text, want)
	}

	rd, _ := Default(Limits{MaxUncompressed: 4096}).Get("docx")
	bomb := makeDOCX(t, para("", strings.Repeat("A", 1<<20))) // 1 MiB of one letter deflates to ~1 KiB
	if len(bomb) > 8192 {
		t.Fatalf("the bomb is %d bytes", len(bomb))
	}
	_, err := rd.Read(t.Context(), bytes.NewReader(bomb), "bomb.docx", "")
	wantCode(t, err, core.CodeInvalid, "inflates to")

	// A zip that lies about its size: the stream is capped, and the zip
	// reader checks the size too.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	big := makeDOCX(t, para("", strings.Repeat("B", 1<<16)))
	zr, _ := zip.NewReader(bytes.NewReader(big), int64(len(big)))
	for _, f := range zr.File {
		raw, _ := f.OpenRaw()
		h := f.FileHeader
		if f.Name == "word/document.xml" {
			h.UncompressedSize64 = 100
		}
		w, err := zw.CreateRaw(&h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bytes.NewBuffer(nil).ReadFrom(raw); err != nil {
			t.Fatal(err)
		}
		raw, _ = f.OpenRaw()
		if _, err := w.(interface{ Write([]byte) (int, error) }).Write(mustReadAll(t, raw)); err != nil {
			t.Fatal(err)
		}
	}
	zw.Close()
	_, err = rd.Read(t.Context(), bytes.NewReader(buf.Bytes()), "liar.docx", "")
	wantCode(t, err, core.CodeInvalid, "DOCX")

	rd, _ = Default(Limits{}).Get("docx")
	for name, bad := range map[string][]byte{
		"not a zip": []byte("PK\x03\x04 nope"),
		"no document": func() []byte {
			var b bytes.Buffer
			z := zip.NewWriter(&b)
			z.Create("x.txt")
			z.Close()
			return b.Bytes()
		}(),
		"bad xml": makeDOCX(t, "<w:p><w:r><w:t>unclosed"),
	} {
		if _, err := rd.Read(t.Context(), bytes.NewReader(bad), name, ""); core.CodeOf(err) != core.CodeInvalid {
			t.Errorf("%s: err = %v, want a malformed DOCX error", name, err)
		}
	}
}

func mustReadAll(t *testing.T, r interface{ Read([]byte) (int, error) }) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestPDFTimeout(t *testing.T) {
	pages := make([]string, 300)
	for i := range pages {
		pages[i] = strings.Repeat("A page of text about the timeout. ", 20)
	}
	b := makePDF(t, pages...)
	old := PDFTimeout
	PDFTimeout = time.Nanosecond
	defer func() { PDFTimeout = old }()
	rd, _ := Default(Limits{MaxPages: 1000}).Get("pdf")
	_, err := rd.Read(t.Context(), bytes.NewReader(b), "slow.pdf", "")
	wantCode(t, err, core.CodeInvalid, "not parsed within")
	PDFTimeout = old
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := rd.Read(ctx, bytes.NewReader(b), "slow.pdf", ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled PDF read: %v", err)
	}
}
