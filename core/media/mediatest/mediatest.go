// Package mediatest is the conformance suite every media.Store passes, and
// the media fixtures the interfaces' tests share: images (PNG, …), a store
// that deletes what it just stored (DeleteAfterPut) and an agent that reads
// its run's media (ReadAgent).
package mediatest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/media"
)

// Run runs the suite against the store newStore returns (a fresh, empty
// one per call).
func Run(t *testing.T, newStore func(t *testing.T) media.Store) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	key := keyOf(data)

	t.Run("PutOpenRoundTrip", func(t *testing.T) {
		st := newStore(t)
		if err := st.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		rc, size, err := st.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if size != int64(len(data)) {
			t.Fatalf("size %d, want %d", size, len(data))
		}
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes (err %v), want the %d stored", len(got), err, len(data))
		}
	})

	t.Run("Seek", func(t *testing.T) {
		st := newStore(t)
		if err := st.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		rc, _, err := st.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		for _, off := range []int64{1000, 10, 60000, 0} {
			if _, err := rc.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 100)
			if _, err := io.ReadFull(rc, buf); err != nil {
				t.Fatalf("read at %d: %v", off, err)
			}
			if !bytes.Equal(buf, data[off:off+100]) {
				t.Fatalf("bytes at %d differ", off)
			}
		}
		end, err := rc.Seek(-10, io.SeekEnd)
		if err != nil || end != int64(len(data)-10) {
			t.Fatalf("seek from the end: %d, %v", end, err)
		}
		tail, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(tail, data[len(data)-10:]) {
			t.Fatalf("tail %q, %v", tail, err)
		}
	})

	t.Run("PutTwiceStoresOnce", func(t *testing.T) {
		st := newStore(t)
		for range 2 {
			if err := st.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		other := []byte("concurrent puts of one medium")
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = st.Put(ctx, keyOf(other), bytes.NewReader(other), int64(len(other)))
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		rc, size, err := st.Open(ctx, keyOf(other))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if size != int64(len(other)) || !bytes.Equal(got, other) {
			t.Fatalf("after concurrent puts: %q (%d)", got, size)
		}
	})

	t.Run("ShortBodyIsNotStored", func(t *testing.T) {
		st := newStore(t)
		if err := st.Put(ctx, key, bytes.NewReader(data[:100]), int64(len(data))); err == nil {
			// Some stores learn of it only on read: it must not be there whole.
			if rc, size, err := st.Open(ctx, key); err == nil {
				got, _ := io.ReadAll(rc)
				rc.Close()
				if size == int64(len(data)) && bytes.Equal(got, data) {
					t.Fatal("a short body was stored as the whole medium")
				}
				t.Fatalf("a short body was stored: %d bytes", size)
			}
		}
	})

	t.Run("MissingAndDelete", func(t *testing.T) {
		st := newStore(t)
		if _, _, err := st.Open(ctx, key); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("open of a missing key: %v, want not found", err)
		}
		if err := st.Delete(ctx, key); err != nil {
			t.Fatalf("delete of a missing key: %v", err)
		}
		if err := st.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		if err := st.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Open(ctx, key); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("open after delete: %v, want not found", err)
		}
	})

	t.Run("KeysAreHashes", func(t *testing.T) {
		st := newStore(t)
		for _, bad := range []string{"", "../../etc/passwd", "ABCDEF" + key[6:], key[:63], key + "0", "zz" + key[2:]} {
			if err := st.Put(ctx, bad, bytes.NewReader(data), int64(len(data))); core.CodeOf(err) != core.CodeInvalid {
				t.Errorf("put under %q: %v, want invalid", bad, err)
			}
			if _, _, err := st.Open(ctx, bad); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("open of %q: %v, want not found", bad, err)
			}
		}
	})

	t.Run("IngestStoresByHash", func(t *testing.T) {
		st := newStore(t)
		png := PNG(4, 3)
		m, err := media.IngestBytes(ctx, st, png, "dot.png", "image/png", media.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if m.ID != keyOf(png) || m.Kind != media.Image || m.MIMEType != "image/png" || m.Size != int64(len(png)) || m.Width != 4 || m.Height != 3 {
			t.Fatalf("ingested %+v", m)
		}
		rc, _, err := st.Open(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, png) {
			t.Fatal("stored bytes differ")
		}
	})
}

func keyOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
