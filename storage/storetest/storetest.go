// Package storetest is the conformance suite for the state stores
// (core.RunStore, auth.ServiceAccountStore), one file per domain. Every
// backend runs it unchanged from its own tests (river's riverdrivertest pattern):
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "state.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The suite is split into one file per behaviour area. Every subtest is
// parallel and asks the factory for its own store, and the suite never
// closes it: the factory owns the store's lifetime (usually t.Cleanup).
// The factory may return stores that share one database: tests use fresh
// uuids and count only rows they can tell apart (a unique user, session or
// agent id), so nothing assumes an empty database.
package storetest

import (
	"testing"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
)

// Store is every store a backend implements, one interface per domain.
type Store interface {
	core.RunStore
	auth.ServiceAccountStore
}

// Factory returns a ready store for one (sub)test and arranges its cleanup.
type Factory = func(t *testing.T) Store

// Run runs the whole suite against the stores newStore returns.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	t.Helper()
	areas := []struct {
		name string
		run  func(*testing.T, Factory)
	}{
		{"Ping", testPing},
		{"Sessions", testSessions},
		{"Runs", testRuns},
		{"PausedState", testPausedState},
		{"CompareAndSet", testCompareAndSet},
		{"CancelIntent", testCancelIntent},
		{"ListSessions", testListSessions},
		{"ListRuns", testListRuns},
		{"Concurrency", testConcurrency},
		{"Leases", testLeases},
		{"ServiceAccounts", testServiceAccounts},
		{"IdempotencyKeys", testIdempotencyKeys},
	}
	for _, a := range areas {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			a.run(t, newStore)
		})
	}
}

func testPing(t *testing.T, newStore Factory) {
	s := newStore(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
