package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// Schedules across replicas: two gateways on one Postgres and Redis fire
// a schedule exactly once per due time, while each of them in turn is
// SIGKILLed and restarted (one of them was River's leader, which enqueues
// the ticks; the claim of each fire is in the database).

// scheduleConfig ticks twice a second; quick answers at once.
const scheduleConfig = `
runs:
  lease_ttl: 1s
schedules:
  tick_interval: 500ms
models:
  quick:
    provider: scripted
    model: quick-1
    chunks: 1
    script:
      - reply: "tick done"
agents:
  - id: quick
    name: Quick
    model: quick
`

// scheduleRun is a schedule run as GET /schedules/{id}/runs lists it.
type scheduleRun struct {
	ID        string `json:"id"`
	Attempt   int    `json:"attempt"`
	Status    string `json:"status"`
	RunID     string `json:"run_id"`
	SessionID string `json:"session_id"`
	DueAt     int64  `json:"due_at"`
	Error     string `json:"error"`
	Manual    bool   `json:"manual"`
	Output    struct {
		Content string `json:"content"`
	} `json:"output"`
}

func listScheduleRuns(t *testing.T, g *gateway, id string) []scheduleRun {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	var page struct {
		Data []scheduleRun `json:"data"`
		Meta struct {
			TotalCount int `json:"total_count"`
		} `json:"meta"`
	}
	decode(t, expectStatus(t, g.get(t, ctx, "/schedules/"+id+"/runs?limit=1000"), http.StatusOK), &page)
	if page.Meta.TotalCount != len(page.Data) {
		t.Fatalf("schedule runs: %d listed, total_count %d", len(page.Data), page.Meta.TotalCount)
	}
	return page.Data
}

func TestSchedulesReplicasExactlyOnce(t *testing.T) {
	t.Parallel()
	be := newBackends(t, "")
	env := append(be.Env(), "AGENTGATE_QUEUE_RESCUE_AFTER=3s")
	a := startReplica(t, "A", scheduleConfig, env...)
	b := startReplica(t, "B", scheduleConfig, env...)
	ctx := testCtx(t, 10*time.Second)
	var sc struct {
		ID        string `json:"id"`
		NextRunAt int64  `json:"next_run_at"`
	}
	decode(t, expectStatus(t, a.sendJSON(t, ctx, http.MethodPost, "/schedules", map[string]any{
		"name": "every 3s", "cron_expr": "@every 3s", "target": map[string]any{"kind": "agent", "id": "quick"},
		"payload": map[string]any{"message": "tick"},
	}), http.StatusCreated), &sc)
	created := time.Now()
	at := func(d time.Duration) { time.Sleep(time.Until(created.Add(d))) }

	// A, started first on a fresh database, is River's leader (it enqueues
	// the ticks) and may be in the middle of one: it dies, B takes over
	// (River's leader TTL, then its rescuer frees the tick A held), the
	// due times missed meanwhile fire late, each once; A comes back.
	at(10 * time.Second)
	a.kill(t)
	t.Log("A killed")
	at(18 * time.Second)
	a = startReplica(t, "A2", scheduleConfig, env...)
	t.Log("A restarted")
	at(50 * time.Second)
	expectStatus(t, b.sendJSON(t, testCtx(t, 10*time.Second), http.MethodPost, "/schedules/"+sc.ID+"/disable", nil), http.StatusOK)
	stopped := time.Now()

	// Every fire's run ends (late ones may still run).
	var runs []scheduleRun
	for deadline := time.Now().Add(15 * time.Second); ; {
		runs = listScheduleRuns(t, a.gateway, sc.ID)
		active := 0
		for _, r := range runs {
			if r.Status == "running" || r.Status == "paused" {
				active++
			}
		}
		if active == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}

	// Exactly once per due time: no due time twice, none missing between
	// the first and the last, each with its own run, each completed.
	slices.SortFunc(runs, func(x, y scheduleRun) int { return int(x.DueAt - y.DueAt) })
	dues := map[int64]bool{}
	runIDs := map[string]bool{}
	for _, r := range runs {
		if r.Manual || r.Attempt != 1 {
			t.Errorf("schedule run %+v: want a due fire, attempt 1", r)
		}
		if dues[r.DueAt] {
			t.Errorf("due time %d fired twice", r.DueAt)
		}
		dues[r.DueAt] = true
		if r.RunID == "" || runIDs[r.RunID] {
			t.Errorf("schedule run %s: run id %q missing or shared", r.ID, r.RunID)
		}
		runIDs[r.RunID] = true
		if r.Status != "success" || r.Output.Content != "tick done" {
			t.Errorf("schedule run due at %d: %s %q (error %q), want success", r.DueAt, r.Status, r.Output.Content, r.Error)
		}
	}
	if len(runs) == 0 {
		t.Fatal("the schedule never fired")
	}
	first, last := runs[0].DueAt, runs[len(runs)-1].DueAt
	if first != sc.NextRunAt {
		t.Errorf("first fire due at %d, want the schedule's first next_run_at %d", first, sc.NextRunAt)
	}
	for due := first; due <= last; due += 3 {
		if !dues[due] {
			t.Errorf("due time %d (%s after the first) did not fire", due, time.Duration(due-first)*time.Second)
		}
	}
	if want := int((stopped.Unix() - first) / 3); len(runs) < want {
		t.Errorf("%d fires in %s of @every 3s, want at least %d", len(runs), stopped.Sub(created).Round(time.Second), want)
	}
	// Each run is there, on either replica, completed, as the schedule's
	// owner would see it.
	for _, r := range runs {
		got, body := b.getRun(t, testCtx(t, 10*time.Second), "quick", r.RunID)
		if got.Status != "COMPLETED" {
			t.Errorf("run %s of the fire due at %d: %s", r.RunID, r.DueAt, body)
		}
	}
	t.Logf("%d fires from %d to %d, every one once", len(runs), first, last)
	if t.Failed() {
		t.Log(fmt.Sprint(runs))
	}
}
