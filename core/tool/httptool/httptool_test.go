package httptool_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/core/tool/httptool"
	"github.com/agentgate/agentgate/internal/testutil"
)

// request is what a test server received.
type request struct {
	Method, URI, Body string
	Header            http.Header
}

// recorder is a loopback server that records requests and answers with
// reply (default: 200 "ok").
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newRecorder(t *testing.T, reply http.HandlerFunc) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, request{Method: r.Method, URI: r.RequestURI, Body: string(body), Header: r.Header.Clone()})
		rec.mu.Unlock()
		if reply != nil {
			reply(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) last(t *testing.T) request {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		t.Fatal("the server received no request")
	}
	return rec.reqs[len(rec.reqs)-1]
}

func props(names ...string) map[string]any {
	p := map[string]any{}
	for _, n := range names {
		p[n] = map[string]any{}
	}
	return map[string]any{"type": "object", "properties": p}
}

func mustNew(t *testing.T, spec httptool.Spec) *tool.Tool {
	t.Helper()
	tl, err := httptool.New(spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tl
}

func call(t *testing.T, tl *tool.Tool, args string) (string, error) {
	t.Helper()
	return tl.Call(context.Background(), json.RawMessage(args))
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error containing %q, got none", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

func TestGETExpandsURLTemplate(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	params := props("city", "units", "days", "tags", "filter", "path", "segs", "flag")
	for _, c := range []struct {
		name, tmpl, args, want string
	}{
		{"path and query", "/cities/{city}/weather{?units,days}", `{"city":"Paris","units":"metric","days":3}`, "/cities/Paris/weather?units=metric&days=3"},
		{"spaces and slashes", "/cities/{city}/weather", `{"city":"São Paulo/SP"}`, "/cities/S%C3%A3o%20Paulo%2FSP/weather"},
		{"unicode", "/cities/{city}{?units}", `{"city":"北京","units":"°C ✓"}`, "/cities/%E5%8C%97%E4%BA%AC?units=%C2%B0C%20%E2%9C%93"},
		{"emoji", "/q{?city}", `{"city":"😀"}`, "/q?city=%F0%9F%98%80"},
		{"query injection", "/q{?city,units}", `{"city":"x?admin=1&y#z","units":"a+b"}`, "/q?city=x%3Fadmin%3D1%26y%23z&units=a%2Bb"},
		{"missing and null optional", "/cities/{city}/weather{?units,days}", `{"city":"Oslo","units":null}`, "/cities/Oslo/weather"},
		{"empty string", "/q{?city,units}", `{"city":"","units":"x"}`, "/q?city=&units=x"},
		{"numbers and booleans as JSON text", "/q{?days,flag}", `{"days":12345678901234567890.50,"flag":true}`, "/q?days=12345678901234567890.50&flag=true"},
		{"exponent kept", "/q{?days}", `{"days":1e3}`, "/q?days=1e3"},
		{"list", "/q{?tags}", `{"tags":["a b","c/d",null,2]}`, "/q?tags=a%20b,c%2Fd,2"},
		{"exploded list", "/q{?tags*}", `{"tags":["a b","é"]}`, "/q?tags=a%20b&tags=%C3%A9"},
		{"empty list undefined", "/q{?tags,units}", `{"tags":[],"units":"x"}`, "/q?units=x"},
		{"nested members as JSON", "/q{?tags}", `{"tags":[[1,2],{"k":"v"}]}`, "/q?tags=%5B1%2C2%5D,%7B%22k%22%3A%22v%22%7D"},
		{"object exploded, sorted keys", "/q{?filter*}", `{"filter":{"b":2,"a":"x y","n":null}}`, "/q?a=x%20y&b=2"},
		{"object", "/q{?filter}", `{"filter":{"b":"/","a":1}}`, "/q?filter=a,1,b,%2F"},
		{"reserved expansion keeps slashes", "/files/{+path}", `{"path":"docs/a b/ü.txt"}`, "/files/docs/a%20b/%C3%BC.txt"},
		{"path segments", "/p{/segs*}", `{"segs":["a","b c","d/e"]}`, "/p/a/b%20c/d%2Fe"},
		{"no arguments", "/q{?city}", ``, "/q"},
		{"null arguments", "/q{?city}", `null`, "/q"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tl := mustNew(t, httptool.Spec{Name: "weather", URL: srv.URL + c.tmpl, Parameters: params})
			out, err := call(t, tl, c.args)
			if err != nil || out != "ok" {
				t.Fatalf("Call = %q, %v", out, err)
			}
			// Requests of parallel subtests would interleave: none here.
			got := srv.last(t)
			if got.Method != http.MethodGet || got.URI != c.want {
				t.Fatalf("request %s %s, want GET %s", got.Method, got.URI, c.want)
			}
			if got.Body != "" || got.Header.Get("Content-Type") != "" {
				t.Fatalf("GET sent a body %q (Content-Type %q)", got.Body, got.Header.Get("Content-Type"))
			}
		})
	}
}

func TestURLArgumentErrors(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	tl := mustNew(t, httptool.Spec{Name: "search", URL: srv.URL + "/q{?filter*,city}", Parameters: props("filter", "city")})
	_, err := call(t, tl, `{"filter":{"a b":1}}`)
	wantErr(t, err, "http tool search", `argument "filter"`, `"a b"`)
	_, err = call(t, tl, `{"city":"a\u0000b"}`)
	wantErr(t, err, `argument "city"`, "NUL")

	host := mustNew(t, httptool.Spec{Name: "anyhost", URL: "http://{+host}/x", Parameters: props("host")})
	_, err = call(t, host, `{}`)
	wantErr(t, err, "http tool anyhost", "bad URL", "no host")
	out, err := call(t, host, `{"host":"`+strings.TrimPrefix(srv.URL, "http://")+`"}`)
	if err != nil || out != "ok" {
		t.Fatalf("host from an argument: %q, %v", out, err)
	}
}

func TestPOSTBodyTemplate(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	tl := mustNew(t, httptool.Spec{
		Name: "forecast", Method: "post", URL: srv.URL + "/forecast",
		Parameters: props("city", "units", "note", "days"),
		Body:       `{"q": {{json .city}}, "units": {{json .units}}, "note": "{{.note}}", "days": {{.days}}, "long": {{if .units}}false{{else}}true{{end}}, "esc": "{{urlquery .city}}"}`,
	})
	out, err := call(t, tl, `{"city":"<São Paulo> & \"co\"","days":7,"note":null}`)
	if err != nil || out != "ok" {
		t.Fatalf("Call = %q, %v", out, err)
	}
	got := srv.last(t)
	want := `{"q": "<São Paulo> & \"co\"", "units": null, "note": "", "days": 7, "long": true, "esc": "%3CS%C3%A3o+Paulo%3E+%26+%22co%22"}`
	if got.Method != http.MethodPost || got.Body != want {
		t.Fatalf("got %s %q\nwant POST %q", got.Method, got.Body, want)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}

	// Headers choose another Content-Type; a key neither sent nor declared
	// fails the call.
	text := mustNew(t, httptool.Spec{
		Name: "note", Method: "PUT", URL: srv.URL + "/note", Parameters: props("text"),
		Headers: map[string]string{"content-type": "text/plain; charset=utf-8"},
		Body:    `note: {{.text}}`,
	})
	if _, err := call(t, text, `{"text":"hi"}`); err != nil {
		t.Fatal(err)
	}
	if got := srv.last(t); got.Method != http.MethodPut || got.Body != "note: hi" || got.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("got %+v", got)
	}
	typo := mustNew(t, httptool.Spec{Name: "typo", Method: "POST", URL: srv.URL, Parameters: props("city"), Body: `{{.cty}}`})
	_, err = call(t, typo, `{"city":"x"}`)
	wantErr(t, err, "http tool typo", "body template", "cty")
}

func TestPOSTDefaultJSONBody(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	for _, method := range []string{"POST", "put", "Patch"} {
		tl := mustNew(t, httptool.Spec{Name: "create", Method: method, URL: srv.URL + "/items/{id}", Parameters: props("id", "tags", "n")})
		if _, err := call(t, tl, `{"id":"a b","tags":["x",null],"n":12345678901234567890}`); err != nil {
			t.Fatal(err)
		}
		got := srv.last(t)
		if got.Method != strings.ToUpper(method) || got.URI != "/items/a%20b" || got.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: got %+v", method, got)
		}
		if want := `{"id":"a b","n":12345678901234567890,"tags":["x",null]}`; got.Body != want {
			t.Fatalf("%s: body %q, want %q", method, got.Body, want)
		}
		if _, err := call(t, tl, ``); err != nil {
			t.Fatal(err)
		}
		if got := srv.last(t); got.Body != `{}` {
			t.Fatalf("%s with no arguments: body %q", method, got.Body)
		}
	}
	del := mustNew(t, httptool.Spec{Name: "delete", Method: "delete", URL: srv.URL + "/items/{id}", Parameters: props("id")})
	if _, err := call(t, del, `{"id":"1"}`); err != nil {
		t.Fatal(err)
	}
	if got := srv.last(t); got.Method != http.MethodDelete || got.Body != "" {
		t.Fatalf("DELETE: got %+v", got)
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	tl := mustNew(t, httptool.Spec{Name: "auth", URL: srv.URL, Headers: map[string]string{
		"Authorization": "Bearer s3cret", "x-api-key": "k1", "Accept": "application/json",
	}})
	if _, err := call(t, tl, `{}`); err != nil {
		t.Fatal(err)
	}
	h := srv.last(t).Header
	for k, v := range map[string]string{"Authorization": "Bearer s3cret", "X-Api-Key": "k1", "Accept": "application/json", "User-Agent": "agentgate-httptool"} {
		if h.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, h.Get(k), v)
		}
	}
	ua := mustNew(t, httptool.Spec{Name: "ua", URL: srv.URL, Headers: map[string]string{"user-agent": "mine/1"}})
	if _, err := call(t, ua, `{}`); err != nil {
		t.Fatal(err)
	}
	if got := srv.last(t).Header.Values("User-Agent"); !reflect.DeepEqual(got, []string{"mine/1"}) {
		t.Fatalf("User-Agent = %q", got)
	}
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	other := newRecorder(t, nil)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "tls") }))
	t.Cleanup(tlsSrv.Close)
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/other":
			http.Redirect(w, r, other.URL+"/there", http.StatusFound)
		case "/https":
			http.Redirect(w, r, tlsSrv.URL+"/x", http.StatusFound)
		default:
			_, _ = io.WriteString(w, "final")
		}
	})
	hdr := map[string]string{"X-Api-Key": "k1"}
	same := mustNew(t, httptool.Spec{Name: "same", URL: srv.URL + "/same", Headers: hdr})
	if out, err := call(t, same, `{}`); err != nil || out != "final" {
		t.Fatalf("same host: %q, %v", out, err)
	}
	if got := srv.last(t); got.URI != "/final" || got.Header.Get("X-Api-Key") != "k1" {
		t.Fatalf("same host redirect: %+v", got)
	}
	cross := mustNew(t, httptool.Spec{Name: "cross", URL: srv.URL + "/other", Headers: hdr})
	if out, err := call(t, cross, `{}`); err != nil || out != "ok" {
		t.Fatalf("other host: %q, %v", out, err)
	}
	if got := other.last(t); got.URI != "/there" || got.Header.Get("X-Api-Key") != "" || got.Header.Get("User-Agent") != "agentgate-httptool" {
		t.Fatalf("the other host received %+v", got)
	}
	scheme := mustNew(t, httptool.Spec{Name: "scheme", URL: srv.URL + "/https"})
	_, err := call(t, scheme, `{}`)
	wantErr(t, err, "http tool scheme", "redirect from http to https")
	if strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("the error quotes the URL: %v", err)
	}
}

func TestNon2xxStatus(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 511) + "é" + strings.Repeat("y", 100)
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.Error(w, "no such city", http.StatusNotFound)
		case "/empty":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, long)
		}
	})
	tl := mustNew(t, httptool.Spec{Name: "weather", URL: srv.URL + "/{p}", Parameters: props("p")})
	_, err := call(t, tl, `{"p":"missing"}`)
	if err == nil || err.Error() != "http tool weather: 404 Not Found: no such city" {
		t.Fatalf("404: %v", err)
	}
	_, err = call(t, tl, `{"p":"empty"}`)
	if err == nil || err.Error() != "http tool weather: 500 Internal Server Error" {
		t.Fatalf("500: %v", err)
	}
	_, err = call(t, tl, `{"p":"long"}`)
	// The first 512 bytes, without the character they cut.
	if want := "http tool weather: 400 Bad Request: " + strings.Repeat("x", 511); err == nil || err.Error() != want {
		t.Fatalf("400: %v", err)
	}
}

// slowServer answers after delay, or when the client goes away.
func slowServer(t *testing.T, delay time.Duration, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	srv := slowServer(t, 5*time.Second, "late")
	tl := mustNew(t, httptool.Spec{Name: "weather", URL: srv.URL, Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := call(t, tl, `{}`)
	took := time.Since(start)
	if err == nil || err.Error() != "http tool weather: timed out after 200ms" {
		t.Fatalf("err = %v", err)
	}
	if took < 200*time.Millisecond || took > 1200*time.Millisecond {
		t.Fatalf("Call returned after %v", took)
	}

	// A body that trickles in past the timeout is a timeout too.
	trickle := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "start")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(trickle.Close)
	tl = mustNew(t, httptool.Spec{Name: "trickle", URL: trickle.URL, Timeout: 200 * time.Millisecond})
	_, err = call(t, tl, `{}`)
	wantErr(t, err, "http tool trickle: timed out after 200ms")

	// The caller's cancellation is not reported as the tool's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	tl = mustNew(t, httptool.Spec{Name: "weather", URL: srv.URL})
	_, err = tl.Call(ctx, nil)
	if err == nil || strings.Contains(err.Error(), "timed out after") {
		t.Fatalf("cancelled call: %v", err)
	}
}

func TestResponseSizeLimit(t *testing.T) {
	t.Parallel()
	const limit = 1024
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		body := strings.Repeat("a", n)
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", strconv.Itoa(n))
			_, _ = io.WriteString(w, body)
		case "/chunked":
			half := n / 2
			_, _ = io.WriteString(w, body[:half])
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, body[half:])
		case "/liar":
			// Announces a huge body and sends none: the call must not wait.
			w.Header().Set("Content-Length", strconv.Itoa(1<<30))
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	})
	tl := mustNew(t, httptool.Spec{Name: "big", URL: srv.URL + "/{mode}{?n}", Parameters: props("mode", "n"), MaxResponseBytes: limit, Timeout: 5 * time.Second})
	for _, mode := range []string{"length", "chunked"} {
		out, err := call(t, tl, `{"mode":"`+mode+`","n":`+strconv.Itoa(limit)+`}`)
		if err != nil || len(out) != limit {
			t.Fatalf("%s at the limit: %d bytes, %v", mode, len(out), err)
		}
		_, err = call(t, tl, `{"mode":"`+mode+`","n":`+strconv.Itoa(limit+1)+`}`)
		if err == nil || err.Error() != "http tool big: response larger than 1024 bytes" {
			t.Fatalf("%s over the limit: %v", mode, err)
		}
	}
	start := time.Now()
	_, err := call(t, tl, `{"mode":"liar"}`)
	wantErr(t, err, "response larger than 1024 bytes")
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the Content-Length check took %v", took)
	}

	// The default limit is 1 MiB.
	def := mustNew(t, httptool.Spec{Name: "weather", URL: srv.URL + "/{mode}{?n}", Parameters: props("mode", "n")})
	if out, err := call(t, def, `{"mode":"chunked","n":1048576}`); err != nil || len(out) != 1<<20 {
		t.Fatalf("1 MiB: %d bytes, %v", len(out), err)
	}
	_, err = call(t, def, `{"mode":"chunked","n":1048577}`)
	if err == nil || err.Error() != "http tool weather: response larger than 1048576 bytes" {
		t.Fatalf("1 MiB + 1: %v", err)
	}
}

func TestResponseMustBeUTF8(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte{'o', 0xff, 'k'}) })
	tl := mustNew(t, httptool.Spec{Name: "binary", URL: srv.URL})
	_, err := call(t, tl, `{}`)
	wantErr(t, err, "http tool binary", "UTF-8")
}

func TestArgumentsChecked(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	params := props("city", "units")
	params["required"] = []any{"city"}
	tl := mustNew(t, httptool.Spec{Name: "weather", URL: srv.URL + "/{city}{?units}", Parameters: params})
	for args, want := range map[string]string{
		`{"units":"metric"}`:   `http tool weather: missing required argument "city"`,
		`{"city":null}`:        `http tool weather: missing required argument "city"`,
		``:                     `http tool weather: missing required argument "city"`,
		`{"city":`:             "http tool weather: invalid arguments: ",
		`["Paris"]`:            "http tool weather: invalid arguments: want a JSON object, got an array",
		`"Paris"`:              "http tool weather: invalid arguments: want a JSON object, got a string",
		`{"city":"a"} {"x":1}`: "http tool weather: invalid arguments: data after the arguments object",
	} {
		_, err := call(t, tl, args)
		wantErr(t, err, want)
	}
	srv.mu.Lock()
	n := len(srv.reqs)
	srv.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d requests sent for invalid arguments", n)
	}
	// []string works as well as []any.
	tl = mustNew(t, httptool.Spec{Name: "w2", URL: srv.URL, Parameters: map[string]any{"type": "object", "required": []string{"q"}}})
	_, err := call(t, tl, `{}`)
	wantErr(t, err, `missing required argument "q"`)
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	tl := mustNew(t, httptool.Spec{Name: "ping", Description: "Pings.", URL: "https://example.com/ping"})
	if tl.Name != "ping" || tl.Description != "Pings." || tl.Call == nil {
		t.Fatalf("tool = %+v", tl)
	}
	if want := map[string]any{"type": "object", "properties": map[string]any{}}; !reflect.DeepEqual(tl.Parameters, want) {
		t.Fatalf("Parameters = %#v", tl.Parameters)
	}
	params := props("city")
	tl = mustNew(t, httptool.Spec{Name: "w", URL: "https://example.com/{city}", Parameters: params})
	if !reflect.DeepEqual(tl.Parameters, params) {
		t.Fatalf("Parameters = %#v", tl.Parameters)
	}
}

func TestNewRejectsInvalidSpecs(t *testing.T) {
	t.Parallel()
	ok := httptool.Spec{Name: "weather", URL: "https://api.example.com/{city}", Parameters: props("city")}
	for _, c := range []struct {
		name string
		edit func(*httptool.Spec)
		want string
	}{
		{"no name", func(s *httptool.Spec) { s.Name = "" }, "http tool: a name is required"},
		{"name with a space", func(s *httptool.Spec) { s.Name = "get weather" }, `http tool "get weather": the name must match`},
		{"name too long", func(s *httptool.Spec) { s.Name = strings.Repeat("a", 65) }, "the name must match"},
		{"name with a dot", func(s *httptool.Spec) { s.Name = "a.b" }, "the name must match"},
		{"no URL", func(s *httptool.Spec) { s.URL = "" }, "http tool weather: a URL template is required"},
		{"unclosed expression", func(s *httptool.Spec) { s.URL = "https://api.example.com/{city" }, "http tool weather: URL template"},
		{"bad operator", func(s *httptool.Spec) { s.URL = "https://api.example.com/{=city}" }, "URL template"},
		{"space in template", func(s *httptool.Spec) { s.URL = "https://api.example.com/a b" }, "URL template"},
		{"not http", func(s *httptool.Spec) { s.URL = "ftp://api.example.com/{city}" }, "not an http or https URL"},
		{"relative", func(s *httptool.Spec) { s.URL = "/weather/{city}" }, "not an http or https URL"},
		{"scheme from an argument", func(s *httptool.Spec) { s.URL = "{city}/weather" }, "not an http or https URL"},
		{"no host", func(s *httptool.Spec) { s.URL = "https:///weather" }, "no host"},
		{"undeclared variable", func(s *httptool.Spec) { s.URL = "https://api.example.com/{town}" }, `variable "town" is not a property`},
		{"variable without parameters", func(s *httptool.Spec) { s.Parameters = nil }, `variable "city" is not a property`},
		{"bad method", func(s *httptool.Spec) { s.Method = "FETCH" }, `method "FETCH" is not one of GET, HEAD, POST, PUT, PATCH, DELETE`},
		{"not an object schema", func(s *httptool.Spec) { s.Parameters = map[string]any{"type": "array"} }, `parameters: "type" must be "object"`},
		{"schema without type", func(s *httptool.Spec) { s.Parameters = map[string]any{"properties": map[string]any{}} }, `"type" must be "object"`},
		{"properties not an object", func(s *httptool.Spec) { s.Parameters = map[string]any{"type": "object", "properties": []any{"city"}} }, `"properties" must be an object`},
		{"required not an array", func(s *httptool.Spec) {
			s.Parameters = map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{}}, "required": "city"}
		}, `"required" must be an array`},
		{"required not names", func(s *httptool.Spec) {
			s.Parameters = map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{}}, "required": []any{1}}
		}, `"required" must list property names`},
		{"bad body template", func(s *httptool.Spec) { s.Method = "POST"; s.Body = `{"q": {{json .city}` }, "http tool weather: body template"},
		{"unknown body function", func(s *httptool.Spec) { s.Method = "POST"; s.Body = `{{yaml .city}}` }, "body template"},
		{"body with GET", func(s *httptool.Spec) { s.Body = `{{json .city}}` }, "a body template needs POST, PUT, PATCH or DELETE, not GET"},
		{"negative timeout", func(s *httptool.Spec) { s.Timeout = -time.Second }, "negative timeout"},
		{"negative size limit", func(s *httptool.Spec) { s.MaxResponseBytes = -1 }, "negative response size limit"},
		{"bad header name", func(s *httptool.Spec) { s.Headers = map[string]string{"X Key": "v"} }, `invalid header name "X Key"`},
		{"header value with a line break", func(s *httptool.Spec) { s.Headers = map[string]string{"X-Key": "v\r\nEvil: 1"} }, "header X-Key: the value holds a line break"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := ok
			c.edit(&spec)
			tl, err := httptool.New(spec)
			if tl != nil {
				t.Fatal("New returned a tool with an error")
			}
			wantErr(t, err, c.want)
		})
	}
	if _, err := httptool.New(ok); err != nil {
		t.Fatalf("the valid spec: %v", err)
	}
}

// runAgent runs the built-in agent with a scripted model that calls the
// weather tool, collecting the events.
func runAgent(t *testing.T, tl *tool.Tool) (*core.Outcome, []core.Event) {
	t.Helper()
	m := scripted.New(scripted.Config{Rules: []scripted.Rule{{
		Match:     "weather",
		ToolCalls: []scripted.Call{{Name: "weather", Arguments: map[string]any{"city": "São Paulo"}}},
		Reply:     "Forecast: {{tool_result}}",
	}}})
	a, err := agent.New(agent.Config{ID: "assistant", Model: m, ModelName: "scripted", Tools: []*tool.Tool{tl}})
	if err != nil {
		t.Fatal(err)
	}
	out, events, err := testutil.Execute(context.Background(), a, "What is the weather in São Paulo?")
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	return out, events
}

func findEvent(events []core.Event, typ core.EventType) *core.Event {
	for i := range events {
		if events[i].Event == typ {
			return &events[i]
		}
	}
	return nil
}

func TestAgentCallsHTTPTool(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"sky":"sunny","city":"`+r.URL.Query().Get("city")+`"}`)
	})
	tl := mustNew(t, httptool.Spec{Name: "weather", Description: "Weather by city.", URL: srv.URL + "/weather{?city}", Parameters: props("city")})
	out, events := runAgent(t, tl)
	body := `{"sky":"sunny","city":"São Paulo"}`
	ev := findEvent(events, core.EventToolCallCompleted)
	if ev == nil || ev.Content != body || ev.Tool == nil || ev.Tool.ToolName != "weather" || ev.Tool.Result != body {
		t.Fatalf("ToolCallCompleted = %+v (events %v)", ev, events)
	}
	if findEvent(events, core.EventToolCallError) != nil {
		t.Fatal("unexpected ToolCallError")
	}
	if out.Content != "Forecast: "+body {
		t.Fatalf("outcome content = %q", out.Content)
	}
	if got := srv.last(t).URI; got != "/weather?city=S%C3%A3o%20Paulo" {
		t.Fatalf("request URI = %q", got)
	}
}

func TestAgentGoesOnAfterHTTPToolTimeout(t *testing.T) {
	t.Parallel()
	srv := slowServer(t, 5*time.Second, "late")
	tl := mustNew(t, httptool.Spec{Name: "weather", URL: srv.URL + "/weather{?city}", Parameters: props("city"), Timeout: 150 * time.Millisecond})
	start := time.Now()
	out, events := runAgent(t, tl)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the run took %v", took)
	}
	ev := findEvent(events, core.EventToolCallError)
	if ev == nil || ev.Error != "http tool weather: timed out after 150ms" || ev.Tool == nil || !ev.Tool.ToolCallError {
		t.Fatalf("ToolCallError = %+v (events %v)", ev, events)
	}
	if findEvent(events, core.EventToolCallCompleted) != nil {
		t.Fatal("unexpected ToolCallCompleted")
	}
	if findEvent(events, core.EventRunContentCompleted) == nil {
		t.Fatal("the run did not complete its content")
	}
	if out == nil || out.Content != "Forecast: Error: http tool weather: timed out after 150ms" {
		t.Fatalf("outcome = %+v", out)
	}
	if len(out.Tools) != 1 || !out.Tools[0].ToolCallError {
		t.Fatalf("outcome tools = %+v", out.Tools)
	}
}

// Spec.Dial dials every connection of the default client: a refusal there
// fails the call, an accepted dial reaches the server.
func TestSpecDial(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	var dialled []string
	refuse := errors.New("refused by the test dialer")
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialled = append(dialled, addr)
		if strings.HasSuffix(addr, ":1") {
			return nil, refuse
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	tl := mustNew(t, httptool.Spec{Name: "anyhost", URL: "http://{+host}/x", Parameters: props("host"), Dial: dial})
	if _, err := call(t, tl, `{"host":"127.0.0.1:1"}`); err == nil || !strings.Contains(err.Error(), "refused by the test dialer") {
		t.Fatalf("refused dial: %v", err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	if out, err := call(t, tl, `{"host":"`+host+`"}`); err != nil || out != "ok" {
		t.Fatalf("allowed dial: %q %v", out, err)
	}
	if len(dialled) != 2 || dialled[1] != host {
		t.Fatalf("dialled %v", dialled)
	}
}
