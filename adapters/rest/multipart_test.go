package rest

import (
	"bytes"
	"maps"
	"mime/multipart"
	"strings"
	"testing"
)

// formOf writes fields (name, value pairs, in order) with mime/multipart's
// writer and returns the Content-Type and body.
func formOf(t testing.TB, boundary string, fields ...string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if boundary != "" {
		if err := w.SetBoundary(boundary); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i+1 < len(fields); i += 2 {
		if err := w.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.Bytes()
}

// checkSame fails unless ParseForm and the library path agree on
// (contentType, body), and reports whether the fast path took it.
func checkSame(t testing.TB, contentType string, body []byte) (fast bool) {
	t.Helper()
	want, wantErr := parseFormLibrary(contentType, body, nil)
	if b, ok := simpleBoundary(contentType); ok {
		var got Form
		if got, fast = fastMultipart(body, b); fast {
			if wantErr != nil {
				t.Fatalf("fast path accepted what mime/multipart rejects (%v): %q", wantErr, body)
			}
			if !maps.Equal(got, want) {
				t.Fatalf("fast path read %q, mime/multipart %q, from %q", got, want, body)
			}
		}
	}
	got, err := ParseForm(contentType, body)
	if (err == nil) != (wantErr == nil) || !maps.Equal(got, want) {
		t.Fatalf("ParseForm = %q, %v; library = %q, %v", got, err, want, wantErr)
	}
	return fast
}

func TestFastMultipartReadsWhatClientsSend(t *testing.T) {
	// Shapes written by mime/multipart's writer (also curl -F, fetch and
	// Python clients: one Content-Disposition header per text field).
	cases := [][]string{
		{"message", "hi"},
		{"message", "hi", "stream", "false", "background", "false"},
		{"message", "", "stream", "true"},
		{"message", "line one\r\nline two\n--not a boundary\r\n--", "user_id", "u-1"},
		{"message", "héllo 👋", "session_id", "s; x=\"y\""},
		{"message", "first", "message", "second"}, // the last one wins
		{"a b", "spaces in the name", "x.y-z", "1"},
	}
	for _, fields := range cases {
		for _, boundary := range []string{"", "agentbench-boundary-7d1c4e", "------------------------d74496d66958873e", "----formdata-undici-0123456789"} {
			ct, body := formOf(t, boundary, fields...)
			if !checkSame(t, ct, body) {
				t.Errorf("fast path refused a plain form %q", body)
			}
		}
	}
}

func TestFastMultipartLeavesTheRestToTheLibrary(t *testing.T) {
	const b = "XyZ"
	ct := "multipart/form-data; boundary=" + b
	part := "--XyZ\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhi\r\n"
	for _, body := range []string{
		part + "--XyZ--",                  // the minimal form: taken
		part + "--XyZ--\r\nepilogue",      // an epilogue after the close line: taken
		"preamble\r\n" + part + "--XyZ--", // a preamble
		part + "--XyZ--trailing",          // junk on the close line
		part + "--XyZ-- \r\n",             // whitespace after the close delimiter
		part + "--XyZ \r\n" + strings.TrimPrefix(part, "--XyZ\r\n") + "--XyZ--", // whitespace after a delimiter
		"--XyZ\r\nContent-Disposition: form-data; name=\"message\"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--XyZ--",
		"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nhi\r\n--XyZ--",
		"--XyZ\r\nContent-Disposition: form-data; name=\"a\\\"b\"\r\n\r\nhi\r\n--XyZ--",
		"--XyZ\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nhi\r\n--XyZ--",
		"--XyZ\r\nContent-Disposition: form-data; name=message\r\n\r\nhi\r\n--XyZ--",
		"--XyZ\r\nContent-Disposition: Form-Data; name=\"message\"\r\n\r\nhi\r\n--XyZ--",
		"--XyZ\r\ncontent-disposition:form-data; name=\"message\"\r\n\r\nhi\r\n--XyZ--",
		"--XyZ\r\nContent-Disposition: form-data; name=\"message\" \r\n\r\nhi\r\n--XyZ--",
		"--XyZ\r\nContent-Disposition: form-data;\r\n name=\"message\"\r\n\r\nhi\r\n--XyZ--",
		"--XyZ\nContent-Disposition: form-data; name=\"message\"\n\nhi\n--XyZ--",
		"--XyZ\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--XyZ--",
		"--XyZ\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhi\r\n--XyZX\r\n--XyZ--",
		"--XyZ\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhi",
		"--XyZ\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhi\r\n--XyZ",
		"--XyZ\r\nContent-Disposition: form-data; name=\"message\"",
		"",
	} {
		checkSame(t, ct, []byte(body))
	}
	// Content-Types the fast path leaves to mime.ParseMediaType.
	_, body := formOf(t, "XyZ", "message", "hi")
	for _, ct := range []string{
		"multipart/form-data; boundary=\"XyZ\"",
		"Multipart/Form-Data; boundary=XyZ",
		"multipart/form-data;boundary=XyZ",
		"multipart/form-data; boundary=XyZ; charset=utf-8",
		"multipart/form-data; boundary=",
		"multipart/mixed; boundary=XyZ",
	} {
		if _, ok := simpleBoundary(ct); ok && ct != "multipart/form-data; boundary=XyZ" {
			t.Errorf("simpleBoundary took %q", ct)
		}
		checkSame(t, ct, body)
	}
	// Many parts: left to the library and its field limit.
	fields := []string{}
	for i := range maxFastParts + 1 {
		fields = append(fields, "f"+strings.Repeat("x", i), "v")
	}
	ct, body = formOf(t, "XyZ", fields...)
	if checkSame(t, ct, body) {
		t.Error("fast path took more than maxFastParts parts")
	}
}

// FuzzMultipartFastPath checks that wherever the fast path reads a body,
// it reads exactly what mime/multipart reads, and that ParseForm answers
// as the library path does on every input.
func FuzzMultipartFastPath(f *testing.F) {
	ct, body := formOf(f, "XyZ", "message", "hi", "stream", "false", "background", "false")
	f.Add(ct, body)
	f.Add("multipart/form-data; boundary=XyZ", []byte("--XyZ\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n--XyZ\r\n\r\n--XyZ--"))
	f.Add("multipart/form-data; boundary=XyZ", []byte("--XyZ\r\nContent-Disposition: form-data; name=\"m\"\r\n\r\na\r\n--XyZ--\r\nx"))
	f.Add("multipart/form-data; boundary=a", []byte("--a\r\nCONTENT-DISPOSITION:   form-data; name=\"m\"\r\n\r\n\r\n--a\r\n--a--"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		checkSame(t, ct, body)
	})
}

func BenchmarkParseRunForm(b *testing.B) {
	ct, body := formOf(b, "agentbench-boundary-7d1c4e", "message", "How fast can you answer this benchmark message?", "stream", "false", "background", "false")
	for _, c := range []struct {
		name  string
		parse func(string, []byte) (Form, error)
	}{{"ParseForm", ParseForm}, {"library", func(ct string, b []byte) (Form, error) { return parseFormLibrary(ct, b, nil) }}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.parse(ct, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
