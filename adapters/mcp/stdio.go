package mcp

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"

	"github.com/mark3labs/mcp-go/server"

	"github.com/agentgate/agentgate/auth"
)

// ServeStdio serves the same tools over stdio (newline-delimited JSON-RPC
// on in and out) to one client acting as principal, until in ends or ctx is
// done. Nothing else may write to out. When the client goes away, the runs
// of its calls still in progress are cancelled.
func (s *Server) ServeStdio(ctx context.Context, principal *auth.Principal, in io.Reader, out io.Writer) error {
	ss := server.NewStdioServer(s.mcp)
	ss.SetErrorLogger(slog.NewLogLogger(s.log.Handler(), slog.LevelWarn))
	ss.SetContextFunc(func(ctx context.Context) context.Context { return auth.WithPrincipal(ctx, principal) })
	w := &lineWriter{w: out}
	r := withoutBatches(in, w)
	defer r.Close()
	return ss.Listen(ctx, r, w)
}

// batchError answers a JSON-RPC batch on stdio, as the HTTP endpoint does
// (mcp-go would answer "Failed to parse message").
var batchError = []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"JSON-RPC batches are not supported: send one JSON-RPC message per line"}}` + "\n")

// lineWriter serialises whole-message writes to out: mcp-go's (one Write
// per message) and withoutBatches' answers.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// withoutBatches passes the client's lines on, except those that are a
// JSON array (a batch): it answers them itself on out.
func withoutBatches(in io.Reader, out io.Writer) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		r := bufio.NewReader(in)
		for {
			line, err := r.ReadBytes('\n')
			if t := bytes.TrimLeft(line, " \t\r"); len(t) > 0 && t[0] == '[' {
				if _, werr := out.Write(batchError); werr != nil {
					pw.CloseWithError(werr)
					return
				}
			} else if len(line) > 0 {
				if _, werr := pw.Write(line); werr != nil {
					return // the server stopped reading
				}
			}
			if err != nil {
				pw.CloseWithError(err) // io.EOF: the reader sees the end
				return
			}
		}
	}()
	return pr
}
