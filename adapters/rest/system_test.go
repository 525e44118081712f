package rest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/auth"
)

// fakeMigrator is a database at a version; fail makes every migration fail.
type fakeMigrator struct {
	mu      sync.Mutex
	version int64
	fail    bool
}

func (m *fakeMigrator) Version(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version, nil
}

func (m *fakeMigrator) Migrate(_ context.Context, target int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("disk full")
	}
	if target == -1 {
		target = 5
	}
	m.version = target
	return nil
}

// TestMigrateRoutes checks POST /databases/{db_id}/migrate and
// /databases/all/migrate: up and down to target_version, 404 for an
// unknown database, 400 for a bad target, 207 when some database failed,
// and admin only (config:write is not enough).
func TestMigrateRoutes(t *testing.T) {
	a, b := &fakeMigrator{version: 5}, &fakeMigrator{version: 5}
	srv := authzServerWith(t, Config{Policy: auth.NewPolicy(), Databases: []DatabaseInfo{
		{ID: "a", Kind: "sqlite", Migrator: a}, {ID: "b", Kind: "sqlite", Migrator: b},
	}})
	token := func(scopes ...string) string {
		tok, err := auth.MintJWT(auth.MintConfig{Algorithm: auth.AlgHS256}, authzTestSecret, "ops", scopes, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	admin := token(auth.AdminScope)
	post := func(path, tok string, want int) map[string]any {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.App.Test(req, 5000)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST %s: %d, want %d: %s", path, resp.StatusCode, want, body)
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		return m
	}
	if r := post("/databases/a/migrate?target_version=2", admin, http.StatusOK); r["from_version"] != float64(5) || r["to_version"] != float64(2) {
		t.Errorf("down: %v", r)
	}
	if r := post("/databases/a/migrate", admin, http.StatusOK); r["from_version"] != float64(2) || r["to_version"] != float64(5) {
		t.Errorf("up to latest: %v", r)
	}
	post("/databases/nope/migrate", admin, http.StatusNotFound)
	post("/databases/a/migrate?target_version=-3", admin, http.StatusBadRequest)
	post("/databases/a/migrate?target_version=two", admin, http.StatusBadRequest)
	post("/databases/a/migrate", token("config:write"), http.StatusForbidden)
	post("/databases/all/migrate", token("config:write"), http.StatusForbidden)

	if r := post("/databases/all/migrate?target_version=1", admin, http.StatusOK); len(r["results"].([]any)) != 2 {
		t.Errorf("all: %v", r)
	}
	if a.version != 1 || b.version != 1 {
		t.Errorf("all migrated to %d and %d, want 1", a.version, b.version)
	}
	b.fail = true
	r := post("/databases/all/migrate", admin, http.StatusMultiStatus)
	res := r["results"].([]any)
	if ok, failed := res[0].(map[string]any), res[1].(map[string]any); ok["to_version"] != float64(5) || ok["error"] != nil ||
		failed["db_id"] != "b" || failed["error"] == nil || failed["to_version"] != float64(1) {
		t.Errorf("partial failure: %v", r)
	}
}
