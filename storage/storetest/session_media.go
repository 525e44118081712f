package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

// testSessionMedia covers core.SessionMediaStore: records round trip, a
// medium recorded twice keeps its first record, one session's media are
// not another's, and deleting sessions (one, several, missing ones)
// deletes their records and reports exactly the media no other session
// carries; the delete of a medium no record names excludes a new record
// of it. Media ids are random, so a shared database changes nothing.
func testSessionMedia(t *testing.T, newBackend Factory) {
	parallel(t, "RunOutputMedia", func(t *testing.T) {
		// The media a run produced are stored with it, by kind.
		s := newBackend(t).Runs
		sess := mustCreateSession(t, s, minimalSession())
		r := minimalRun(sess.SessionID)
		r.RunMedia.Add(core.MediaRef{ID: mediaID(), Kind: core.MediaImage, MIMEType: "image/png", Name: "chart.png", Size: 9, Width: 2, Height: 2})
		r.RunMedia.Add(core.MediaRef{ID: mediaID(), Kind: core.MediaDocument, MIMEType: "text/csv", Name: "rows.csv", Size: 3})
		mustCreateRun(t, s, r)
		got := mustGetRun(t, s, r.RunID)
		if !reflect.DeepEqual(got.RunMedia, r.RunMedia) {
			t.Fatalf("output media = %+v, want %+v", got.RunMedia, r.RunMedia)
		}
		upd := mustGetRun(t, s, r.RunID)
		upd.RunMedia.Add(core.MediaRef{ID: mediaID(), Kind: core.MediaAudio, MIMEType: "audio/wav", Size: 4})
		if err := s.UpdateRun(t.Context(), upd, core.UpdateRunParams{}); err != nil {
			t.Fatalf("UpdateRun: %v", err)
		}
		if got := mustGetRun(t, s, r.RunID); len(got.RunMedia.Audio) != 1 || len(got.RunMedia.Images) != 1 || len(got.RunMedia.Files) != 1 {
			t.Fatalf("output media after an update = %+v", got.RunMedia)
		}
	})

	parallel(t, "RoundTrip", func(t *testing.T) {
		s := newBackend(t).SessionMedia
		sid := newID("session")
		img := core.MediaRef{ID: mediaID(), Kind: core.MediaImage, MIMEType: "image/png", Name: "a.png", Size: 123, Width: 4, Height: 3}
		doc := core.MediaRef{ID: mediaID(), Kind: core.MediaDocument, MIMEType: "application/pdf", Name: "b.pdf", Size: 4567}
		if err := s.AddSessionMedia(t.Context(), sid, "user-1", []core.MediaRef{img, doc}, baseTime()); err != nil {
			t.Fatalf("AddSessionMedia: %v", err)
		}
		for _, want := range []core.MediaRef{img, doc} {
			got, err := s.GetSessionMedia(t.Context(), sid, want.ID)
			if err != nil {
				t.Fatalf("GetSessionMedia(%s): %v", want.Name, err)
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("GetSessionMedia = %+v, want %+v", *got, want)
			}
		}
		// Again, under another name: the first record stays.
		again := img
		again.Name = "renamed.png"
		if err := s.AddSessionMedia(t.Context(), sid, "user-1", []core.MediaRef{again}, baseTime()+1); err != nil {
			t.Fatalf("AddSessionMedia again: %v", err)
		}
		if got, err := s.GetSessionMedia(t.Context(), sid, img.ID); err != nil || got.Name != "a.png" {
			t.Errorf("GetSessionMedia after a second add = %+v, %v; want the first record", got, err)
		}
		if err := s.AddSessionMedia(t.Context(), sid, "", nil, baseTime()); err != nil {
			t.Errorf("AddSessionMedia of none: %v", err)
		}
	})

	parallel(t, "Invalid", func(t *testing.T) {
		s := newBackend(t).SessionMedia
		m := core.MediaRef{ID: mediaID(), Kind: core.MediaImage, MIMEType: "image/png", Size: 1}
		if err := s.AddSessionMedia(t.Context(), "", "", []core.MediaRef{m}, baseTime()); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("AddSessionMedia without a session: %v, want ErrInvalid", err)
		}
		if err := s.AddSessionMedia(t.Context(), newID("session"), "", []core.MediaRef{{Kind: core.MediaImage}}, baseTime()); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("AddSessionMedia of a medium without id: %v, want ErrInvalid", err)
		}
	})

	parallel(t, "Isolation", func(t *testing.T) {
		s := newBackend(t).SessionMedia
		a, b := newID("session"), newID("session")
		m := core.MediaRef{ID: mediaID(), Kind: core.MediaAudio, MIMEType: "audio/wav", Size: 10}
		if err := s.AddSessionMedia(t.Context(), a, "", []core.MediaRef{m}, baseTime()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetSessionMedia(t.Context(), b, m.ID); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetSessionMedia of another session: %v, want ErrNotFound", err)
		}
		if _, err := s.GetSessionMedia(t.Context(), a, mediaID()); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetSessionMedia of a medium never added: %v, want ErrNotFound", err)
		}
	})

	parallel(t, "DeleteReportsOrphans", func(t *testing.T) {
		s := newBackend(t).SessionMedia
		ctx := t.Context()
		one, two, three := newID("session"), newID("session"), newID("session")
		shared, onlyOne, onlyTwo, sharedWithThree := mediaRef(), mediaRef(), mediaRef(), mediaRef()
		for sid, refs := range map[string][]core.MediaRef{
			one:   {shared, onlyOne, sharedWithThree},
			two:   {shared, onlyTwo},
			three: {sharedWithThree},
		} {
			if err := s.AddSessionMedia(ctx, sid, "u", refs, baseTime()); err != nil {
				t.Fatal(err)
			}
		}
		// One session: only what no other session carries is an orphan.
		orphans, err := s.DeleteSessionMedia(ctx, []string{one, newID("missing")})
		if err != nil {
			t.Fatalf("DeleteSessionMedia: %v", err)
		}
		assertIDs(t, "orphans of deleting one", []string{onlyOne.ID}, sorted(orphans))
		if _, err := s.GetSessionMedia(ctx, one, shared.ID); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetSessionMedia of a deleted session: %v, want ErrNotFound", err)
		}
		if _, err := s.GetSessionMedia(ctx, two, shared.ID); err != nil {
			t.Errorf("GetSessionMedia of the session kept: %v", err)
		}
		// Bulk: the shared medium goes with both of its sessions.
		orphans, err = s.DeleteSessionMedia(ctx, []string{two, three})
		if err != nil {
			t.Fatalf("DeleteSessionMedia (bulk): %v", err)
		}
		assertIDs(t, "orphans of deleting the rest", sorted([]string{shared.ID, onlyTwo.ID, sharedWithThree.ID}), sorted(orphans))
		// Again: nothing left, nothing reported.
		if orphans, err := s.DeleteSessionMedia(ctx, []string{one, two, three}); err != nil || len(orphans) != 0 {
			t.Errorf("DeleteSessionMedia again = %v, %v; want none", orphans, err)
		}
		if orphans, err := s.DeleteSessionMedia(ctx, nil); err != nil || len(orphans) != 0 {
			t.Errorf("DeleteSessionMedia(nil) = %v, %v; want none", orphans, err)
		}
	})

	parallel(t, "DeleteManySessions", func(t *testing.T) {
		// More sessions than one statement binds on SQLite.
		s := newBackend(t).SessionMedia
		ctx := t.Context()
		shared := mediaRef()
		var ids, want []string
		for range deleteChunkSQLite + 20 {
			sid, own := newID("session"), mediaRef()
			ids = append(ids, sid)
			want = append(want, own.ID)
			if err := s.AddSessionMedia(ctx, sid, "", []core.MediaRef{shared, own}, baseTime()); err != nil {
				t.Fatal(err)
			}
		}
		keep := newID("session")
		if err := s.AddSessionMedia(ctx, keep, "", []core.MediaRef{shared}, baseTime()); err != nil {
			t.Fatal(err)
		}
		orphans, err := s.DeleteSessionMedia(ctx, ids)
		if err != nil {
			t.Fatalf("DeleteSessionMedia: %v", err)
		}
		assertIDs(t, "orphans", sorted(want), sorted(orphans))
	})

	parallel(t, "DeleteUnreferenced", func(t *testing.T) {
		// del is called for the ids no record names, and only those; its
		// error is returned after every id was tried.
		s := newBackend(t).SessionMedia
		ctx := t.Context()
		kept, free, failing := mediaRef(), mediaRef(), mediaRef()
		if err := s.AddSessionMedia(ctx, newID("session"), "", []core.MediaRef{kept}, baseTime()); err != nil {
			t.Fatal(err)
		}
		var called []string
		boom := errors.New("the media store is down")
		deleted, err := s.DeleteUnreferencedMedia(ctx, []string{kept.ID, failing.ID, free.ID}, func(_ context.Context, id string) error {
			called = append(called, id)
			if id == failing.ID {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) {
			t.Errorf("DeleteUnreferencedMedia's error = %v, want del's", err)
		}
		assertIDs(t, "deleted", []string{free.ID}, deleted)
		assertIDs(t, "del called for", sorted([]string{failing.ID, free.ID}), sorted(called))
		if deleted, err := s.DeleteUnreferencedMedia(ctx, nil, nil); err != nil || len(deleted) != 0 {
			t.Errorf("DeleteUnreferencedMedia(nil) = %v, %v", deleted, err)
		}
	})

	parallel(t, "DeleteExcludesRecord", func(t *testing.T) {
		// While del runs for a medium, a record of it is not added: it
		// waits until del returns (so the caller of AddSessionMedia finds
		// the bytes gone, and stores them again, or finds them kept).
		s := newBackend(t).SessionMedia
		ctx := t.Context()
		m := mediaRef()
		entered, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			_, err := s.DeleteUnreferencedMedia(ctx, []string{m.ID}, func(context.Context, string) error {
				close(entered)
				<-release
				return nil
			})
			done <- err
		}()
		<-entered
		added := make(chan error, 1)
		sid := newID("session")
		go func() { added <- s.AddSessionMedia(ctx, sid, "", []core.MediaRef{m}, baseTime()) }()
		select {
		case err := <-added:
			close(release)
			<-done
			t.Fatalf("AddSessionMedia returned (%v) while the medium's bytes were being deleted", err)
		case <-time.After(150 * time.Millisecond):
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := <-added; err != nil {
			t.Fatal(err)
		}
		// Recorded now: never deleted.
		deleted, err := s.DeleteUnreferencedMedia(ctx, []string{m.ID}, func(context.Context, string) error {
			t.Error("del called for a medium a session carries")
			return nil
		})
		if err != nil || len(deleted) != 0 {
			t.Errorf("DeleteUnreferencedMedia of a recorded medium = %v, %v", deleted, err)
		}
	})
}

// mediaID is a random SHA-256-shaped media id.
func mediaID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func mediaRef() core.MediaRef {
	return core.MediaRef{ID: mediaID(), Kind: core.MediaDocument, MIMEType: "text/plain", Size: 5}
}

func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// deleteChunkSQLite is how many ids storage/sqlstore binds in one SQLite
// statement.
const deleteChunkSQLite = 500
