package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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

// TestRefusedUploadStoresNothing: a run form refused after some of its
// files were stored (its third file is over the limit, or lies about its
// type) leaves the media store as it was, but for a medium another session
// already carried, which it keeps; and a streamed form naming another
// user's session is refused before any of its files is stored.
func TestRefusedUploadStoresNothing(t *testing.T) {
	t.Parallel()
	g := startGateway(t, fmt.Sprintf(mediaConfig, "openai", "unused", "http://127.0.0.1:1"))
	alice := mint(t, "alice", "agents:run", "agents:read", "sessions:read", "sessions:delete")
	bob := mint(t, "bob", "agents:run", "agents:read", "sessions:read")
	dir := filepath.Join(g.Dir, "media")
	shared := []byte("notes the kept session carries")
	want(t, g, alice, http.MethodPost, "/agents/echo/runs", runForm(t, map[string]string{"message": "keep", "stream": "false", "session_id": "s-keep"},
		mediaFile{"shared.txt", "text/plain", shared}), http.StatusOK)
	before := storedFiles(t, dir)
	if len(before) != 1 {
		t.Fatalf("the media dir holds %v, want the one medium", before)
	}
	text := func(n int, fill byte) []byte { return bytes.Repeat([]byte{fill}, n) }
	cases := []struct {
		name   string
		files  []mediaFile
		status int
	}{
		// Over 64 KiB: streamed, each file stored as it arrives.
		{"streamed, third over the limit", []mediaFile{{"a.txt", "text/plain", text(40_000, 'a')}, {"shared.txt", "text/plain", shared},
			{"b.txt", "text/plain", text(30_000, 'b')}, {"big.txt", "text/plain", text(200_001, 'c')}}, http.StatusRequestEntityTooLarge},
		// Small: read whole, its files stored one by one after.
		{"whole, third lies about its type", []mediaFile{{"d.txt", "text/plain", text(300, 'd')}, {"shared.txt", "text/plain", shared},
			{"fake.png", "image/png", []byte("not a PNG at all")}}, http.StatusBadRequest},
	}
	for _, c := range cases {
		want(t, g, alice, http.MethodPost, "/agents/echo/runs", runForm(t, map[string]string{"message": "refused", "stream": "false", "session_id": "s-new"}, c.files...), c.status)
		if after := storedFiles(t, dir); !slices.Equal(after, before) {
			t.Errorf("%s: the media dir holds %v after the refused run, %v before", c.name, after, before)
		}
		if b := want(t, g, alice, http.MethodGet, "/sessions/s-keep/media/"+sha(shared), nil, http.StatusOK); string(b) != string(shared) {
			t.Fatalf("%s: s-keep's medium: %q", c.name, b)
		}
	}

	// Bob names alice's session first: not found, nothing of his stored.
	form := runForm(t, map[string]string{"message": "mine now", "stream": "false", "session_id": "s-keep"}, mediaFile{"bob.txt", "text/plain", text(80_000, 'e')})
	want(t, g, bob, http.MethodPost, "/agents/echo/runs", form, http.StatusNotFound)
	if after := storedFiles(t, dir); !slices.Equal(after, before) {
		t.Errorf("another user's session: the media dir holds %v after the refused run, %v before", after, before)
	}
}
