package eventlogtest

import (
	"reflect"
	"sync"
	"testing"

	"github.com/agentgate/agentgate/core"
)

func testAppend(t *testing.T, newLog NewLogFunc) {
	t.Run("DenseIndicesFromZero", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		appendRange(t, ctx, l, run, 0, 10)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: -1}), run, 0, 10)
	})

	t.Run("PayloadRoundTrip", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		in := core.Event{
			Event:            core.EventToolCallCompleted,
			RunID:            run,
			SessionID:        "s1",
			AgentID:          "a1",
			AgentName:        "Agent One",
			CreatedAt:        1_700_000_123,
			Model:            "m",
			ModelProvider:    "p",
			Content:          "héllo\nworld",
			ContentType:      "str",
			ReasoningContent: "because",
			Error:            "e",
			ErrorType:        "et",
			Reason:           "r",
			InputTokens:      3,
			OutputTokens:     4,
			TotalTokens:      7,
			Data:             map[string]any{"k": "v", "nested": map[string]any{"x": "y"}},
		}
		ev := in
		idx, err := l.Append(ctx, &ev)
		if err != nil || idx != 0 {
			t.Fatalf("Append: %d, %v; want 0, nil", idx, err)
		}
		got := mustRead(t, ctx, l, core.ReadParams{RunID: run, After: -1})
		if len(got) != 1 {
			t.Fatalf("Read: %d events, want 1", len(got))
		}
		in.EventIndex = 0
		if !reflect.DeepEqual(got[0], in) {
			t.Fatalf("Read returned\n%+v\nwant\n%+v", got[0], in)
		}
	})

	t.Run("IndicesPerRun", func(t *testing.T) {
		t.Parallel()
		ctx, l := testCtx(t), newLog(t, defaultConfig())
		a, b := newRunID(), newRunID()
		for i := range int64(5) {
			appendRange(t, ctx, l, a, i, i+1)
			if i%2 == 0 {
				appendRange(t, ctx, l, b, i/2, i/2+1)
			}
		}
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: a, After: -1}), a, 0, 5)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: b, After: -1}), b, 0, 3)
		_, err := l.Read(ctx, core.ReadParams{RunID: newRunID(), After: -1})
		expectNotFound(t, err)
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		const writers, each = 16, 40
		got := make([][]int64, writers) // indices given to each writer, in its order
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for range each {
					ev := newEvent(run, 0)
					ev.AgentID = string(rune('A' + w))
					idx, err := l.Append(ctx, ev)
					if err != nil {
						t.Errorf("writer %d: Append: %v", w, err)
						return
					}
					if ev.EventIndex != idx {
						t.Errorf("writer %d: Append returned %d but set EventIndex %d", w, idx, ev.EventIndex)
					}
					got[w] = append(got[w], idx)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		owner := make(map[int64]int)
		for w, idxs := range got {
			for i, idx := range idxs {
				if prev, dup := owner[idx]; dup {
					t.Fatalf("index %d given to writers %d and %d", idx, prev, w)
				}
				owner[idx] = w
				if i > 0 && idx <= idxs[i-1] {
					t.Fatalf("writer %d got index %d after %d", w, idx, idxs[i-1])
				}
			}
		}
		for i := range int64(writers * each) {
			if _, ok := owner[i]; !ok {
				t.Fatalf("index %d was never given (indices are not dense)", i)
			}
		}
		evs := mustRead(t, ctx, l, core.ReadParams{RunID: run, After: -1})
		if len(evs) != writers*each {
			t.Fatalf("Read: %d events, want %d", len(evs), writers*each)
		}
		for i, ev := range evs {
			if ev.EventIndex != int64(i) {
				t.Fatalf("Read: event %d has index %d", i, ev.EventIndex)
			}
			if want := string(rune('A' + owner[int64(i)])); ev.AgentID != want {
				t.Fatalf("Read: event %d was appended by writer %q, stored as %q", i, want, ev.AgentID)
			}
		}
	})
}
