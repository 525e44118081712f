package reader

import (
	"bytes"
	"context"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentgate/agentgate/core"
)

// FuzzReaders feeds every reader the same bytes: none may panic, each
// answers documents of valid UTF-8 or an invalid / too-large error, never
// another kind.
func FuzzReaders(f *testing.F) {
	f.Add(makePDF(f, "Hello PDF", "page two"))
	f.Add(makeDOCX(f, para("Heading1", "Title")+para("", "text")))
	f.Add([]byte("a,b\n1,2\n\"x\ny\",3\n"))
	f.Add([]byte(`[{"a":1},{"b":[true,null,"x"]}]`))
	f.Add([]byte("{\"n\":1}\n{\"n\":2}\n"))
	f.Add([]byte("<html><head><title>T</title></head><body><article><p>Body text.</p></article></body></html>"))
	f.Add([]byte("# Markdown\n\ntext\n"))
	f.Add([]byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[2 0 R]/Count 1>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"))
	reg := Default(Limits{MaxBytes: 1 << 20, MaxPages: 20, MaxRows: 1000, MaxUncompressed: 1 << 20})
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, rd := range reg.All() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			docs, err := rd.Read(ctx, bytes.NewReader(in), "fuzz", "")
			cancel()
			if err != nil {
				if c := core.CodeOf(err); c != core.CodeInvalid && c != core.CodeTooLarge {
					t.Fatalf("%s: error of code %s: %v", rd.ID(), c, err)
				}
				continue
			}
			for _, d := range docs {
				if !utf8.ValidString(d.Text) {
					t.Fatalf("%s: document text is not valid UTF-8: %q", rd.ID(), d.Text)
				}
			}
		}
	})
}
