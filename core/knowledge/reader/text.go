package reader

import (
	"context"
	"io"
	nurl "net/url"
	"strings"

	"codeberg.org/readeck/go-readability/v2"
	"codeberg.org/readeck/go-readability/v2/render"
	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"

	"github.com/agentgate/agentgate/core/knowledge"
)

// Text reads plain text.
type Text struct{ Limits Limits }

func (Text) ID() string          { return "text" }
func (Text) Name() string        { return "Text" }
func (Text) Description() string { return "Plain text, as it is." }

func (t Text) Read(ctx context.Context, r io.Reader, name, contentType string) ([]knowledge.Document, error) {
	b, err := readAll(ctx, r, t.Limits.withDefaults().MaxBytes, "text")
	if err != nil {
		return nil, err
	}
	return []knowledge.Document{{Name: title(name), Text: text(decode(b, contentType))}}, nil
}

// Markdown reads Markdown (kept as it is, so the Markdown chunker sees its
// headings).
type Markdown struct{ Limits Limits }

func (Markdown) ID() string   { return "markdown" }
func (Markdown) Name() string { return "Markdown" }
func (Markdown) Description() string {
	return "Markdown, kept as it is (chunk it with the markdown chunker to split at its headings)."
}

func (m Markdown) Read(ctx context.Context, r io.Reader, name, contentType string) ([]knowledge.Document, error) {
	b, err := readAll(ctx, r, m.Limits.withDefaults().MaxBytes, "Markdown")
	if err != nil {
		return nil, err
	}
	return []knowledge.Document{{Name: title(name), Text: text(decode(b, contentType)), Metadata: map[string]any{"format": "markdown"}}}, nil
}

// parseHTML parses b, decoded from the charset its content type, a BOM or
// a <meta> names (golang.org/x/net/html refuses elements nested deeper
// than 512).
func parseHTML(b []byte, contentType string) (doc *html.Node, err error) {
	defer guard("HTML", &err)
	if _, name, _ := charset.DetermineEncoding(b, contentType); name != "utf-8" {
		b = decodeWith(b, name)
	}
	doc, err = html.Parse(strings.NewReader(text(b)))
	if err != nil {
		return nil, malformed("HTML", err)
	}
	return doc, nil
}

// htmlTitle is the text of the document's first <title>.
func htmlTitle(doc *html.Node) string {
	var find func(n *html.Node) string
	find = func(n *html.Node) string {
		if n.Type == html.ElementNode && n.Data == "title" {
			var b strings.Builder
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.TextNode {
					b.WriteString(c.Data)
				}
			}
			return strings.Join(strings.Fields(b.String()), " ")
		}
		if n.Type == html.ElementNode && n.Data == "body" {
			return ""
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if t := find(c); t != "" {
				return t
			}
		}
		return ""
	}
	return find(doc)
}

// visibleText is the document's text as a browser shows it.
func visibleText(doc *html.Node) (s string, err error) {
	defer guard("HTML", &err)
	return strings.TrimSpace(render.InnerText(doc)), nil
}

// HTML reads an HTML document's visible text.
type HTML struct{ Limits Limits }

func (HTML) ID() string   { return "html" }
func (HTML) Name() string { return "HTML" }
func (HTML) Description() string {
	return "An HTML document's visible text (no scripts, styles or head)."
}

func (h HTML) Read(ctx context.Context, r io.Reader, name, contentType string) ([]knowledge.Document, error) {
	b, err := readAll(ctx, r, h.Limits.withDefaults().MaxBytes, "HTML")
	if err != nil {
		return nil, err
	}
	doc, err := parseHTML(b, contentType)
	if err != nil {
		return nil, err
	}
	body, err := visibleText(doc)
	if err != nil {
		return nil, err
	}
	d := knowledge.Document{Name: title(name), Text: body, Metadata: map[string]any{}}
	if t := htmlTitle(doc); t != "" {
		d.Metadata["title"] = t
	}
	return []knowledge.Document{d}, nil
}

// Web reads a web page's main content (go-readability), falling back on
// its visible text. The name, when a URL, resolves the page's links.
type Web struct{ Limits Limits }

func (Web) ID() string   { return "web" }
func (Web) Name() string { return "Web page" }
func (Web) Description() string {
	return "A web page's main content (its article, without navigation, ads or footers)."
}

func (w Web) Read(ctx context.Context, r io.Reader, name, contentType string) ([]knowledge.Document, error) {
	b, err := readAll(ctx, r, w.Limits.withDefaults().MaxBytes, "web page")
	if err != nil {
		return nil, err
	}
	doc, err := parseHTML(b, contentType)
	if err != nil {
		return nil, err
	}
	meta := map[string]any{}
	var pageURL *nurl.URL
	if u, err := nurl.Parse(name); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		pageURL = u
		meta["url"] = name
	}
	body, t := article(doc, pageURL)
	if body == "" {
		if body, err = visibleText(doc); err != nil {
			return nil, err
		}
	}
	if t == "" {
		t = htmlTitle(doc)
	}
	if t != "" {
		meta["title"] = t
	}
	return []knowledge.Document{{Name: title(name), Text: body, Metadata: meta}}, nil
}

// article is the page's main content and title by go-readability ("" when
// it finds none or fails).
func article(doc *html.Node, pageURL *nurl.URL) (body, t string) {
	defer func() {
		if recover() != nil {
			body, t = "", ""
		}
	}()
	a, err := readability.FromDocument(doc, pageURL)
	if err != nil || a.Node == nil {
		return "", ""
	}
	var buf strings.Builder
	if err := a.RenderText(&buf); err != nil {
		return "", ""
	}
	return strings.TrimSpace(buf.String()), a.Title()
}
