package e2e

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// loadOpenAPI fetches the gateway's OpenAPI 3.0 rendering (the same
// document as /openapi.json, in the version kin-openapi validates) and
// checks that it is a valid OpenAPI document.
func loadOpenAPI(t *testing.T, g *gateway) *openapi3.T {
	t.Helper()
	b := want(t, g, "", http.MethodGet, "/openapi-3.0.json", nil, http.StatusOK)
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("load /openapi-3.0.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("/openapi-3.0.json is not a valid OpenAPI 3.0 document: %v", err)
	}
	return doc
}

// opByID finds an operation of doc by its id.
func opByID(t *testing.T, doc *openapi3.T, id string) *openapi3.Operation {
	t.Helper()
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.OperationID == id {
				return op
			}
		}
	}
	t.Fatalf("no operation %s in the document", id)
	return nil
}

// TestOpenAPIDocument: the document is valid OpenAPI, names its server and
// (with auth on) its security schemes, and documents every status the
// routes really answer, errors with the {"detail"} body.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()

	t.Run("auth_off", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, errorsConfig)
		doc := loadOpenAPI(t, g)
		if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
			t.Errorf("servers = %+v, want one, \"/\"", doc.Servers)
		}
		if len(doc.Components.SecuritySchemes) != 0 {
			t.Errorf("auth off, yet security schemes: %v", doc.Components.SecuritySchemes)
		}
		ctx := testCtx(t, 30*time.Second)
		// Statuses observed through real requests must each be documented.
		var acc run
		decode(t, expectStatus(t, g.postForm(t, ctx, "/agents/assistant/runs", url.Values{"message": {"hi"}, "stream": {"false"}, "background": {"true"}}), http.StatusAccepted), &acc)
		done, _ := g.waitStatus(t, "assistant", acc.RunID, "COMPLETED")
		last := strconv.FormatInt(done.EventCount-1, 10)
		observed := []struct {
			op     string
			status int
			resp   *http.Response
		}{
			{"stream-agent-run", http.StatusNoContent, g.do(t, ctx, http.MethodGet, "/agents/assistant/runs/"+acc.RunID+"/stream", nil, "", map[string]string{"Last-Event-ID": last})},
			{"get-agent-run", http.StatusNotFound, g.get(t, ctx, "/agents/assistant/runs/nope")},
			{"create-agent-run", http.StatusBadRequest, g.postForm(t, ctx, "/agents/assistant/runs", url.Values{"stream": {"maybe"}, "message": {"x"}})},
			{"create-agent-run", http.StatusRequestEntityTooLarge, g.postForm(t, ctx, "/agents/assistant/runs", url.Values{"message": {strings.Repeat("a", 8<<10)}})},
			{"continue-agent-run", http.StatusConflict, g.postForm(t, ctx, "/agents/assistant/runs/"+acc.RunID+"/continue", url.Values{"tools": {"[]"}})},
			{"get-session", http.StatusNotFound, g.get(t, ctx, "/sessions/nope")},
		}
		for _, o := range observed {
			readAll(t, o.resp)
			if o.resp.StatusCode != o.status {
				t.Errorf("%s: answered %d, the test expected %d", o.op, o.resp.StatusCode, o.status)
				continue
			}
			r := opByID(t, doc, o.op).Responses.Status(o.status)
			if r == nil {
				t.Errorf("%s answers %d, which the document does not list", o.op, o.status)
				continue
			}
			if o.status >= 400 {
				mt := r.Value.Content.Get("application/json")
				if mt == nil || mt.Schema == nil || !strings.HasSuffix(mt.Schema.Ref, "/ErrorBody") {
					t.Errorf("%s %d: the error body is not documented as ErrorBody", o.op, o.status)
				}
			}
		}
	})

	t.Run("auth_on", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, jwtConfig("http:\n  public_url: https://agents.example.com\nauth:\n  jwt_algorithm: HS256\n  rate_limit: {rps: 100, burst: 100}\n"))
		doc := loadOpenAPI(t, g)
		if len(doc.Servers) != 1 || doc.Servers[0].URL != "https://agents.example.com" {
			t.Errorf("servers = %+v, want http.public_url", doc.Servers)
		}
		for _, name := range []string{"jwt", "serviceAccount"} {
			s := doc.Components.SecuritySchemes[name]
			if s == nil || s.Value.Type != "http" || s.Value.Scheme != "bearer" {
				t.Errorf("security scheme %s: %+v, want http bearer", name, s)
			}
		}
		if bf := doc.Components.SecuritySchemes["jwt"]; bf != nil && bf.Value.BearerFormat != "JWT" {
			t.Errorf("jwt scheme bearerFormat %q", bf.Value.BearerFormat)
		}
		run := opByID(t, doc, "create-agent-run")
		if run.Security == nil || len(*run.Security) == 0 {
			t.Errorf("create-agent-run has no security requirement")
		}
		if h := opByID(t, doc, "health"); h.Security == nil || len(*h.Security) != 0 {
			t.Errorf("health should need no credentials (security: []), has %+v", h.Security)
		}
		want := map[string][]int{
			"create-agent-run":   {200, 202, 400, 401, 403, 404, 413, 429, 503},
			"continue-agent-run": {200, 202, 400, 401, 403, 404, 409, 413, 429, 503},
			"resume-agent-run":   {200, 400, 401, 403, 404, 410, 429, 503},
			"stream-agent-run":   {200, 204, 400, 401, 403, 404, 410, 429, 503},
			"cancel-agent-run":   {200, 401, 403, 404, 429, 503},
			"create-session":     {201, 400, 401, 403, 409, 422, 429, 503},
			"health":             {200},
			"ready":              {200, 503},
		}
		for id, codes := range want {
			op := opByID(t, doc, id)
			var got []int
			for k := range op.Responses.Map() {
				if n, err := strconv.Atoi(k); err == nil {
					got = append(got, n)
				}
			}
			for _, c := range codes {
				if !slices.Contains(got, c) {
					t.Errorf("%s: status %d not documented (has %v)", id, c, got)
				}
			}
			if (id == "health" || id == "ready") && slices.Contains(got, 429) {
				t.Errorf("%s is never rate-limited, yet documents 429", id)
			}
		}
	})
}

// TestDocsOffline: /docs and every asset it references come from the
// gateway itself (no CDN): the page works without Internet access.
func TestDocsOffline(t *testing.T) {
	t.Parallel()
	g := startGateway(t, errorsConfig)
	ctx := testCtx(t, 20*time.Second)
	resp := g.get(t, ctx, "/docs")
	page := string(expectStatus(t, resp, http.StatusOK))
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/docs Content-Type %q", resp.Header.Get("Content-Type"))
	}
	refs := regexp.MustCompile(`(?i)<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 2 {
		t.Fatalf("/docs references %d assets; want Swagger UI's script and stylesheet:\n%s", len(refs), page)
	}
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(page) {
		t.Errorf("/docs references another host:\n%s", page)
	}
	for _, m := range refs {
		ref := m[1]
		if !strings.HasPrefix(ref, "/") {
			ref = "/docs/" + ref
		}
		r := g.get(t, ctx, ref)
		b := expectStatus(t, r, http.StatusOK)
		if len(b) == 0 {
			t.Errorf("%s: empty", ref)
		}
		if strings.HasSuffix(ref, ".js") && !strings.Contains(r.Header.Get("Content-Type"), "javascript") {
			t.Errorf("%s: Content-Type %q", ref, r.Header.Get("Content-Type"))
		}
	}
	// The page loads the gateway's own document.
	if !strings.Contains(page, "/openapi.json") {
		t.Errorf("/docs does not load /openapi.json:\n%s", page)
	}
}
