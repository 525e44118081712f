package httptool_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentgate/agentgate/core/tool/httptool"
)

// echo is what the fuzz server answers: the request as it decoded it.
type echo struct {
	Path string `json:"path"`
	Q    string `json:"q"`
	Body string `json:"body"`
}

// FuzzCall sends arbitrary arguments to tools of every kind against a
// loopback server. No input may panic; a string argument must reach the
// server intact, whatever it holds.
func FuzzCall(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `1`, `{"x":`, `{"x":"a"} 1`,
		`{"x":"Paris","q":"metric"}`,
		`{"x":"São Paulo/SP","q":"a b+c&d=e?f#g%20"}`,
		`{"x":"北京","q":"😀","n":1e400,"frag":"#"}`,
		`{"x":"..","q":"\u0000"}`,
		`{"x":"\ud800","q":"\ufffd"}`,
		`{"x":1,"q":true,"list":[1,"a b",null,[2],{"k":"v"}],"obj":{"a":1,"b":null,"c d":2}}`,
		`{"x":"a","list":[],"obj":{},"r":"/a/../b?c#d"}`,
		`{"x":{"deep":[[[[{"a":null}]]]]},"q":[null]}`,
		`{"x":"` + strings.Repeat("é", 300) + `"}`,
		`{"r":"` + strings.Repeat("%", 40) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if r.URL.Path == "/fail" {
			// Short: the client reads it all and keeps the connection.
			http.Error(w, "no", http.StatusTeapot)
			return
		}
		_ = json.NewEncoder(w).Encode(echo{Path: r.URL.Path, Q: r.URL.Query().Get("q"), Body: string(body)})
	}))
	f.Cleanup(srv.Close)

	params := props("x", "q", "n", "list", "obj", "frag", "r")
	get, err := httptool.New(httptool.Spec{Name: "get", URL: srv.URL + "/v/{x}?k=1{&q,list*,obj*,n}{#frag}", Parameters: params, Timeout: 5 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	var others []func(context.Context, json.RawMessage) (string, error)
	for _, spec := range []httptool.Spec{
		{Name: "reserved", URL: srv.URL + "/r/{+r}{/list*}{;obj*}{.n}{?x:3}"},
		{Name: "post", Method: "POST", URL: srv.URL + "/p{?q}"},
		{Name: "body", Method: "PATCH", URL: srv.URL + "/b",
			Body: `{"x": {{json .x}}, "q": "{{.q}}", "u": "{{urlquery .q}}", "n": {{printf "%v" .n}}{{range $k, $v := .obj}}, {{json $k}}: {{json $v}}{{end}}{{range .list}}{{.}}{{end}}}`},
		{Name: "fail", Method: "DELETE", URL: srv.URL + "/fail", Body: `{{.x}}{{.q}}`},
		// Each response over the limit costs a connection: keep them rare,
		// or the fuzzer runs out of ports.
		{Name: "small", URL: srv.URL + "/s/{x}", MaxResponseBytes: 256},
	} {
		spec.Parameters, spec.Timeout = params, 5*time.Second
		tl, err := httptool.New(spec)
		if err != nil {
			f.Fatal(err)
		}
		others = append(others, tl.Call)
	}

	f.Fuzz(func(t *testing.T, args []byte) {
		ctx := context.Background()
		out, err := get.Call(ctx, args)
		if err == nil {
			if !utf8.ValidString(out) {
				t.Fatalf("invalid UTF-8 result %q", out)
			}
			checkEcho(t, args, out)
		} else if !strings.HasPrefix(err.Error(), "http tool get: ") {
			t.Fatalf("error without the tool's name: %v", err)
		}
		for _, call := range others {
			out, err := call(ctx, args)
			if err == nil && !utf8.ValidString(out) {
				t.Fatalf("invalid UTF-8 result %q", out)
			}
		}
	})
}

// checkEcho checks that string arguments x and q reached the server as
// they were sent.
func checkEcho(t *testing.T, args []byte, out string) {
	var in map[string]any
	if json.Unmarshal(args, &in) != nil {
		return
	}
	var got echo
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("bad echo %q: %v", out, err)
	}
	if x, ok := in["x"].(string); ok && got.Path != "/v/"+x {
		t.Fatalf("x = %q reached the server as path %q", x, got.Path)
	}
	if q, ok := in["q"].(string); ok && got.Q != q {
		t.Fatalf("q = %q reached the server as %q", q, got.Q)
	}
}

// stub answers every request without a network.
type stub struct{}

func (stub) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok")), ContentLength: 2, Request: r,
	}, nil
}

// FuzzNew builds tools from arbitrary specs and calls the valid ones (with
// a transport that never leaves the process). Nothing may panic.
func FuzzNew(f *testing.F) {
	for _, s := range [][4]string{
		{"https://api.example.com/{a}{?b,c}", "", "GET", `{"a":"x","b":1}`},
		{"https://api.example.com/{+a}{/b*}{#c}", `{"q": {{json .a}}}`, "post", `{"a":"x/y","b":["1","2"]}`},
		{"http://{+a}/x{;b,c*}{.x}", `{{range .b}}{{.}}{{end}}`, "put", `{"a":"h:1","b":[1],"c":{"k":"v"}}`},
		{"https://e.com/{a:3}{&b*}", `{{.a}} {{.zz}}`, "PATCH", `{"a":"ééé"}`},
		{"https://e.com/{x", `{{`, "FETCH", `{`},
		{"{a}://e.com", "", "DELETE", `{"a":"https"}`},
		{"https://e.com/%zz{a}", `{{template "x"}}`, "HEAD", `[]`},
	} {
		f.Add(s[0], s[1], s[2], []byte(s[3]))
	}
	client := &http.Client{Transport: stub{}}
	f.Fuzz(func(t *testing.T, url, body, method string, args []byte) {
		tl, err := httptool.New(httptool.Spec{
			Name: "fuzz", URL: url, Body: body, Method: method, Parameters: props("a", "b", "c", "x"),
			HTTPClient: client, Timeout: time.Second,
		})
		if err != nil {
			if tl != nil {
				t.Fatal("a tool and an error")
			}
			return
		}
		if _, err := tl.Call(context.Background(), args); err != nil && !strings.HasPrefix(err.Error(), "http tool fuzz: ") {
			t.Fatalf("error without the tool's name: %v", err)
		}
	})
}
