package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// DirStore keeps media as files under a directory: Root/ab/<key>, where ab
// are the key's first two hex digits. Writes go to a temporary file in
// Root and are renamed into place, so a medium is either whole or absent.
type DirStore struct {
	Root string
}

// NewDirStore returns the store of root, creating it.
func NewDirStore(root string) (*DirStore, error) {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, fmt.Errorf("media: create %s: %w", root, err)
	}
	return &DirStore{Root: root}, nil
}

func (d *DirStore) path(key string) string { return filepath.Join(d.Root, key[:2], key) }

// Put implements Store.
func (d *DirStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	p := d.path(key)
	if _, err := os.Stat(p); err == nil {
		return nil // stored once
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return fmt.Errorf("media: %w", err)
	}
	tmp, err := os.CreateTemp(d.Root, ".put-*")
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing left
	n, err := io.Copy(tmp, ctxReader{ctx, r})
	if err == nil && n != size {
		err = fmt.Errorf("media: %s: read %d bytes, want %d", key, n, size)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("media: %w", err)
	}
	return nil
}

// Open implements Store.
func (d *DirStore) Open(_ context.Context, key string) (io.ReadSeekCloser, int64, error) {
	if !ValidKey(key) {
		return nil, 0, notFound(key)
	}
	f, err := os.Open(d.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, notFound(key)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("media: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("media: %w", err)
	}
	return f, st.Size(), nil
}

// Delete implements Store.
func (d *DirStore) Delete(_ context.Context, key string) error {
	if !ValidKey(key) {
		return nil
	}
	if err := os.Remove(d.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("media: %w", err)
	}
	return nil
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
