package a2a

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/agentgate/agentgate/internal/testutil"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/agentgate/agentgate/core"
)

// renderOutputs are the encodings a renderer golden (testdata/render_*.txtar)
// checks: the SSE frames of each binding and generation.
var renderOutputs = []struct {
	name string
	cl   call
}{
	{"jsonrpc-v1.sse", call{ver: V1, id: json.RawMessage(`7`)}},
	{"jsonrpc-v03.sse", call{ver: V03, id: json.RawMessage(`"r-1"`)}},
	{"rest-v1.sse", call{ver: V1, rest: true}},
}

// TestRenderGolden renders scripted event sequences ("events": one core
// event per line, or "error <GoneError JSON>" / "unavailable <message>"
// for a stream failure) with one Renderer, and compares the exact frames
// with each output section (rewritten with -update).
func TestRenderGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "render_*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/render_*.txtar: %v", err)
	}
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		ei := sectionOf(ar, "events")
		if ei < 0 {
			t.Fatalf("%s: no events section", file)
		}
		for _, out := range renderOutputs {
			src := &itemSource{h: &Handler{logger: slog.Default()}, base: "https://gw.example", cl: &out.cl}
			r := &Renderer{}
			if strings.Contains(string(ar.Comment), "resumed") {
				r = Resumed()
			}
			var got bytes.Buffer
			for _, line := range strings.Split(strings.TrimSpace(string(ar.Files[ei].Data)), "\n") {
				line = strings.TrimSpace(line)
				switch {
				case line == "":
				case strings.HasPrefix(line, "error "):
					var ge core.GoneError
					if err := json.Unmarshal([]byte(line[len("error "):]), &ge); err != nil {
						t.Fatalf("%s: %v", file, err)
					}
					got.Write(src.errFrame(toError(&ge)))
				case strings.HasPrefix(line, "unavailable "):
					got.Write(src.errFrame(toError(core.Errorf(core.CodeUnavailable, "%s", line[len("unavailable "):]))))
				default:
					var ev core.Event
					dec := json.NewDecoder(strings.NewReader(line))
					dec.DisallowUnknownFields()
					if err := dec.Decode(&ev); err != nil || !ev.Event.Valid() {
						t.Fatalf("%s: bad event %s: %v", file, line, err)
					}
					for _, it := range r.Render(&ev) {
						got.Write(src.frame(context.Background(), it))
					}
				}
			}
			oi := sectionOf(ar, out.name)
			if *update {
				if oi < 0 {
					ar.Files = append(ar.Files, txtar.File{Name: out.name})
					oi = len(ar.Files) - 1
				}
				ar.Files[oi].Data = got.Bytes()
				continue
			}
			if oi < 0 {
				t.Fatalf("%s: no %s section (run with -update)", file, out.name)
			}
			if !bytes.Equal(got.Bytes(), ar.Files[oi].Data) {
				t.Errorf("%s: %s differs (run go test -update after checking):\n%s", file, out.name, testutil.LineDiff(string(ar.Files[oi].Data), got.String()))
			}
		}
		if *update {
			if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
