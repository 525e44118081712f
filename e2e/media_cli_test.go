package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core/media/mediatest"
)

// `agentgate run --file PATH` (repeatable), through the binary: the files
// reach the model as media (the scripted model's {{media}} describes what
// it received) and the stored run lists them.

const cliMediaConfig = `media:
  max_file_bytes: 100000
models:
  echo:
    provider: scripted
    model: echo-1
    script:
      - reply: "got {{media}}"
agents:
  - id: echo
    model: echo
`

func TestCLIRunFiles(t *testing.T) {
	t.Parallel()
	g := startGateway(t, cliMediaConfig)
	ctx := testCtx(t, 30*time.Second)
	dir := t.TempDir()
	png := mediatest.PNG(4, 4)
	notes := []byte("meeting notes\n")
	pngPath, notesPath := filepath.Join(dir, "dot.png"), filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(pngPath, png, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notesPath, notes, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, ctx, nil, "run", "echo", "look", "--url", g.URL, "--file", pngPath, "--file", notesPath)
	if err != nil {
		t.Fatalf("agentgate run --file: %v\n%s", err, out)
	}
	wantPNG := fmt.Sprintf("image/png dot.png %d bytes sha256:%s", len(png), sha(png))
	wantNotes := fmt.Sprintf("text/plain notes.txt %d bytes sha256:%s", len(notes), sha(notes))
	if !strings.Contains(out, wantPNG) || !strings.Contains(out, wantNotes) {
		t.Fatalf("the model did not get both files:\n%s", out)
	}
	m := regexp.MustCompile(`session: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no session printed:\n%s", out)
	}
	var runs []struct {
		Input struct {
			Images []map[string]any `json:"images"`
			Files  []map[string]any `json:"files"`
		} `json:"input"`
	}
	decode(t, expectStatus(t, g.get(t, ctx, "/sessions/"+m[1]+"/runs"), http.StatusOK), &runs)
	if len(runs) != 1 || len(runs[0].Input.Images) != 1 || len(runs[0].Input.Files) != 1 ||
		runs[0].Input.Images[0]["id"] != sha(png) || runs[0].Input.Files[0]["id"] != sha(notes) {
		t.Fatalf("stored run's media: %+v", runs)
	}

	// A missing file is refused before anything is sent; a too-large one
	// is the gateway's 413, said by the CLI.
	if out, err := runCLI(t, ctx, nil, "run", "echo", "x", "--url", g.URL, "--file", filepath.Join(dir, "gone.png")); err == nil || !strings.Contains(out, "gone.png") {
		t.Errorf("missing file: %v\n%s", err, out)
	}
	big := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(big, make([]byte, 200000), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, ctx, nil, "run", "echo", "x", "--url", g.URL, "--file", big); err == nil || !strings.Contains(out, "413") {
		t.Errorf("too-large file: %v\n%s", err, out)
	}
}
