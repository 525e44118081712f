package riverqueue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/testutil"
	"github.com/agentgate/agentgate/queue/riverqueue"
)

// jobRecorder records the attempts of a job function.
type jobRecorder struct {
	mu       sync.Mutex
	attempts []int
	payloads []string
	notify   chan int
}

func newJobRecorder() *jobRecorder { return &jobRecorder{notify: make(chan int, 100)} }

func (r *jobRecorder) fn(result func(attempt int) error) riverqueue.JobFunc {
	return func(ctx context.Context, payload json.RawMessage, attempt int) error {
		r.mu.Lock()
		r.attempts = append(r.attempts, attempt)
		r.payloads = append(r.payloads, string(payload))
		r.mu.Unlock()
		r.notify <- attempt
		return result(attempt)
	}
}

func (r *jobRecorder) snapshot() ([]int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.attempts...), append([]string(nil), r.payloads...)
}

func (r *jobRecorder) next(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case a := <-r.notify:
		return a
	case <-time.After(within):
		got, _ := r.snapshot()
		t.Fatalf("no job attempt within %v (attempts so far: %v)", within, got)
		return 0
	}
}

func jobState(t *testing.T, db testDB) string {
	return db.queryString(t, "SELECT state FROM river_job WHERE kind = '"+riverqueue.JobKind+"'")
}

var fastJobs = riverqueue.Config{PollInterval: 50 * time.Millisecond}

// A job that fails twice is retried after its backoff and succeeds on
// attempt 3, with its payload each time.
func TestJobRetriedUntilItSucceeds(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, newDB func(t *testing.T) testDB) {
		db := newDB(t)
		q, _ := db.newQueue(t, newFake(nil), fastJobs)
		rec := newJobRecorder()
		var backoffs []int
		var mu sync.Mutex
		opts := riverqueue.JobOptions{MaxAttempts: 5, Backoff: func(attempt int) time.Duration {
			mu.Lock()
			backoffs = append(backoffs, attempt)
			mu.Unlock()
			return 100 * time.Millisecond
		}}
		if err := q.AddJob("flaky", opts, rec.fn(func(attempt int) error {
			if attempt < 3 {
				return errors.New("receiver down")
			}
			return nil
		})); err != nil {
			t.Fatal(err)
		}
		if err := q.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := q.InsertJob(context.Background(), "flaky", map[string]string{"hello": "world"}); err != nil {
			t.Fatal(err)
		}
		for want := 1; want <= 3; want++ {
			if got := rec.next(t, 15*time.Second); got != want {
				t.Fatalf("attempt %d, want %d", got, want)
			}
		}
		testutil.Eventually(t, 10*time.Second, "the job to complete", func() bool { return jobState(t, db) == "completed" })
		attempts, payloads := rec.snapshot()
		if len(attempts) != 3 {
			t.Fatalf("attempts %v, want [1 2 3]", attempts)
		}
		for _, p := range payloads {
			var v map[string]string
			if err := json.Unmarshal([]byte(p), &v); err != nil || v["hello"] != "world" || len(v) != 1 {
				t.Fatalf("payload %s, want {\"hello\":\"world\"}", p)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(backoffs) != 2 || backoffs[0] != 1 || backoffs[1] != 2 {
			t.Fatalf("backoff asked for attempts %v, want [1 2]", backoffs)
		}
	})
}

// A Permanent failure is not retried (the job is cancelled); an ordinary
// one is retried up to MaxAttempts, then the job is discarded.
func TestJobPermanentAndGiveUp(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, newDB func(t *testing.T) testDB) {
		db := newDB(t)
		q, _ := db.newQueue(t, newFake(nil), fastJobs)
		perm, always := newJobRecorder(), newJobRecorder()
		quick := func(int) time.Duration { return 50 * time.Millisecond }
		if err := q.AddJob("perm", riverqueue.JobOptions{MaxAttempts: 5, Backoff: quick}, perm.fn(func(int) error {
			return riverqueue.Permanent(errors.New("410 gone"))
		})); err != nil {
			t.Fatal(err)
		}
		if err := q.AddJob("always", riverqueue.JobOptions{MaxAttempts: 2, Backoff: quick}, always.fn(func(int) error {
			return errors.New("still down")
		})); err != nil {
			t.Fatal(err)
		}
		if err := q.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		permID, err := q.InsertJob(ctx, "perm", 1)
		if err != nil {
			t.Fatal(err)
		}
		alwaysID, err := q.InsertJob(ctx, "always", 2)
		if err != nil {
			t.Fatal(err)
		}
		stateOf := func(id int64) string {
			return db.queryString(t, fmt.Sprintf("SELECT state FROM river_job WHERE id = %d", id))
		}
		testutil.Eventually(t, 15*time.Second, "perm cancelled and always discarded", func() bool {
			return stateOf(permID) == "cancelled" && stateOf(alwaysID) == "discarded"
		})
		time.Sleep(300 * time.Millisecond) // nothing more comes
		if a, _ := perm.snapshot(); len(a) != 1 {
			t.Fatalf("a permanent failure was attempted %v, want once", a)
		}
		if a, _ := always.snapshot(); len(a) != 2 {
			t.Fatalf("a job of 2 max attempts was attempted %v", a)
		}
	})
}

// A job inserted by a replica that stops before working it is worked by a
// new queue on the same database; one whose worker was killed mid-attempt
// is rescued and worked again by another replica.
func TestJobSurvivesStopAndCrash(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, newDB func(t *testing.T) testDB) {
		db := newDB(t)
		ctx := context.Background()
		cfg := riverqueue.Config{PollInterval: 50 * time.Millisecond, RescueAfter: time.Second}
		never := func(context.Context, json.RawMessage, int) error {
			t.Error("the stopped queue worked the job")
			return nil
		}
		qa, _ := db.newQueue(t, newFake(nil), cfg)
		if err := qa.AddJob("deliver", riverqueue.JobOptions{}, never); err != nil {
			t.Fatal(err)
		}
		if _, err := qa.InsertJob(ctx, "deliver", "after-stop"); err != nil {
			t.Fatal(err)
		}
		stopQueue(t, qa)
		if _, err := qa.InsertJob(ctx, "deliver", "x"); !errors.Is(err, riverqueue.ErrStopped) {
			t.Fatalf("InsertJob after Stop = %v, want ErrStopped", err)
		}

		// C works the job B will be killed in the middle of.
		block := make(chan struct{})
		defer close(block)
		recB := newJobRecorder()
		loggerB, logsB := newLogger(t)
		cfgB := cfg
		cfgB.Logger = loggerB
		qb, killB := db.newQueue(t, newFake(nil), cfgB)
		if err := qb.AddJob("deliver", riverqueue.JobOptions{Timeout: 500 * time.Millisecond}, recB.fn(func(int) error {
			<-block // the dead process's goroutine hangs
			return nil
		})); err != nil {
			t.Fatal(err)
		}
		if err := qb.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if a := recB.next(t, 15*time.Second); a != 1 {
			t.Fatalf("B: attempt %d, want 1", a)
		}
		logsB.muted.Store(true)
		killB()
		time.Sleep(cfg.RescueAfter + 300*time.Millisecond)
		db.exec(t, "DELETE FROM river_leader") // the dead leader's lease, fast-forwarded

		recC := newJobRecorder()
		qc, _ := db.newQueue(t, newFake(nil), cfg)
		if err := qc.AddJob("deliver", riverqueue.JobOptions{Timeout: 500 * time.Millisecond}, recC.fn(func(int) error { return nil })); err != nil {
			t.Fatal(err)
		}
		if err := qc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if a := recC.next(t, 25*time.Second); a != 2 {
			t.Fatalf("C: attempt %d, want 2 (the rescued attempt after B's)", a)
		}
		testutil.Eventually(t, 10*time.Second, "the job to complete", func() bool { return jobState(t, db) == "completed" })
		if _, p := recC.snapshot(); len(p) != 1 || p[0] != `"after-stop"` {
			t.Fatalf("C worked %v, want the job inserted before the stop", p)
		}
	})
}

func TestAddJobRules(t *testing.T) {
	t.Parallel()
	db := newSQLiteDB(t)
	q, _ := db.newQueue(t, newFake(nil), riverqueue.Config{RescueAfter: time.Minute})
	fn := func(context.Context, json.RawMessage, int) error { return nil }
	if err := q.AddJob("a", riverqueue.JobOptions{}, fn); err != nil {
		t.Fatal(err)
	}
	if err := q.AddJob("a", riverqueue.JobOptions{}, fn); err == nil {
		t.Error("a name added twice was accepted")
	}
	if err := q.AddJob("b", riverqueue.JobOptions{Timeout: time.Minute}, fn); err == nil {
		t.Error("a timeout not below rescue_after was accepted")
	}
	if err := q.AddJob("", riverqueue.JobOptions{}, fn); err == nil {
		t.Error("an empty name was accepted")
	}
	if _, err := q.InsertJob(context.Background(), "nope", nil); err == nil {
		t.Error("a job of an unregistered name was inserted")
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := q.AddJob("late", riverqueue.JobOptions{}, fn); err == nil {
		t.Error("AddJob after Start was accepted")
	}
}

// A Long job runs past RescueAfter: River's timeout does not end its
// context, its heartbeat keeps it from being rescued (one attempt), and it
// completes. The same job without Long is cut at its Timeout.
func TestLongJobOutlivesRescueAfter(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, newDB func(t *testing.T) testDB) {
		db := newDB(t)
		ctx := context.Background()
		cfg := riverqueue.Config{PollInterval: 50 * time.Millisecond, RescueAfter: 400 * time.Millisecond}
		q, _ := db.newQueue(t, newFake(nil), cfg)
		var mu sync.Mutex
		ended := map[string]error{} // payload -> the context's error when the job returned
		work := func(ctx context.Context, payload json.RawMessage, attempt int) error {
			select {
			case <-time.After(1500 * time.Millisecond):
			case <-ctx.Done():
			}
			mu.Lock()
			ended[fmt.Sprintf("%s#%d", payload, attempt)] = ctx.Err()
			mu.Unlock()
			return ctx.Err()
		}
		if err := q.AddJob("long", riverqueue.JobOptions{Long: true, MaxAttempts: 1}, work); err != nil {
			t.Fatal(err)
		}
		if err := q.AddJob("short", riverqueue.JobOptions{Timeout: 200 * time.Millisecond, MaxAttempts: 1}, work); err != nil {
			t.Fatal(err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		longID, err := q.InsertJob(ctx, "long", "l")
		if err != nil {
			t.Fatal(err)
		}
		shortID, err := q.InsertJob(ctx, "short", "s")
		if err != nil {
			t.Fatal(err)
		}
		states := func() string {
			state := func(id int64) string {
				return db.queryString(t, fmt.Sprintf("SELECT state FROM river_job WHERE id = %d", id))
			}
			return state(longID) + "," + state(shortID)
		}
		testutil.Eventually(t, 20*time.Second, "both jobs to end", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(ended) == 2
		})
		mu.Lock()
		defer mu.Unlock()
		if err, ok := ended[`"l"#1`]; !ok || err != nil {
			t.Fatalf("the Long job: %v (context error %v); want attempt 1 run to its end", ended, err)
		}
		if err, ok := ended[`"s"#1`]; !ok || err == nil {
			t.Fatalf("the short job: %v; want its context ended at its timeout", ended)
		}
		testutil.Eventually(t, 10*time.Second, "the Long job to complete", func() bool {
			return states() == "completed,discarded"
		})
		time.Sleep(2 * cfg.RescueAfter)
		if len(ended) != 2 {
			t.Fatalf("a job was worked again: %v", ended)
		}
	})
}
