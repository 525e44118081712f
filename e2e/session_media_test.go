package e2e

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentgate/agentgate/core/media/mediatest"
)

// TestSessionMediaDeleted: a session's media are served from its media
// records, and deleting sessions (one, then in bulk) deletes their records
// and the stored bytes no other session still carries.
func TestSessionMediaDeleted(t *testing.T) {
	t.Parallel()
	g := startGateway(t, fmt.Sprintf(mediaConfig, "openai", "unused", "http://127.0.0.1:1"))
	alice := mint(t, "alice", "agents:run", "agents:read", "sessions:read", "sessions:delete")
	png, notes, memo := mediatest.PNG(2, 2), []byte("shared notes"), []byte("a memo of its own")
	stored := func(b []byte) string { id := sha(b); return filepath.Join(g.Dir, "media", id[:2], id) }
	exists := func(b []byte) bool {
		_, err := os.Stat(stored(b))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		return err == nil
	}
	run := func(sid string, files ...mediaFile) {
		t.Helper()
		want(t, g, alice, http.MethodPost, "/agents/echo/runs", runForm(t, map[string]string{"message": "look", "stream": "false", "session_id": sid}, files...), http.StatusOK)
	}
	run("s-one", mediaFile{"dot.png", "image/png", png}, mediaFile{"notes.txt", "text/plain", notes})
	run("s-two", mediaFile{"notes.txt", "text/plain", notes})
	run("s-three", mediaFile{"memo.txt", "text/plain", memo})
	if !exists(png) || !exists(notes) || !exists(memo) {
		t.Fatalf("the media are not in the store under %s", filepath.Join(g.Dir, "media"))
	}
	want(t, g, alice, http.MethodGet, "/sessions/s-one/media/"+sha(png), nil, http.StatusOK)
	want(t, g, alice, http.MethodGet, "/sessions/s-two/media/"+sha(png), nil, http.StatusNotFound)

	// Deleting s-one: its image goes, the notes s-two carries stay.
	want(t, g, alice, http.MethodDelete, "/sessions/s-one", nil, http.StatusNoContent)
	if exists(png) || !exists(notes) {
		t.Fatalf("after deleting s-one: image stored %v (want false), notes stored %v (want true)", exists(png), exists(notes))
	}
	want(t, g, alice, http.MethodGet, "/sessions/s-one/media/"+sha(notes), nil, http.StatusNotFound)
	if b := want(t, g, alice, http.MethodGet, "/sessions/s-two/media/"+sha(notes), nil, http.StatusOK); string(b) != string(notes) {
		t.Fatalf("s-two's notes: %q", b)
	}

	// In bulk: the rest goes.
	want(t, g, alice, http.MethodDelete, "/sessions", jsonBody(t, map[string]any{"session_ids": []string{"s-two", "s-three"}}), http.StatusNoContent)
	if exists(notes) || exists(memo) {
		t.Fatalf("after deleting the rest: notes stored %v, memo stored %v; want neither", exists(notes), exists(memo))
	}
	want(t, g, alice, http.MethodGet, "/sessions/s-two/media/"+sha(notes), nil, http.StatusNotFound)
}
