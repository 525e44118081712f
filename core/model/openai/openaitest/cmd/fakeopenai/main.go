// Command fakeopenai serves the openaitest fake OpenAI-compatible server
// as a process of its own: point a gateway's openai model at it (base_url)
// to try the provider without an API key. The repository's own end-to-end
// tests start the fake in the test process instead.
//
//	fakeopenai [-addr 127.0.0.1:0] [-script replies.json] [-stdin]
//
// The first line on stdout is the API base URL, e.g.
// http://127.0.0.1:41234/v1. The script is a JSON file holding
// {"replies": [Reply, ...]}, a bare array of replies, or one reply (see
// openaitest.Reply for the fields: text, reasoning, tool_calls, usage,
// error, match, repeat, ...). More replies can be pushed with POST
// /_openaitest/replies; GET /_openaitest/requests returns the requests
// received. It runs until interrupted (SIGINT/SIGTERM), or with -stdin
// until its standard input is closed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/agentgate/agentgate/core/model/openai/openaitest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "fakeopenai:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer, stdin io.Reader) error {
	fs := flag.NewFlagSet("fakeopenai", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	script := fs.String("script", "", "JSON file with the replies (optional)")
	watchStdin := fs.Bool("stdin", false, "exit when stdin is closed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var replies []openaitest.Reply
	if *script != "" {
		f, err := os.Open(*script)
		if err != nil {
			return err
		}
		replies, err = openaitest.DecodeReplies(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := openaitest.NewHandler(replies...)
	hs := &http.Server{Handler: srv}
	if _, err := fmt.Fprintf(stdout, "http://%s/v1\n", ln.Addr()); err != nil {
		ln.Close()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if *watchStdin {
		go func() {
			_, _ = io.Copy(io.Discard, stdin)
			cancel()
		}()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	srv.Close() // ends stalled replies
	if err := hs.Shutdown(context.Background()); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
