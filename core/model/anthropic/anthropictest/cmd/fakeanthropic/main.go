// Command fakeanthropic serves a fake Anthropic Messages API
// (package anthropictest) from a reply script, as a process of its own:
// point a gateway's anthropic model at it (base_url) to try the provider,
// or a test of another process, without an API key. The repository's own
// end-to-end tests start the fake in the test process instead.
//
//	fakeanthropic -script replies.json [-addr 127.0.0.1:0] [-api-key KEY] [-repeat] [-requests log.jsonl]
//
// The script is a JSON array of replies, answered in order, e.g.
//
//	[
//	  {"blocks": [{"type": "tool_use", "name": "calculator", "input": {"expression": "2+3"}}]},
//	  {"blocks": [{"type": "thinking", "text": "Adding."}, {"type": "text", "text": "It is 5."}],
//	   "usage": {"input_tokens": 42, "output_tokens": 7}},
//	  {"status": 429, "error": {"type": "rate_limit_error", "message": "slow down"}, "retry_after": "1"},
//	  {"blocks": [{"type": "text", "text": "partial"}], "stream_error": {"type": "overloaded_error", "message": "Overloaded"}},
//	  {"delay": "2s", "blocks": [{"type": "text", "text": "late"}]}
//	]
//
// The first line on stdout is the base URL to use as the provider's
// base_url (no /v1). It serves until interrupted; once the script is used
// up, requests fail with 400 unless -repeat starts it over.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/agentgate/agentgate/core/model/anthropic/anthropictest"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	if err := run(os.Args[1:], os.Stdout, sig); err != nil {
		fmt.Fprintln(os.Stderr, "fakeanthropic:", err)
		os.Exit(1)
	}
}

// run serves until stop receives; it prints the base URL to stdout first.
func run(args []string, stdout io.Writer, stop <-chan os.Signal) error {
	fs := flag.NewFlagSet("fakeanthropic", flag.ContinueOnError)
	script := fs.String("script", "", "JSON file with the replies (required)")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	apiKey := fs.String("api-key", "", "when set, requests must carry this x-api-key")
	repeat := fs.Bool("repeat", false, "start the script over when it is used up")
	requests := fs.String("requests", "", "append each request answered from the script to this file as a JSON line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *script == "" {
		return fmt.Errorf("-script is required")
	}
	data, err := os.ReadFile(*script)
	if err != nil {
		return err
	}
	replies, err := anthropictest.ParseScript(data)
	if err != nil {
		return err
	}
	var log *os.File
	if *requests != "" {
		if log, err = os.OpenFile(*requests, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return err
		}
		defer log.Close()
	}
	srv, err := anthropictest.Start(*addr)
	if err != nil {
		return err
	}
	defer srv.Close()
	if *apiKey != "" {
		srv.RequireAPIKey(*apiKey)
	}
	var (
		mu   sync.Mutex
		next int
	)
	srv.Respond(func(r anthropictest.Request) anthropictest.Reply {
		mu.Lock()
		defer mu.Unlock()
		if log != nil {
			line, _ := json.Marshal(map[string]any{"method": r.Method, "path": r.Path, "header": r.Header, "body": json.RawMessage(validJSON(r.Raw))})
			_, _ = log.Write(append(line, '\n'))
		}
		if next >= len(replies) {
			if !*repeat || len(replies) == 0 {
				return anthropictest.ErrorReply(400, "invalid_request_error", "fakeanthropic: the script has no reply left")
			}
			next = 0
		}
		next++
		return replies[next-1]
	})
	if _, err := fmt.Fprintln(stdout, srv.URL()); err != nil {
		return err
	}
	<-stop
	return nil
}

func validJSON(b []byte) []byte {
	if json.Valid(b) {
		return b
	}
	q, _ := json.Marshal(string(b))
	return q
}
