package slack

import (
	"sync"
	"time"
)

// Deduper remembers keys (event ids, message timestamps) for a while.
// FirstSeen reports whether key is new, and remembers it. Implementations
// must be safe for concurrent use.
type Deduper interface {
	FirstSeen(key string) bool
}

// MemoryDedup is an in-process Deduper: keys expire after a fixed TTL, and
// at most Max keys are kept (the oldest are forgotten first). Since every
// key lives the same TTL, insertion order is expiry order, so expired keys
// are dropped from the front of a queue in amortised O(1).
type MemoryDedup struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	seen  map[string]time.Time // key → expiry
	queue []dedupEntry         // insertion order
	head  int
}

type dedupEntry struct {
	key string
	exp time.Time
}

// NewMemoryDedup returns a MemoryDedup; ttl <= 0 means 1 h, max <= 0 means
// 100,000 keys, now nil means time.Now.
func NewMemoryDedup(ttl time.Duration, max int, now func() time.Time) *MemoryDedup {
	if ttl <= 0 {
		ttl = time.Hour
	}
	if max <= 0 {
		max = 100_000
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryDedup{ttl: ttl, max: max, now: now, seen: map[string]time.Time{}}
}

// FirstSeen implements Deduper.
func (d *MemoryDedup) FirstSeen(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	d.expire(now)
	if exp, ok := d.seen[key]; ok && now.Before(exp) {
		return false
	}
	exp := now.Add(d.ttl)
	d.seen[key] = exp
	d.queue = append(d.queue, dedupEntry{key: key, exp: exp})
	for len(d.seen) > d.max {
		d.pop()
	}
	return true
}

// Len is the number of keys remembered.
func (d *MemoryDedup) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}

func (d *MemoryDedup) expire(now time.Time) {
	for d.head < len(d.queue) && !now.Before(d.queue[d.head].exp) {
		d.pop()
	}
}

// pop forgets the oldest entry (unless the key was seen again later).
func (d *MemoryDedup) pop() {
	e := d.queue[d.head]
	d.queue[d.head] = dedupEntry{}
	d.head++
	if exp, ok := d.seen[e.key]; ok && exp.Equal(e.exp) {
		delete(d.seen, e.key)
	}
	if d.head > 1024 && d.head*2 > len(d.queue) {
		d.queue = append([]dedupEntry(nil), d.queue[d.head:]...)
		d.head = 0
	}
}
