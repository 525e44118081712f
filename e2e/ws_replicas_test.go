package e2e

import (
	"strings"
	"testing"
)

// Two replicas on one Postgres and Redis, WebSocket clients on each: a run
// started over a socket on A is resumed exactly over a socket on B
// (subscribe + last_event_index), cancelled from B while A's socket follows
// it, and a run paused on A is continued over B's socket.
func TestWSReplicas(t *testing.T) {
	t.Parallel()
	b := newBackends(t, "")
	a, bb := startPair(t, b)

	// Start on A, drop, resume on B.
	wa, _ := wsDial(t, a.gateway, nil)
	wa.send(`{"action":"start","id":"s","agent_id":"story","message":"tell me","background":true}`)
	ack := wa.expect("ack")
	first := wa.untilN(ack.RunID, 5)
	wa.drop()
	wb, _ := wsDial(t, bb.gateway, nil)
	wb.send(map[string]any{"action": "subscribe", "id": "r", "run_id": ack.RunID, "last_event_index": 4})
	if f := wb.expect("ack"); f.RunID != ack.RunID {
		t.Fatalf("subscribe ack on B: %s", f)
	}
	rest := wb.untilEnd(ack.RunID, 5)
	if n := len(first) + len(rest); n != storyEvents || rest[len(rest)-1].Event != "RunCompleted" {
		t.Errorf("A then B: %d events ending %s, want %d ending RunCompleted", n, rest[len(rest)-1].Event, storyEvents)
	}

	// Cancel from B while A's socket follows the run.
	wa2, _ := wsDial(t, a.gateway, nil)
	wa2.send(`{"action":"start","id":"l","agent_id":"long","message":"go on"}`)
	long := wa2.expect("ack")
	wa2.untilN(long.RunID, 3)
	wb.send(map[string]any{"action": "cancel", "id": "c", "run_id": long.RunID})
	if f := wb.expect("ack"); f.Action != "cancel" || f.RunID != long.RunID {
		t.Fatalf("cancel ack on B: %s", f)
	}
	evs := wa2.untilEnd(long.RunID, 3)
	if end := evs[len(evs)-1]; end.Event != "RunCancelled" {
		t.Errorf("A's socket saw the run end with %s, want RunCancelled", end.Event)
	}

	// Pause on A, continue over B's socket.
	wa2.send(`{"action":"start","id":"p","agent_id":"approver","message":"compute"}`)
	pack := wa2.expect("ack")
	pevs := wa2.untilEnd(pack.RunID, 0)
	paused := pevs[len(pevs)-1]
	if paused.Event != "RunPaused" {
		t.Fatalf("run on A did not pause: %s", eventTypes(pevs))
	}
	tools := strings.Replace(string(paused.Tools), `"requires_confirmation":true`, `"requires_confirmation":true,"confirmed":true`, 1)
	wb.send(`{"action":"continue","id":"k","run_id":"` + pack.RunID + `","tools":` + tools + `}`)
	wb.expect("ack")
	after := wb.untilEnd(pack.RunID, paused.EventIndex+1)
	if after[0].Event != "RunContinued" || after[len(after)-1].Event != "RunCompleted" {
		t.Errorf("continued on B: %s", eventTypes(after))
	}
}
