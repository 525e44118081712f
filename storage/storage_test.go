package storage_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/queue/riverqueue"
	"github.com/agentgate/agentgate/storage"
	"github.com/agentgate/agentgate/storage/postgres"
	"github.com/agentgate/agentgate/storage/postgres/pgtest"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// One Backend per database kind carries the store, the migrator and the
// queue, each working on the database the URL names.
func TestOpenBackend(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind   string
		url    func(t *testing.T) string
		latest int64
	}{
		{storage.SQLite, func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "s.db") }, slices.Max(sqlite.Versions())},
		{storage.Postgres, func(t *testing.T) string { return pgtest.URL(t) }, slices.Max(postgres.Versions())},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			url := tc.url(t)
			ctx := t.Context()
			b, err := storage.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			if b.Kind != tc.kind || storage.Kind(url) != tc.kind {
				t.Errorf("kind %q (Kind(url) %q), want %q", b.Kind, storage.Kind(url), tc.kind)
			}
			// The store is the database's: a session written through it is read back.
			s := &core.Session{SessionID: "s1", AgentID: "a", UserID: "u", CreatedAt: 1, UpdatedAt: 1}
			if err := b.Store.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
			if got, err := b.Store.GetSession(ctx, "s1"); err != nil || got.AgentID != "a" {
				t.Fatalf("session read back: %+v, %v", got, err)
			}
			// Open migrated to the latest version, and the migrator sees it.
			if v, err := b.Migrator.Version(ctx); err != nil || v != tc.latest {
				t.Fatalf("migrator version %d, %v; want %d", v, err, tc.latest)
			}
			q, err := b.OpenQueue(ctx, riverqueue.Config{Workers: 1, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			// agentgate migrate's migrator: down to nothing and back.
			m, err := storage.OpenMigrator(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if err := m.Migrate(ctx, 0); err != nil {
				t.Fatal(err)
			}
			if v, err := m.Version(ctx); err != nil || v != 0 {
				t.Fatalf("after migrating down: version %d, %v", v, err)
			}
			if err := m.Migrate(ctx, -1); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOpenRefusesAnUnknownURL(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"mysql://u:secret@h/db", ""} {
		if _, err := storage.Open(t.Context(), url); err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q): %v, want an error without the password", url, err)
		}
		if _, err := storage.OpenMigrator(t.Context(), url); err == nil {
			t.Errorf("OpenMigrator(%q) accepted it", url)
		}
	}
}
