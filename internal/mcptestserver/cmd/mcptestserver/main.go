// Command mcptestserver serves the test MCP server (internal/mcptestserver)
// over stdio, or with -http ADDR over Streamable HTTP at /mcp, printing
// the endpoint's URL (http://HOST:PORT/mcp) as the first line of stdout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/agentgate/agentgate/internal/mcptestserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := mcptestserver.Run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "mcptestserver:", err)
		os.Exit(2)
	}
}
