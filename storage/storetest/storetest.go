// Package storetest is the conformance suite for the state stores
// (core.RunStore with its approvals, auth.ServiceAccountStore), one file per domain. Every
// backend runs it unchanged from its own tests (river's riverdrivertest
// pattern), with one factory returning the backend's stores:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Backend {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "state.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return storetest.Backend{Runs: s, ServiceAccounts: s}
//		})
//	}
//
// The suite is split into one file per behaviour area, each testing the
// store of its domain. Every subtest is parallel and asks the factory for
// its own backend, and the suite never closes it: the factory owns the
// stores' lifetime (usually t.Cleanup). The factory may return stores that
// share one database: tests use fresh uuids and count only rows they can
// tell apart (a unique user, session or agent id), so nothing assumes an
// empty database.
package storetest

import (
	"testing"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/component"
	"github.com/agentgate/agentgate/core/eval"
	"github.com/agentgate/agentgate/core/knowledge"
	"github.com/agentgate/agentgate/core/learning"
	"github.com/agentgate/agentgate/core/memory"
	"github.com/agentgate/agentgate/core/metric"
	"github.com/agentgate/agentgate/core/schedule"
	"github.com/agentgate/agentgate/core/trace"
)

// Backend carries the stores of one backend the suite tests, one per
// domain; a new domain adds its store here and its file to Run. It is
// declared here, not taken from package storage, which imports the
// backends whose tests import this package.
type Backend struct {
	Runs            core.RunStore
	ServiceAccounts auth.ServiceAccountStore
	Schedules       schedule.Store
	Memories        memory.Store
	Knowledge       knowledge.Store
	Learnings       learning.Store
	Traces          trace.Store
	Metrics         metric.Store
	Evals           eval.Store
	SessionMedia    core.SessionMediaStore
	Components      component.Store
}

// Factory returns a ready backend for one (sub)test and arranges its
// cleanup.
type Factory = func(t *testing.T) Backend

// Run runs the whole suite against the backends newBackend returns.
func Run(t *testing.T, newBackend Factory) {
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
		{"ChildRuns", testChildRuns},
		{"Approvals", testApprovals},
		{"Schedules", testSchedules},
		{"Memories", testMemories},
		{"Knowledge", testKnowledge},
		{"Learnings", testLearnings},
		{"Traces", testTraces},
		{"Metrics", testMetrics},
		{"Evals", testEvals},
		{"SessionMedia", testSessionMedia},
		{"Components", testComponents},
	}
	for _, a := range areas {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			a.run(t, newBackend)
		})
	}
}

func testPing(t *testing.T, newBackend Factory) {
	s := newBackend(t).Runs
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
