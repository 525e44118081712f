// Package media holds the files, images, audio and video that runs carry:
// their classification (by content type, with the file name's extension as
// a fallback, checked against the bytes), a small content-addressed store
// (a directory on the embedded default, S3-compatible object storage when
// scaled out) and the streaming ingestion that hashes, bounds and stores an
// upload without holding it whole in memory.
package media

import (
	"context"
	"io"

	"github.com/agentgate/agentgate/core"
)

// Kind is what a medium is (core.MediaKind).
type Kind = core.MediaKind

// Kinds.
const (
	Image    = core.MediaImage
	Audio    = core.MediaAudio
	Video    = core.MediaVideo
	Document = core.MediaDocument
)

// Media is a stored medium as runs and sessions reference it
// (core.MediaRef): its ID is the SHA-256 of its bytes (hex), under which
// the store keeps them once.
type Media = core.MediaRef

// Store keeps media bytes by key (the SHA-256 of the bytes, hex). Putting
// a key that is stored is a no-op, so media are stored once however many
// runs carry them. Implementations must be safe for concurrent use.
type Store interface {
	// Put stores size bytes read from r under key. The caller has
	// checked that key is the bytes' hash.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Open returns the bytes under key, seekable (for range requests),
	// and their size; a missing key is a core not-found error.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, int64, error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// notFound is the error of a key the store does not hold (errors.Is
// core.ErrNotFound).
func notFound(key string) error {
	return core.Errorf(core.CodeNotFound, "media %q not found", key)
}

// ValidKey reports whether key is a SHA-256 in lower-case hex: the only
// keys the stores accept, so a key can never name a path or object
// outside the store.
func ValidKey(key string) bool {
	if len(key) != 64 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func checkKey(key string) error {
	if !ValidKey(key) {
		return core.Errorf(core.CodeInvalid, "media key %q: want the SHA-256 of the bytes, in lower-case hex", key)
	}
	return nil
}
