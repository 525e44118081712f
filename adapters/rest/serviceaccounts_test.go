package rest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// TestServiceAccountsWithoutStore registers the adapter without a service
// accounts' store (an embedder's engine alone): the routes exist, as the
// policy requires, and answer 501 rather than failing or panicking.
func TestServiceAccountsWithoutStore(t *testing.T) {
	eng := enginetest.New(t, enginetest.Options{}).Engine
	a, err := auth.New(auth.Config{}, nil) // mode none: an anonymous admin
	if err != nil {
		t.Fatal(err)
	}
	srv := httptransport.New(httptransport.Config{Auth: a})
	Register(srv, eng, Config{})
	for _, r := range []struct{ method, path, body string }{
		{http.MethodGet, "/service-accounts", ""},
		{http.MethodPost, "/service-accounts", `{"name":"bot","scopes":["agents:read"]}`},
		{http.MethodGet, "/service-accounts/x", ""},
		{http.MethodDelete, "/service-accounts/x", ""},
	} {
		req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
		if r.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := srv.App.Test(req, 5000)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(string(b), "service accounts need a state store") {
			t.Errorf("%s %s = %d %s, want 501", r.method, r.path, resp.StatusCode, b)
		}
	}
}
