package core_test

// The race of issue #21: a deleted session's orphan medium is deleted from
// the media store while another session uploads the same bytes (the same
// content-hash id). Whatever the interleaving, the other session keeps
// them. Run on SQLite and on Postgres, with the directory media store.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/media"
	"github.com/agentgate/agentgate/storage/memlog"
	"github.com/agentgate/agentgate/storage/postgres"
	"github.com/agentgate/agentgate/storage/postgres/pgtest"
	"github.com/agentgate/agentgate/storage/sqlite"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// mediaStore is what a backend gives the engine: runs and session media.
type mediaStore interface {
	core.RunStore
	core.SessionMediaStore
	Close() error
}

// hookStore is a media store whose Delete runs hook first (nil: none).
type hookStore struct {
	media.Store
	mu   sync.Mutex
	hook func(id string)
}

func (h *hookStore) Delete(ctx context.Context, id string) error {
	h.mu.Lock()
	hook := h.hook
	h.mu.Unlock()
	if hook != nil {
		hook(id)
	}
	return h.Store.Delete(ctx, id)
}

func (h *hookStore) setHook(f func(id string)) {
	h.mu.Lock()
	h.hook = f
	h.mu.Unlock()
}

type mediaEnv struct {
	eng   *core.Engine
	store *hookStore
	res   *media.Resolver
}

func mediaBackends() map[string]func(t *testing.T) mediaStore {
	return map[string]func(t *testing.T) mediaStore{
		"sqlite": func(t *testing.T) mediaStore {
			s, err := sqlite.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "state.db"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"postgres": func(t *testing.T) mediaStore {
			s, err := postgres.Open(context.Background(), pgtest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

// mediaStores are the media stores: the directory, and S3 (gofakes3
// through the real SDK).
func mediaStores() map[string]func(t *testing.T) media.Store {
	return map[string]func(t *testing.T) media.Store{
		"dir": func(t *testing.T) media.Store {
			dir, err := media.NewDirStore(filepath.Join(t.TempDir(), "media"))
			if err != nil {
				t.Fatal(err)
			}
			return dir
		},
		"s3": func(t *testing.T) media.Store {
			srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
			t.Cleanup(srv.Close)
			c := s3.New(s3.Options{BaseEndpoint: aws.String(srv.URL), UsePathStyle: true, Region: "us-east-1",
				Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
			if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("media")}); err != nil {
				t.Fatal(err)
			}
			st, err := media.NewS3Store(context.Background(), media.S3Config{Bucket: "media", Endpoint: srv.URL, PathStyle: true, AccessKeyID: "k", SecretAccessKey: "s"})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	}
}

// eachMediaEnv runs f on every backend with every media store.
func eachMediaEnv(t *testing.T, f func(t *testing.T, env *mediaEnv)) {
	for bn, open := range mediaBackends() {
		for mn, newMedia := range mediaStores() {
			t.Run(bn+"/"+mn, func(t *testing.T) { f(t, newMediaEnv(t, open, newMedia)) })
		}
	}
}

func newMediaEnv(t *testing.T, open func(t *testing.T) mediaStore, newMedia func(t *testing.T) media.Store) *mediaEnv {
	t.Helper()
	st := open(t)
	hs := &hookStore{Store: newMedia(t)}
	log := memlog.New(core.EventLogConfig{})
	eng, err := core.NewEngine(core.EngineConfig{Store: st, Log: log, Media: hs, SessionMedia: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = eng.Close(ctx)
		_ = log.Close()
		_ = st.Close()
	})
	ok := &funcAgent{id: "echo", fn: func(context.Context, *core.Execution) (*core.Outcome, error) {
		return &core.Outcome{Content: "ok"}, nil
	}}
	if err := eng.RegisterAgent(ok); err != nil {
		t.Fatal(err)
	}
	return &mediaEnv{eng: eng, store: hs, res: &media.Resolver{Store: hs, Limits: media.Limits{TempDir: t.TempDir()}}}
}

// randomDoc is a text document of its own bytes (its own id).
func randomDoc(t *testing.T) []byte {
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return []byte("notes " + hex.EncodeToString(b) + "\n")
}

// upload stores doc as one run's media, keeping its spool (the REST
// adapter's way).
func (env *mediaEnv) upload(t *testing.T, doc []byte) (*media.Upload, []core.MediaRef) {
	t.Helper()
	up := env.res.NewUpload().Restorable()
	t.Cleanup(func() { up.Close() })
	if err := up.AddStream(t.Context(), bytes.NewReader(doc), "notes.txt", "text/plain"); err != nil {
		t.Fatalf("AddStream: %v", err)
	}
	refs, err := up.Resolve(t.Context(), nil)
	if err != nil || len(refs) != 1 {
		t.Fatalf("Resolve = %v, %v", refs, err)
	}
	return up, refs
}

// run runs a blocking run of the session carrying refs.
func (env *mediaEnv) run(ctx context.Context, session string, refs []core.MediaRef, src core.MediaRestorer) error {
	_, err := env.eng.RunBlocking(ctx, core.StartParams{AgentID: "echo", SessionID: session,
		Message: "read it", Media: refs, MediaSource: src})
	return err
}

// holds reports whether the media store serves exactly doc under id.
func (env *mediaEnv) holds(t *testing.T, id string, doc []byte) bool {
	t.Helper()
	got, err := core.ReadMedia(t.Context(), env.store, id, int64(len(doc)))
	if errors.Is(err, core.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("ReadMedia: %v", err)
	}
	if !bytes.Equal(got, doc) {
		t.Fatalf("the store holds %q under %s, want %q", got, id, doc)
	}
	return true
}

// TestMediaOrphanDeleteBeforeRecord: session B's upload finds the bytes
// stored (session A's), then A is deleted (no record names them yet: they
// are deleted), then B's run records them: B's run stores them again.
func TestMediaOrphanDeleteBeforeRecord(t *testing.T) {
	eachMediaEnv(t, func(t *testing.T, env *mediaEnv) {
		doc := randomDoc(t)
		upA, refs := env.upload(t, doc)
		if err := env.run(t.Context(), "sess-a", refs, upA); err != nil {
			t.Fatal(err)
		}
		upB, refsB := env.upload(t, doc) // stored already: no write
		if _, err := env.eng.DeleteSessions(t.Context(), []string{"sess-a"}); err != nil {
			t.Fatal(err)
		}
		if env.holds(t, refs[0].ID, doc) {
			t.Fatal("the orphan's bytes were not deleted with session A")
		}
		if err := env.run(t.Context(), "sess-b", refsB, upB); err != nil {
			t.Fatal(err)
		}
		if !env.holds(t, refs[0].ID, doc) {
			t.Fatal("session B's medium is lost: deleted with session A after B's upload found it stored")
		}
		// Without a source to store them again, the run is refused,
		// never started without its media.
		_, refsC := env.upload(t, doc)
		if _, err := env.eng.DeleteSessions(t.Context(), []string{"sess-b"}); err != nil {
			t.Fatal(err)
		}
		err := env.run(t.Context(), "sess-c", refsC, nil)
		if core.CodeOf(err) != core.CodeUnavailable {
			t.Fatalf("a run whose media were deleted, with no source = %v, want an unavailable error", err)
		}
	})
}

// TestMediaOrphanDeleteRacesRecord forces the interleaving of the issue:
// A's orphan is reported, B's upload finds the bytes stored and B's run
// records them, then the orphan's bytes are deleted. The delete holds
// what keeps B's record waiting (or finds it), so B keeps the bytes.
func TestMediaOrphanDeleteRacesRecord(t *testing.T) {
	eachMediaEnv(t, func(t *testing.T, env *mediaEnv) {
		doc := randomDoc(t)
		upA, refs := env.upload(t, doc)
		if err := env.run(t.Context(), "sess-a", refs, upA); err != nil {
			t.Fatal(err)
		}
		entered, release := make(chan struct{}), make(chan struct{})
		env.store.setHook(func(string) {
			close(entered)
			select { // B's record waits on this delete when it is excluded
			case <-release:
			case <-time.After(300 * time.Millisecond):
			}
		})
		deleted := make(chan error, 1)
		go func() {
			_, err := env.eng.DeleteSessions(context.Background(), []string{"sess-a"})
			deleted <- err
		}()
		<-entered
		env.store.setHook(nil)
		upB, refsB := env.upload(t, doc) // the bytes are still there
		recorded := make(chan error, 1)
		go func() { recorded <- env.run(context.Background(), "sess-b", refsB, upB) }()
		var errB error
		select {
		case errB = <-recorded: // not excluded: B recorded before the delete
			close(release)
		case <-time.After(100 * time.Millisecond):
			close(release)
			errB = <-recorded
		}
		if err := <-deleted; err != nil {
			t.Fatal(err)
		}
		if errB != nil {
			t.Fatal(errB)
		}
		if !env.holds(t, refs[0].ID, doc) {
			t.Fatal("session B's medium is lost: session A's orphan delete removed it after B recorded it")
		}
	})
}

// TestMediaOrphanDeleteConcurrent races the delete of the session that
// carries a medium with another session's upload and run of the same
// bytes, many times: the other session always keeps them, and deleting
// it too leaves none.
func TestMediaOrphanDeleteConcurrent(t *testing.T) {
	eachMediaEnv(t, func(t *testing.T, env *mediaEnv) {
		for i := range 20 {
			doc := randomDoc(t)
			a, b := fmt.Sprintf("sess-a-%d", i), fmt.Sprintf("sess-b-%d", i)
			upA, refs := env.upload(t, doc)
			if err := env.run(t.Context(), a, refs, upA); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var errDel, errB error
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, errDel = env.eng.DeleteSessions(context.Background(), []string{a})
			}()
			go func() {
				defer wg.Done()
				up := env.res.NewUpload().Restorable()
				defer up.Close()
				if errB = up.AddStream(context.Background(), bytes.NewReader(doc), "notes.txt", "text/plain"); errB != nil {
					return
				}
				refsB, err := up.Resolve(context.Background(), nil)
				if err != nil {
					errB = err
					return
				}
				errB = env.run(context.Background(), b, refsB, up)
			}()
			wg.Wait()
			if errDel != nil || errB != nil {
				t.Fatalf("round %d: delete: %v; upload and run: %v", i, errDel, errB)
			}
			if !env.holds(t, refs[0].ID, doc) {
				t.Fatalf("round %d: session B's medium is lost", i)
			}
			if _, err := env.eng.DeleteSessions(t.Context(), []string{b}); err != nil {
				t.Fatal(err)
			}
			if env.holds(t, refs[0].ID, doc) {
				t.Fatalf("round %d: the medium outlived every session that carried it", i)
			}
		}
	})
}
