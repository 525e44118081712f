package rest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/auth"
)

// TestEmbedderHumaAPIKeepsHumaErrors mounts the REST adapter and, in the
// same process, a separate huma API as an embedder would: the adapter's
// validation errors are {"detail"} bodies, the embedder's stay huma's own
// problem+json ErrorModel, because the adapter changes no huma global.
func TestEmbedderHumaAPIKeepsHumaErrors(t *testing.T) {
	srv := authzServer(t, auth.NewPolicy())
	tok, err := auth.MintJWT(auth.MintConfig{Algorithm: auth.AlgHS256}, authzTestSecret, "alice", []string{"agent_os:admin"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	get := func(app *fiber.App, path, token string) (int, string, []byte) {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := app.Test(req, 5000)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), b
	}

	status, ct, body := get(srv.App, "/sessions?limit=0", tok)
	var ours map[string]any
	if err := json.Unmarshal(body, &ours); err != nil {
		t.Fatalf("adapter error body %s: %v", body, err)
	}
	if status != http.StatusUnprocessableEntity || ct != "application/json" || ours["detail"] != "expected number >= 1 (query.limit: 0)" || ours["title"] != nil {
		t.Errorf("adapter validation error: %d %s %s, want 422 application/json with the first error as detail", status, ct, body)
	}

	app := fiber.New()
	api := humafiber.New(app, huma.DefaultConfig("embedder", "1.0.0"))
	huma.Register(api, huma.Operation{OperationID: "list-items", Method: http.MethodGet, Path: "/items"},
		func(ctx context.Context, in *struct {
			Limit int `query:"limit" minimum:"1"`
		}) (*struct{ Body []string }, error) {
			return &struct{ Body []string }{[]string{}}, nil
		})
	status, ct, body = get(app, "/items?limit=0", "")
	var theirs huma.ErrorModel
	if err := json.Unmarshal(body, &theirs); err != nil {
		t.Fatalf("embedder error body %s: %v", body, err)
	}
	if status != http.StatusUnprocessableEntity || ct != "application/problem+json" ||
		theirs.Title != "Unprocessable Entity" || theirs.Status != http.StatusUnprocessableEntity || theirs.Detail != "validation failed" ||
		len(theirs.Errors) != 1 || theirs.Errors[0].Location != "query.limit" {
		t.Errorf("embedder validation error: %d %s %s, want huma's problem+json ErrorModel", status, ct, body)
	}
	if _, ok := huma.NewError(http.StatusBadRequest, "x").(*huma.ErrorModel); !ok {
		t.Errorf("huma.NewError returns %T, want huma's *ErrorModel", huma.NewError(http.StatusBadRequest, "x"))
	}
	var doc struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	_, _, body = get(app, "/openapi.json", "")
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Components.Schemas["ErrorModel"]; !ok {
		t.Error("the embedder's OpenAPI document has no ErrorModel schema")
	}
}

// TestFromErrorModel covers the errors huma builds that no route provokes
// on demand: an error that is not an ErrorDetail (a handler's unexpected
// error, an unreadable body) never shows in "errors", so its text stays
// out of the answer unless the detail would be empty.
func TestFromErrorModel(t *testing.T) {
	loc := func(l, msg string, v any) error { return &huma.ErrorDetail{Location: l, Message: msg, Value: v} }
	for _, c := range []struct {
		status     int
		msg        string
		errs       []error
		wantDetail string
		wantErrors int
	}{
		{422, "validation failed", []error{loc("body.a", "expected string", 5), loc("query.b", "expected number", "x")}, "expected string (body.a: 5)", 2},
		{500, "unexpected error occurred", []error{errors.New("dial tcp 10.0.0.7:5432: refused")}, "unexpected error occurred", 0},
		{500, "", []error{errors.New("boom")}, "boom", 0},
		{400, "request body is required", nil, "request body is required", 0},
		{422, "validation failed", []error{nil, loc("body", "unexpected property", nil)}, "unexpected property (body: <nil>)", 1},
	} {
		m, ok := huma.NewError(c.status, c.msg, c.errs...).(*huma.ErrorModel)
		if !ok {
			t.Fatalf("huma.NewError is not huma's own")
		}
		got := fromErrorModel(m)
		if got.GetStatus() != c.status || got.Detail != c.wantDetail || len(got.Errors) != c.wantErrors {
			t.Errorf("%d %q %v: got %d %q with %d errors, want %d %q with %d", c.status, c.msg, c.errs,
				got.GetStatus(), got.Detail, len(got.Errors), c.status, c.wantDetail, c.wantErrors)
		}
	}
}
