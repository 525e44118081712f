package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/model/openai"
	"github.com/agentgate/agentgate/core/model/openai/openaitest"
)

func TestServesScript(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "script.json")
	script := `{"replies": [{"text": "from the script"}]}`
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	stdinR, stdinW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-script", path, "-stdin"}, pw, stdinR)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the address: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	base := strings.TrimSpace(line)
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/v1") {
		t.Fatalf("first line = %q", line)
	}
	if err := openaitest.PushRemote(ctx, base, openaitest.Reply{Text: "pushed"}); err != nil {
		t.Fatal(err)
	}
	m, err := openai.New(openai.Config{Model: "fake", BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"from the script", "pushed"} {
		resp, err := m.Generate(ctx, model.Request{Messages: []core.Message{{Role: "user", Content: "hi"}}}, func(model.Delta) error { return nil })
		if err != nil || resp.Content != want {
			t.Errorf("reply = %+v, %v; want %q", resp, err, want)
		}
	}
	reqs, err := openaitest.FetchRequests(ctx, base)
	if err != nil || len(reqs) != 2 || reqs[1].LastUser() != "hi" || !reqs[1].Body.Stream {
		t.Errorf("requests = %+v, %v", reqs, err)
	}
	stdinW.Close() // -stdin: closing stdin stops the server
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestBadScript(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(path, []byte(`{"replies": [{"txt": "typo"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"-script", path}, io.Discard, strings.NewReader(""))
	if err == nil || !strings.Contains(err.Error(), "txt") {
		t.Errorf("err = %v", err)
	}
}
