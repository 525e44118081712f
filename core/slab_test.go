package core

import "testing"

// A run's first slab of events fits what the engine's segments had lately
// (a short run no longer gets room for 16 events of half a kilobyte each);
// the hint follows longer segments at once and shorter ones slowly, within
// [minFirstSlab, eventSlab].
func TestFirstSlab(t *testing.T) {
	t.Parallel()
	e := &Engine{}
	if n := e.firstSlab(); n != eventSlab {
		t.Fatalf("first slab before any segment: %d, want %d", n, eventSlab)
	}
	e.noteEvents(9)
	if n := e.firstSlab(); n != 9 {
		t.Fatalf("after a segment of 9: %d, want 9", n)
	}
	w := &runWriter{e: e}
	for i := range 10 {
		ev := w.alloc(Event{EventIndex: int64(i)})
		if ev.EventIndex != int64(i) {
			t.Fatalf("event %d came back as %d", i, ev.EventIndex)
		}
		if want := map[bool]int{true: 9, false: eventSlab}[i < 9]; cap(w.slab) != want {
			t.Fatalf("event %d: slab of %d, want %d", i, cap(w.slab), want)
		}
	}
	if w.events != 10 {
		t.Fatalf("counted %d events, want 10", w.events)
	}
	e.noteEvents(3) // a shorter one: 9 decays by an eighth, to 8
	if n := e.firstSlab(); n != 8 {
		t.Fatalf("after a segment of 3: %d, want 8", n)
	}
	e.noteEvents(40) // a longer one counts at once, bounded by eventSlab
	if n := e.firstSlab(); n != eventSlab {
		t.Fatalf("after a segment of 40: %d, want %d", n, eventSlab)
	}
	for range 100 {
		e.noteEvents(1)
	}
	if n := e.firstSlab(); n != minFirstSlab {
		t.Fatalf("after many segments of 1: %d, want %d", n, minFirstSlab)
	}
}
