package rest

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
)

func multipartBody(t testing.TB, fields map[string]string) (string, []byte) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.Bytes()
}

func TestParseRunForm(t *testing.T) {
	t.Parallel()
	ct, body := multipartBody(t, map[string]string{"message": "hi", "stream": "false", "session_id": " s1 ", "background": "TRUE"})
	f, err := ParseRunForm(ct, body)
	if err != nil {
		t.Fatal(err)
	}
	if f.Message != "hi" || f.Stream || !f.Background || f.SessionID != "s1" {
		t.Fatalf("multipart form = %+v", f)
	}
	f, err = ParseRunForm("application/x-www-form-urlencoded", []byte("message=hello+there&user_id=u"))
	if err != nil || f.Message != "hello there" || !f.Stream || f.Background || f.UserID != "u" {
		t.Fatalf("urlencoded form = %+v, %v", f, err)
	}
	f, err = ParseRunForm("application/json", []byte(`{"message":"j","stream":false}`))
	if err != nil || f.Message != "j" || f.Stream {
		t.Fatalf("json form = %+v, %v", f, err)
	}
	bad := []struct{ ct, body string }{
		{"application/x-www-form-urlencoded", "stream=true"},            // no message
		{"application/x-www-form-urlencoded", "message=x&stream=maybe"}, // bad bool
		{"application/x-www-form-urlencoded", "message=%zz"},            // bad escape
		{"multipart/form-data", "message=x"},                            // no boundary
		{"multipart/form-data; boundary=zz", "--zz\r\nbroken"},          // malformed
		{"text/plain", "message=x"},                                     // unsupported
		{"", "message=x"},                                               // no content type
		{"application/json", `{"message":`},                             // bad JSON
		{"application/x-www-form-urlencoded; charset", "message=x"},     // bad media type
	}
	for _, b := range bad {
		if _, err := ParseRunForm(b.ct, []byte(b.body)); core.CodeOf(err) != core.CodeInvalid {
			t.Errorf("ParseRunForm(%q, %q) = %v, want invalid", b.ct, b.body, err)
		}
	}
}

func TestParseRunFormFiles(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("message", "x")
	fw, _ := w.CreateFormFile("files", "a.txt")
	_, _ = fw.Write([]byte("data"))
	fw, _ = w.CreateFormFile("files", "b.md")
	_, _ = fw.Write([]byte("# b"))
	_ = w.Close()
	f, err := ParseRunForm(w.FormDataContentType(), buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Files) != 2 || f.Files[0].Name != "a.txt" || string(f.Files[0].Body) != "data" || f.Files[1].Name != "b.md" || f.Files[0].ContentType != "application/octet-stream" {
		t.Fatalf("files %+v", f.Files)
	}
	// A file in another field is refused, naming the field to use.
	buf.Reset()
	w = multipart.NewWriter(&buf)
	_ = w.WriteField("message", "x")
	fw, _ = w.CreateFormFile("attachment", "a.txt")
	_, _ = fw.Write([]byte("data"))
	_ = w.Close()
	if _, err := ParseRunForm(w.FormDataContentType(), buf.Bytes()); core.CodeOf(err) != core.CodeInvalid || !strings.Contains(err.Error(), `"files"`) {
		t.Fatalf("file in another field: %v", err)
	}
	// Forms other than a run's still refuse files.
	if _, err := ParseForm(w.FormDataContentType(), buf.Bytes()); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("ParseForm with a file: %v", err)
	}
}

func TestParseContinueForm(t *testing.T) {
	t.Parallel()
	f, err := ParseContinueForm("application/x-www-form-urlencoded",
		[]byte(`tools=[{"tool_call_id":"c1","tool_name":"calculator","confirmed":false,"confirmation_note":"no"}]&stream=false`))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tools) != 1 || f.Tools[0].Confirmed == nil || *f.Tools[0].Confirmed || f.Tools[0].ConfirmationNote != "no" || f.Stream {
		t.Fatalf("continue form = %+v", f)
	}
	for _, body := range []string{"", "tools=", "tools=%7B", "tools={}", "tools=[]&stream=x"} {
		if _, err := ParseContinueForm("application/x-www-form-urlencoded", []byte(body)); core.CodeOf(err) != core.CodeInvalid {
			t.Errorf("ParseContinueForm(%q) = %v, want invalid", body, err)
		}
	}
}

func TestParseEventIndex(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"": -1, "0": 0, " 12 ": 12, "-1": -1} {
		got, err := ParseEventIndex(in)
		if err != nil || got != want {
			t.Errorf("ParseEventIndex(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "1.5", "-2", "99999999999999999999", "0x10"} {
		if _, err := ParseEventIndex(in); core.CodeOf(err) != core.CodeInvalid {
			t.Errorf("ParseEventIndex(%q) = %v, want invalid", in, err)
		}
	}
}

// TestRunFormKnowledgeFilters: knowledge_filters is a dict filter, an
// expression or a list of expressions (their AND), validated as
// /knowledge/search's filters; anything else is invalid.
func TestRunFormKnowledgeFilters(t *testing.T) {
	parse := func(body string) (map[string]any, error) {
		f, err := ParseRunForm("application/x-www-form-urlencoded", []byte("message=hi&knowledge_filters="+url.QueryEscape(body)))
		if err != nil {
			return nil, err
		}
		return f.KnowledgeFilters, nil
	}
	for body, want := range map[string]string{
		`{"topic":"bees"}`:                    `{"topic":"bees"}`,
		`{"op":"EQ","key":"topic","value":1}`: `{"key":"topic","op":"EQ","value":1}`,
		`[{"op":"EQ","key":"a","value":"x"}]`: `{"key":"a","op":"EQ","value":"x"}`,
		`[{"op":"EQ","key":"a","value":"x"},{"op":"NOT","condition":{"op":"EQ","key":"b","value":2}}]`: `{"conditions":[{"key":"a","op":"EQ","value":"x"},{"condition":{"key":"b","op":"EQ","value":2},"op":"NOT"}],"op":"AND"}`,
		``: `null`, `null`: `null`, `None`: `null`, `{}`: `null`,
	} {
		got, err := parse(body)
		if err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if b, _ := json.Marshal(got); string(b) != want {
			t.Errorf("%s: filters %s, want %s", body, b, want)
		}
	}
	for _, body := range []string{`not json`, `"bees"`, `3`, `[1]`, `[{"op":"EQ","key":"a"}]`,
		`{"op":"AND","conditions":"x"}`, `{"topic":{"nested":1}}`} {
		if _, err := parse(body); core.CodeOf(err) != core.CodeInvalid || !strings.Contains(err.Error(), "knowledge_filters") {
			t.Errorf("%s: %v, want invalid naming knowledge_filters", body, err)
		}
	}
}

func FuzzParseRunForm(f *testing.F) {
	ct, body := multipartBody(f, map[string]string{"message": "hi", "stream": "true"})
	f.Add(ct, body)
	f.Add("application/x-www-form-urlencoded", []byte("message=a&background=1"))
	f.Add("application/json", []byte(`{"message":"x","stream":false}`))
	f.Add("application/json", []byte(`{"message":"x","knowledge_filters":{"op":"OR","conditions":[{"op":"EQ","key":"a","value":1}]}}`))
	f.Add("application/x-www-form-urlencoded", []byte(`message=a&knowledge_filters=[{"op":"IN","key":"k","values":["x"]},{"op":"NOT","condition":{"op":"GT","key":"n","value":2}}]`))
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhi\r\n--x--"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		form, err := ParseRunForm(ct, body)
		if err == nil && form.Message == "" {
			t.Fatal("accepted a form without a message")
		}
		if err != nil && core.CodeOf(err) != core.CodeInvalid {
			t.Fatalf("error of code %s: %v", core.CodeOf(err), err)
		}
	})
}

func FuzzParseContinueForm(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", []byte(`tools=[{"tool_call_id":"c","confirmed":true}]`))
	f.Add("application/json", []byte(`{"tools":[{"tool_call_id":"c","confirmed":false}]}`))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		if _, err := ParseContinueForm(ct, body); err != nil && core.CodeOf(err) != core.CodeInvalid {
			t.Fatalf("error of code %s: %v", core.CodeOf(err), err)
		}
	})
}

func FuzzParseEventIndex(f *testing.F) {
	for _, s := range []string{"", "0", "17", "-1", "abc", " 3 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseEventIndex(s)
		if err == nil && n < -1 {
			t.Fatalf("accepted %d", n)
		}
	})
}
