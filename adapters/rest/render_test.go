package rest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gojson "github.com/goccy/go-json"
	"golang.org/x/tools/txtar"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGoldenFrames renders scripted event sequences (testdata/*.txtar:
// "events" holds one JSON event per line) and compares the exact SSE bytes
// with the "frames" section.
func TestGoldenFrames(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var events, frames *txtar.File
		for i := range ar.Files {
			switch ar.Files[i].Name {
			case "events":
				events = &ar.Files[i]
			case "frames":
				frames = &ar.Files[i]
			}
		}
		if events == nil {
			t.Fatalf("%s: no events section", file)
		}
		var out bytes.Buffer
		for _, line := range bytes.Split(bytes.TrimSpace(events.Data), []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			if bytes.HasPrefix(line, []byte("error ")) {
				var ge core.GoneError
				if err := json.Unmarshal(line[len("error "):], &ge); err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				out.Write(RenderError(&ge))
				continue
			}
			var ev core.Event
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ev); err != nil {
				t.Fatalf("%s: bad event %s: %v", file, line, err)
			}
			if !ev.Event.Valid() {
				t.Fatalf("%s: unknown event type %q", file, ev.Event)
			}
			out.Write(RenderEvent(&ev))
		}
		if *update {
			if frames == nil {
				ar.Files = append(ar.Files, txtar.File{Name: "frames"})
				frames = &ar.Files[len(ar.Files)-1]
			}
			frames.Data = out.Bytes()
			if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if frames == nil {
			t.Fatalf("%s: no frames section (run with -update)", file)
		}
		if !bytes.Equal(out.Bytes(), frames.Data) {
			t.Errorf("%s: frames differ\n--- got\n%s\n--- want\n%s", file, out.Bytes(), frames.Data)
		}
	}
}

// renderCases are events whose JSON exercises what encoding/json does
// that an encoder could get wrong: HTML and line-separator escaping,
// invalid UTF-8, control characters, float formatting, sorted map keys,
// raw JSON compacted (and HTML-escaped), embedded detail and media.
func renderCases(t testing.TB) []*core.Event {
	t.Helper()
	step, yes, no := 2, true, false
	evs := []*core.Event{
		{Event: core.EventRunContent, EventIndex: 7, RunID: "r1", SessionID: "s1", AgentID: "a", AgentName: "A", CreatedAt: 1765000000,
			Content: "tok 000123 <b>&amp;\u2028\u2029 \xff\xfe é \"q\" \\ \t\n\x01\x7f", ContentType: "str", ReasoningContent: "think </script>"},
		{Event: core.EventRunCompleted, RunID: "r1", Metrics: &core.Metrics{InputTokens: 3, OutputTokens: 4, TotalTokens: 7},
			TimeToFirstToken: 0.000001234, StepIndex: &step,
			Data: map[string]any{"z": 1.0, "a": []any{1e21, 1e-7, 123456789.0, -0.0, 3.14159, "x<y", nil, true,
				map[string]any{"b": 2, "a": int64(-1), "é": "ü"}}},
			SessionState: map[string]any{},
			StepResults:  json.RawMessage(" [ {\"a\" : \"<&>\"},\n 1 ] "),
			Tools:        []core.ToolExecution{{ToolCallID: "c", ToolName: "t", ToolArgs: json.RawMessage(`{ "x": 1 }`), Confirmed: &no}},
			EventDetail: &core.EventDetail{Iteration: 2, GoalComplete: &yes, Memories: json.RawMessage(`[ ]`), SelectedSteps: []string{"a", ""},
				RunMedia: core.RunMedia{Images: []core.MediaRef{{ID: "abc", Kind: core.MediaImage, MIMEType: "image/png", Size: 10, Width: 2, Height: 3}}}}},
		{Event: core.EventRunError, RunID: "r2", Error: "boom", ErrorType: "model_error"},
	}
	// And every event of the golden files.
	files, _ := filepath.Glob("testdata/*.txtar")
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if f.Name != "events" {
				continue
			}
			for _, line := range bytes.Split(bytes.TrimSpace(f.Data), []byte("\n")) {
				if len(bytes.TrimSpace(line)) == 0 || bytes.HasPrefix(line, []byte("error ")) {
					continue
				}
				var ev core.Event
				if err := json.Unmarshal(line, &ev); err != nil {
					t.Fatal(err)
				}
				evs = append(evs, &ev)
			}
		}
	}
	return evs
}

// TestRenderEventAsEncodingJSON: an SSE frame's data is the text
// encoding/json writes for the event.
func TestRenderEventAsEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, ev := range renderCases(t) {
		want, err := json.Marshal(eventWithMediaURLs(ev))
		if err != nil {
			t.Fatal(err)
		}
		frame := RenderEvent(ev)
		_, data, ok := bytes.Cut(frame, []byte("\ndata: "))
		if !ok || !bytes.HasSuffix(data, []byte("\n\n")) {
			t.Fatalf("frame %q", frame)
		}
		if got := bytes.TrimSuffix(data, []byte("\n\n")); !bytes.Equal(got, want) {
			t.Errorf("data\n%s\nwant (encoding/json)\n%s", got, want)
		}
	}
}

// TestEventSourceRendersAsRenderEvent: a stream's source renders each
// event, into the one buffer it reuses, as RenderEvent does, one event
// after another (a large one among them); a token's frame costs it no
// allocation.
func TestEventSourceRendersAsRenderEvent(t *testing.T) {
	// Not parallel: AllocsPerRun.
	var s eventSource
	cases := renderCases(t)
	big := &core.Event{Event: core.EventRunContent, EventIndex: 7, RunID: "r", Content: strings.Repeat("<x>", 30_000)}
	cases = append(cases, big)
	cases = append(cases, renderCases(t)...)
	for i, ev := range cases {
		want := RenderEvent(ev)
		if got := s.render(ev); !bytes.Equal(got, want) {
			t.Fatalf("case %d: frame\n%q\nwant (RenderEvent)\n%q", i, got, want)
		}
	}
	tok := &core.Event{Event: core.EventRunContent, EventIndex: 123, RunID: "4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
		SessionID: "0b1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f", AgentID: "bench", CreatedAt: 1765000000,
		Content: "tok 000123 ", ContentType: "str"}
	// The bound holds without the race detector (make test runs this test
	// once without it).
	if n := testing.AllocsPerRun(100, func() { s.render(tok) }); !testutil.RaceEnabled && n != 0 {
		t.Errorf("a token's frame: %v allocations", n)
	}
}

// BenchmarkRenderEvent is one streamed token's frame, beside the JSON
// alone by encoding/json (what RenderEvent used) and by goccy/go-json.
func BenchmarkRenderEvent(b *testing.B) {
	ev := &core.Event{Event: core.EventRunContent, EventIndex: 123, RunID: "4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
		SessionID: "0b1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f", AgentID: "bench", AgentName: "Bench", CreatedAt: 1765000000,
		Content: "tok 000123 1765000000123456789 ", ContentType: "str", Model: "paced-1", ModelProvider: "openai"}
	b.Run("frame", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			RenderEvent(ev)
		}
	})
	b.Run("source", func(b *testing.B) {
		b.ReportAllocs()
		var s eventSource
		for b.Loop() {
			s.render(ev)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(ev)
		}
	})
	b.Run("goccy-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = gojson.Marshal(ev)
		}
	})
}
