package rest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/agentgate/agentgate/core"
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
