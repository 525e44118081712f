// Command embed runs agentgate inside a Go program: the embedded demo
// config, a route of its own, a run called from Go, then the HTTP server.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate"
	"github.com/agentgate/agentgate/core"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := agentgate.LoadConfig("") // the embedded demo; a file path, or agentgate.ParseConfig(yaml)
	if err != nil {
		return err
	}
	g, err := agentgate.New(ctx, cfg, agentgate.Options{})
	if err != nil {
		return err
	}
	// g.RegisterAgent(myAgent) serves any core.Agent of yours on every interface.
	g.App().Get("/hello", func(c *fiber.Ctx) error { return c.SendString("hi") })
	r, err := g.Run(ctx, "assistant", "hello", core.StartParams{})
	if err != nil {
		_ = g.Shutdown(context.Background())
		return err
	}
	fmt.Println(r.Status, r.Content)
	return g.ListenAndServe(ctx) // until SIGINT or SIGTERM, then a graceful shutdown
}
