package rest

import (
	"bytes"
	"context"
	"io"
	"testing"
	"testing/iotest"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/media"
)

// FuzzMultipartStream fuzzes the streamed multipart path of a run form:
// the body read a byte at a time, its files stored through a real
// directory store under small limits. It never panics, errors are the
// caller's (invalid or too large), and no stored medium is over the limit.
func FuzzMultipartStream(f *testing.F) {
	_, body := multipartBody(f, map[string]string{"message": "hi"})
	f.Add("x", []byte("--x\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhi\r\n--x\r\n"+
		"Content-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x--\r\n"))
	f.Add("x", []byte("--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"b.txt\"\r\n\r\n"+string(bytes.Repeat([]byte("y"), 80))+"\r\n--x--"))
	f.Add("b", body)
	const maxFile, maxRun, maxFields = 64, 100, 32
	st, err := media.NewDirStore(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	res := &media.Resolver{Store: st, Limits: media.Limits{MaxBytes: maxFile, TempDir: f.TempDir()}, MaxRunBytes: maxRun}
	f.Fuzz(func(t *testing.T, boundary string, body []byte) {
		if boundary == "" {
			return
		}
		up := res.NewUpload()
		ctx := context.Background()
		form, err := parseMultipart(iotest.OneByteReader(bytes.NewReader(body)), boundary, maxFields, func(_, name, mt string, r io.Reader) error {
			return up.AddStream(ctx, r, name, mt)
		}, nil)
		if err != nil {
			if c := core.CodeOf(err); c != core.CodeInvalid && c != core.CodeTooLarge {
				t.Fatalf("error of code %s: %v", c, err)
			}
			return
		}
		var fields int
		for _, v := range form {
			fields += len(v)
		}
		if fields > maxFields {
			t.Fatalf("accepted %d bytes of fields, limit %d", fields, maxFields)
		}
		refs, err := up.Resolve(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, m := range refs {
			if m.Size > maxFile {
				t.Fatalf("stored %d bytes, limit %d", m.Size, maxFile)
			}
			total += m.Size
		}
		if total > maxRun {
			t.Fatalf("stored %d bytes for the run, limit %d", total, maxRun)
		}
	})
}
