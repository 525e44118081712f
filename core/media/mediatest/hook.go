package mediatest

import (
	"context"
	"io"
	"sync"

	"github.com/agentgate/agentgate/core/media"
)

// DeleteAfterPut is a media.Store that, once armed, deletes what its next
// Put stored right after storing it: a deleted session's orphan delete
// winning the race against a run's record of the same bytes. Tests of
// the interfaces use it to show a run stores its media again.
type DeleteAfterPut struct {
	media.Store
	mu      sync.Mutex
	armed   bool
	deleted []string
}

// Arm makes the next Put delete what it stored.
func (s *DeleteAfterPut) Arm() {
	s.mu.Lock()
	s.armed = true
	s.mu.Unlock()
}

// Deleted returns the keys an armed Put deleted.
func (s *DeleteAfterPut) Deleted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.deleted...)
}

// Put stores the bytes, then deletes them if armed (once).
func (s *DeleteAfterPut) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := s.Store.Put(ctx, key, r, size); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.armed {
		return nil
	}
	s.armed = false
	s.deleted = append(s.deleted, key)
	return s.Store.Delete(ctx, key)
}
