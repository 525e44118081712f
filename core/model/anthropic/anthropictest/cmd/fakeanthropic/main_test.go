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
	"github.com/agentgate/agentgate/core/model/anthropic"
)

func TestServesScript(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "script.json")
	logFile := filepath.Join(dir, "requests.jsonl")
	err := os.WriteFile(script, []byte(`[
		{"blocks": [{"type": "tool_use", "id": "toolu_1", "name": "calculator", "input": {"expression": "2+3"}}]},
		{"blocks": [{"type": "text", "text": "It is 5."}], "usage": {"input_tokens": 9, "output_tokens": 4}}
	]`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	stop := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"-script", script, "-api-key", "k", "-requests", logFile}, pw, stop)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("first line: %v (run: %v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q", line)
	}

	m, err := anthropic.New(anthropic.Config{Model: "claude-test", BaseURL: url, APIKey: "k", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	req := model.Request{Messages: []core.Message{{Role: "user", Content: "2+3?"}}}
	resp, err := m.Generate(context.Background(), req, nil)
	if err != nil || len(resp.ToolCalls) != 1 || resp.ToolCalls[0].ID != "toolu_1" {
		t.Fatalf("first reply %+v %v", resp, err)
	}
	resp, err = m.Generate(context.Background(), req, nil)
	if err != nil || resp.Content != "It is 5." || resp.Usage.TotalTokens != 13 {
		t.Fatalf("second reply %+v %v", resp, err)
	}
	if _, err = m.Generate(context.Background(), req, nil); err == nil || !strings.Contains(err.Error(), "no reply left") {
		t.Fatalf("after the script: %v", err)
	}

	stop <- os.Interrupt
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop")
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != 3 || !strings.Contains(string(data), `"path":"/v1/messages"`) {
		t.Fatalf("request log (%d lines): %s", n, data)
	}
}
