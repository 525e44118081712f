// Package httptool builds tools that call an HTTP API, declared in config:
// a name, a description, JSON-schema parameters, a method, a URL template,
// headers, a body template, a timeout and a response size limit.
//
// # Arguments
//
// The model's arguments must be a JSON object (empty or null arguments
// count as {}). Numbers are kept as their JSON text (1e3 stays "1e3", big
// integers keep every digit). Properties listed in the schema's "required"
// must be present and not null.
//
// # URL
//
// Spec.URL is an RFC 6570 URI template (all four levels), expanded with the
// top-level arguments:
//
//   - a string is the value itself; a number or a boolean is its JSON text;
//   - null or a missing argument is undefined (the expression drops it);
//   - an array is a list; its strings, numbers and booleans are expanded as
//     above, nested arrays and objects as their JSON text, nulls are
//     skipped; an empty array is undefined;
//   - an object is an associative array, its keys in sorted order, its
//     values as for array members (null members are skipped). Keys must be
//     made of unreserved characters (letters, digits, - . _ ~), else the
//     call fails.
//
// Values are percent-encoded as UTF-8 ({city} with "São Paulo/SP" gives
// S%C3%A3o%20Paulo%2FSP). A value holding a NUL character fails the call.
// Two limits of the template library: a prefix modifier ({var:3}) counts
// bytes, not characters, so it fails on a cut inside a multi-byte
// character; and reserved expansion ({+var}, {#var}) encodes "%" as %25
// rather than passing pct-encoded triplets through.
//
// The template must expand to an absolute http or https URL with a host.
// New checks it without arguments (the scheme must be literal, the host
// may come from an argument, e.g. http://{+host}/v1), each call with its
// arguments. Arguments can change the host only through an expression in
// the authority: write https://api.example.com/{+path}, not
// https://api.example.com{+path}. Every variable of the template must be a
// property of the parameters' schema.
//
// # Body
//
// Spec.Body is a Go text/template whose data is the arguments object, with
// the functions json (the JSON encoding of a value, no HTML escaping) and
// the standard ones (urlquery, printf, index...). Properties declared in
// the schema but not sent, and null values, are "absent": they print as
// the empty string, are false in {{if}}, and {{json .x}} gives null (so
// {{json .}} lists them as null). Referring to a key that is neither sent
// nor declared fails the call (missingkey=error), which catches typos.
// A body needs POST, PUT, PATCH or DELETE.
//
// With an empty Body, POST, PUT and PATCH send the arguments object as JSON
// (re-encoded, keys sorted); other methods send no body. A request with a
// body has Content-Type application/json unless Headers set one.
//
// # Response
//
// A 2xx response's body is the result; it must be valid UTF-8 and at most
// MaxResponseBytes long. Other statuses fail the call with the status and
// the first 512 bytes of the body. Errors never include the request URL
// (it may carry credentials).
package httptool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel/propagation"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/yosida95/uritemplate/v3"

	"github.com/agentgate/agentgate/core/tool"
)

// Spec declares one HTTP tool.
type Spec struct {
	// Name is the tool's name (required; ^[a-zA-Z0-9_-]{1,64}$).
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments object: "type" must
	// be "object". Nil means an object with no properties.
	Parameters map[string]any
	// Method is the HTTP method: GET (default), HEAD, POST, PUT, PATCH or
	// DELETE, in any case.
	Method string
	// URL is an RFC 6570 URI template expanded with the arguments, e.g.
	// https://api.example.com/cities/{city}/weather{?units}. See the
	// package documentation for how argument values are expanded.
	URL string
	// Headers are sent with every request (values are already expanded
	// from the environment by the config loader). User-Agent defaults to
	// agentgate-httptool. With the default client, they are not sent on
	// after a redirect to another host.
	Headers map[string]string
	// Body is a Go text/template rendered with the arguments as its data
	// and a json function ({"q": {{json .city}}}). Empty: methods with a
	// body send the arguments object as JSON, others send none.
	Body string
	// Timeout bounds one call, response body included (default 30s).
	Timeout time.Duration
	// MaxResponseBytes limits the response body (default 1 MiB); a larger
	// response fails the call.
	MaxResponseBytes int64
	// HTTPClient replaces the default client (tests). The default client
	// uses the proxy of the environment (HTTPS_PROXY...), follows at most
	// 10 redirects, never to a different scheme.
	HTTPClient *http.Client
	// Dial, when set, dials the default client's connections (each
	// redirect's too), without the environment's proxy: the gateway
	// passes its egress guard's when the arguments choose the host.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

const (
	// DefaultTimeout is the Timeout of a Spec that sets none.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxResponseBytes is the MaxResponseBytes of a Spec that sets
	// none.
	DefaultMaxResponseBytes = 1 << 20
	// UserAgent is sent unless the Headers set a User-Agent.
	UserAgent = "agentgate-httptool"

	maxErrorBody = 512
	maxRedirects = 10
)

var (
	nameRE  = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

	// transport is shared by the tools' default clients.
	transport = &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}

	errTimeout = errors.New("http tool timed out")
	errNoHost  = errors.New("the URL has no host")
)

type httpTool struct {
	name     string
	method   string
	url      *uritemplate.Template
	header   http.Header
	host     string // a Host header, sent as the request's Host
	body     *template.Template
	declared []string // the schema's property names
	required []string
	timeout  time.Duration
	max      int64
	client   *http.Client
}

// New validates spec and returns the tool.
func New(spec Spec) (*tool.Tool, error) {
	if spec.Name == "" {
		return nil, errors.New("http tool: a name is required")
	}
	if !nameRE.MatchString(spec.Name) {
		return nil, fmt.Errorf("http tool %q: the name must match %s", spec.Name, nameRE)
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("http tool %s: "+format, append([]any{spec.Name}, a...)...)
	}
	h := &httpTool{name: spec.Name, timeout: spec.Timeout, max: spec.MaxResponseBytes}

	h.method = strings.ToUpper(strings.TrimSpace(spec.Method))
	if h.method == "" {
		h.method = http.MethodGet
	}
	if !slices.Contains(methods, h.method) {
		return nil, fail("method %q is not one of %s", spec.Method, strings.Join(methods, ", "))
	}

	params, err := schema(spec.Parameters)
	if err != nil {
		return nil, fail("parameters: %v", err)
	}
	if props, ok := params["properties"].(map[string]any); ok {
		for k := range props {
			h.declared = append(h.declared, k)
		}
		slices.Sort(h.declared)
	}
	if h.required, err = requiredOf(params); err != nil {
		return nil, fail("parameters: %v", err)
	}

	if spec.URL == "" {
		return nil, fail("a URL template is required")
	}
	if h.url, err = uritemplate.New(spec.URL); err != nil {
		return nil, fail("URL template %q: %v", spec.URL, err)
	}
	for _, v := range h.url.Varnames() {
		if !slices.Contains(h.declared, v) {
			return nil, fail("URL template %q: variable %q is not a property of the parameters", spec.URL, v)
		}
	}
	bare, err := h.url.Expand(nil)
	if err != nil {
		return nil, fail("URL template %q: %v", spec.URL, err)
	}
	// Without arguments, the host may still come from one.
	if _, err := checkURL(bare); err != nil && (len(h.url.Varnames()) == 0 || !errors.Is(err, errNoHost)) {
		return nil, fail("URL template %q: %v", spec.URL, err)
	}

	h.header = http.Header{}
	for k, v := range spec.Headers {
		if !validHeaderName(k) {
			return nil, fail("invalid header name %q", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fail("header %s: the value holds a line break or NUL", k)
		}
		if http.CanonicalHeaderKey(k) == "Host" {
			h.host = v
			continue
		}
		h.header.Set(k, v)
	}
	if h.header.Get("User-Agent") == "" {
		h.header.Set("User-Agent", UserAgent)
	}

	if spec.Body != "" {
		if h.method == http.MethodGet || h.method == http.MethodHead {
			return nil, fail("a body template needs POST, PUT, PATCH or DELETE, not %s", h.method)
		}
		h.body, err = template.New(spec.Name).Option("missingkey=error").Funcs(template.FuncMap{"json": jsonText}).Parse(spec.Body)
		if err != nil {
			return nil, fail("body template: %v", err)
		}
	}

	switch {
	case h.timeout < 0:
		return nil, fail("negative timeout %s", h.timeout)
	case h.timeout == 0:
		h.timeout = DefaultTimeout
	}
	switch {
	case h.max < 0:
		return nil, fail("negative response size limit %d", h.max)
	case h.max == 0:
		h.max = DefaultMaxResponseBytes
	}

	h.client = spec.HTTPClient
	if h.client == nil {
		tr := transport
		if spec.Dial != nil {
			tr = transport.Clone()
			tr.Proxy, tr.DialContext = nil, spec.Dial
		}
		h.client = &http.Client{Transport: tr, CheckRedirect: h.checkRedirect}
	}
	return &tool.Tool{Name: spec.Name, Description: spec.Description, Parameters: params, Call: h.call}, nil
}

// schema validates the parameters' schema, defaulting a nil one.
func schema(p map[string]any) (map[string]any, error) {
	if p == nil {
		return map[string]any{"type": "object", "properties": map[string]any{}}, nil
	}
	if t, _ := p["type"].(string); t != "object" {
		return nil, fmt.Errorf(`"type" must be "object", not %v`, p["type"])
	}
	if props, ok := p["properties"]; ok {
		if _, ok := props.(map[string]any); !ok {
			return nil, fmt.Errorf(`"properties" must be an object, not %T`, props)
		}
	}
	return p, nil
}

func requiredOf(p map[string]any) ([]string, error) {
	switch r := p["required"].(type) {
	case nil:
		return nil, nil
	case []string:
		return r, nil
	case []any:
		out := make([]string, 0, len(r))
		for _, v := range r {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf(`"required" must list property names, found %v`, v)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf(`"required" must be an array, not %T`, r)
	}
}

// checkURL parses an expanded URL: absolute http(s) with a host.
func checkURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("not an http or https URL")
	}
	if u.Host == "" {
		return nil, errNoHost
	}
	return u, nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// checkRedirect is the default client's redirect policy: at most 10, never
// to another scheme, and the Spec's headers stay with the first host.
func (h *httpTool) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme {
		return fmt.Errorf("refused a redirect from %s to %s", first.Scheme, req.URL.Scheme)
	}
	if req.URL.Host != first.Host {
		for k := range h.header {
			if k != "User-Agent" {
				req.Header.Del(k)
			}
		}
	}
	return nil
}

func (h *httpTool) errorf(format string, a ...any) error {
	return fmt.Errorf("http tool %s: "+format, append([]any{h.name}, a...)...)
}

func (h *httpTool) call(ctx context.Context, raw json.RawMessage) (string, error) {
	args, err := decodeArgs(raw)
	if err != nil {
		return "", h.errorf("invalid arguments: %v", err)
	}
	for _, r := range h.required {
		if args[r] == nil {
			return "", h.errorf("missing required argument %q", r)
		}
	}
	target, err := h.expandURL(args)
	if err != nil {
		return "", err
	}
	var body io.Reader
	var hasBody bool
	if h.body != nil {
		var b bytes.Buffer
		if err := h.body.Execute(&b, h.templateData(args)); err != nil {
			return "", h.errorf("body template: %v", err)
		}
		body, hasBody = &b, true
	} else if h.method == http.MethodPost || h.method == http.MethodPut || h.method == http.MethodPatch {
		b, err := json.Marshal(args)
		if err != nil {
			return "", h.errorf("invalid arguments: %v", err)
		}
		body, hasBody = bytes.NewReader(b), true
	}

	ctx, cancel := context.WithTimeoutCause(ctx, h.timeout, errTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, h.method, target.String(), body)
	if err != nil {
		return "", h.errorf("bad request: %v", unwrapURLError(err))
	}
	req.Header = h.header.Clone()
	if h.host != "" {
		req.Host = h.host
	}
	if hasBody && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	// The run's trace goes on into the service called (W3C traceparent).
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := h.client.Do(req)
	if err != nil {
		return "", h.failed(ctx, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		msg := strings.TrimSpace(validPrefix(snippet))
		status := resp.Status
		if status == "" {
			status = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		}
		if msg == "" {
			return "", h.errorf("%s", status)
		}
		return "", h.errorf("%s: %s", status, msg)
	}
	if resp.ContentLength > h.max && h.method != http.MethodHead {
		return "", h.errorf("response larger than %d bytes", h.max)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, h.max+1))
	if err != nil {
		return "", h.failed(ctx, err)
	}
	if int64(len(data)) > h.max {
		return "", h.errorf("response larger than %d bytes", h.max)
	}
	if !utf8.Valid(data) {
		return "", h.errorf("the response is not UTF-8 text")
	}
	return string(data), nil
}

// failed reports a transport error, naming a timeout as one.
func (h *httpTool) failed(ctx context.Context, err error) error {
	if context.Cause(ctx) == errTimeout {
		return h.errorf("timed out after %s", h.timeout)
	}
	if ctx.Err() != nil {
		return h.errorf("%v", context.Cause(ctx))
	}
	return h.errorf("request failed: %v", unwrapURLError(err))
}

// unwrapURLError drops the *url.Error wrapper, which quotes the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// validPrefix is b without an incomplete final character (a cut made by
// a size limit), any other invalid UTF-8 replaced.
func validPrefix(b []byte) string {
	i := len(b) - 1
	for i > 0 && i > len(b)-utf8.UTFMax && !utf8.RuneStart(b[i]) {
		i--
	}
	if i >= 0 && !utf8.FullRune(b[i:]) {
		b = b[:i]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// decodeArgs decodes the arguments object, numbers as json.Number.
func decodeArgs(raw json.RawMessage) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the arguments object")
	}
	switch m := v.(type) {
	case map[string]any:
		return m, nil
	case nil:
		return map[string]any{}, nil
	default:
		return nil, fmt.Errorf("want a JSON object, got %s", kind(v))
	}
}

func kind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// expandURL expands the URL template and checks the result.
func (h *httpTool) expandURL(args map[string]any) (*url.URL, error) {
	vals := uritemplate.Values{}
	for _, name := range h.url.Varnames() {
		v, err := uriValue(args[name])
		if err != nil {
			return nil, h.errorf("argument %q: %v", name, err)
		}
		if v.Valid() {
			vals[name] = v
		}
	}
	s, err := h.url.Expand(vals)
	if err != nil {
		return nil, h.errorf("expanding the URL: %v", err)
	}
	u, err := checkURL(s)
	if err != nil {
		return nil, h.errorf("the arguments give a bad URL: %v", unwrapURLError(err))
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// uriValue turns an argument into a template value (see the package
// documentation). An invalid Value is undefined.
func uriValue(v any) (uritemplate.Value, error) {
	switch v := v.(type) {
	case nil:
		return uritemplate.Value{}, nil
	case []any:
		list := make([]string, 0, len(v))
		for _, e := range v {
			if e == nil {
				continue
			}
			s, err := member(e)
			if err != nil {
				return uritemplate.Value{}, err
			}
			list = append(list, s)
		}
		return uritemplate.List(list...), nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k, e := range v {
			if e == nil {
				continue
			}
			if !unreserved(k) {
				return uritemplate.Value{}, fmt.Errorf("object key %q: keys expanded in a URL may hold only letters, digits, - . _ ~", k)
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		kv := make([]string, 0, 2*len(keys))
		for _, k := range keys {
			s, err := member(v[k])
			if err != nil {
				return uritemplate.Value{}, err
			}
			kv = append(kv, k, s)
		}
		return uritemplate.Value{T: uritemplate.ValueTypeKV, V: kv}, nil
	default:
		s, err := member(v)
		if err != nil {
			return uritemplate.Value{}, err
		}
		return uritemplate.String(s), nil
	}
}

// member is the text of a scalar, or the JSON of an array or object,
// prepared for the template library.
func member(v any) (string, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	case bool:
		s = fmt.Sprint(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		s = string(b)
	}
	return bytesAsRunes(s)
}

// bytesAsRunes works around the template library's percent-encoding,
// which writes the code point of a character rather than its UTF-8 bytes
// (é would become %E9): each byte from 0x80 up becomes the character
// U+0080-U+00FF, which the library encodes as that one byte. The library
// drops a NUL, so a NUL is refused.
func bytesAsRunes(s string) (string, error) {
	ascii := true
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == 0:
			return "", errors.New("the value holds a NUL character")
		case s[i] >= utf8.RuneSelf:
			ascii = false
		}
	}
	if ascii {
		return s, nil
	}
	var b strings.Builder
	b.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String(), nil
}

func unreserved(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			continue
		}
		return false
	}
	return true
}

// absent stands for a missing or null argument in the body template: a nil
// *absent prints as "", is false in {{if}} and encodes to JSON null.
type absent struct{}

func (*absent) String() string { return "" }

// templateData is the body template's data: the arguments with nulls and
// the declared properties not sent as absent.
func (h *httpTool) templateData(args map[string]any) map[string]any {
	data := withAbsent(args).(map[string]any)
	for _, k := range h.declared {
		if _, ok := data[k]; !ok {
			data[k] = (*absent)(nil)
		}
	}
	return data
}

func withAbsent(v any) any {
	switch v := v.(type) {
	case nil:
		return (*absent)(nil)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = withAbsent(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = withAbsent(e)
		}
		return out
	default:
		return v
	}
}

// jsonText is the body template's json function.
func jsonText(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
