// Package mcptestserver is a small MCP server (on mcp-go's server) for
// tests: of the MCP tool source (core/tool/mcptool) here, and end-to-end
// tests elsewhere, which run its command (cmd/mcptestserver).
//
// Its tools:
//
//   - echo {text}: the text.
//   - add {a, b}: the sum, as text.
//   - pid: the server process's id, as text.
//   - slow {ms}: sleeps ms milliseconds (stopping when the call is
//     cancelled), then "done".
//   - fail: an error result (isError) whose text is "boom".
//   - add_tool: registers the tool extra (which answers "extra"); the
//     server then sends notifications/tools/list_changed.
//
// The command serves stdio by default; with -http ADDR (e.g.
// -http 127.0.0.1:0) it serves Streamable HTTP at /mcp instead and prints
// the endpoint's URL (http://127.0.0.1:PORT/mcp) as stdout's first line.
package mcptestserver

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/agentgate/agentgate/core/media/mediatest"
)

// ChartCSV and ChartWAV are the data and the sound the chart tool returns
// (its image is mediatest.PNG(4, 3)).
var (
	ChartCSV = "x,y\n1,2\n2,4\n3,8\n"
	ChartWAV = append([]byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00"), make([]byte, 0)...)
)

// New returns the test server, with the tools capability's listChanged set.
func New() *server.MCPServer {
	s := server.NewMCPServer("mcptestserver", "1.0.0", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("chart",
		mcp.WithDescription("Draws a chart: an image, a sound and the data as a CSV resource."),
	), func(_ context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{
			mcp.NewTextContent("a chart of 3 points"),
			mcp.NewImageContent(base64.StdEncoding.EncodeToString(mediatest.PNG(4, 3)), "image/png"),
			mcp.NewAudioContent(base64.StdEncoding.EncodeToString(ChartWAV), "audio/wav"),
			mcp.NewEmbeddedResource(mcp.BlobResourceContents{URI: "file:///charts/points.csv", MIMEType: "text/csv",
				Blob: base64.StdEncoding.EncodeToString([]byte(ChartCSV))}),
		}}, nil
	})
	s.AddTool(mcp.NewTool("echo",
		mcp.WithDescription("Returns the text it is given."),
		mcp.WithString("text", mcp.Required(), mcp.Description("Text to echo.")),
	), func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText(req.GetString("text", "")), nil
	})
	s.AddTool(mcp.NewTool("add",
		mcp.WithDescription("Adds two numbers."),
		mcp.WithNumber("a", mcp.Required()),
		mcp.WithNumber("b", mcp.Required()),
	), func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		a, err := req.RequireFloat("a")
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		b, err := req.RequireFloat("b")
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		return mcp.NewToolResultText(strconv.FormatFloat(a+b, 'f', -1, 64)), nil
	})
	s.AddTool(mcp.NewTool("pid",
		mcp.WithDescription("Returns the server's process id."),
	), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText(strconv.Itoa(os.Getpid())), nil
	})
	s.AddTool(mcp.NewTool("slow",
		mcp.WithDescription("Sleeps ms milliseconds, then answers done."),
		mcp.WithNumber("ms", mcp.Description("How long to sleep (default 1000).")),
	), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		t := time.NewTimer(time.Duration(req.GetFloat("ms", 1000) * float64(time.Millisecond)))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return mcp.NewToolResultText("done"), nil
		}
	})
	s.AddTool(mcp.NewTool("fail",
		mcp.WithDescription("Always fails."),
	), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultError("boom"), nil
	})
	s.AddTool(mcp.NewTool("add_tool",
		mcp.WithDescription("Registers the tool extra."),
	), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		s.AddTool(mcp.NewTool("extra", mcp.WithDescription("Added at run time.")),
			func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return mcp.NewToolResultText("extra"), nil
			})
		return mcp.NewToolResultText("added extra"), nil
	})
	return s
}

// ServeStdio serves New over stdin and stdout until stdin ends.
func ServeStdio() error {
	return server.ServeStdio(New())
}

// Run is the mcptestserver command with its arguments (without the
// program name): it serves stdio until stdin ends, or, with -http ADDR,
// Streamable HTTP at /mcp on ADDR until ctx ends, after writing the
// endpoint's URL and a newline to stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("mcptestserver", flag.ContinueOnError)
	addr := fs.String("http", "", "serve Streamable HTTP at /mcp on this address (e.g. 127.0.0.1:0) instead of stdio")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *addr == "" {
		return ServeStdio()
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", server.NewStreamableHTTPServer(New()))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if _, err := fmt.Fprintf(stdout, "http://%s/mcp\n", ln.Addr()); err != nil {
		ln.Close()
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = srv.Close() })
	defer stop()
	err = srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) && ctx.Err() != nil {
		return nil
	}
	return err
}
