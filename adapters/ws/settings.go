package ws

import (
	"errors"
	"fmt"
	"time"
)

// Settings are the operator's settings of the WebSocket interface at /ws,
// as the gateway's config file spells them (the ws: block); Config embeds
// them. Zero values take the defaults.
type Settings struct {
	// Disabled turns the interface off.
	Disabled bool `yaml:"disabled"`
	// AllowedOrigins are the browser origins allowed to open a socket
	// ("*": any), in addition to auth.cors_origins. Clients that send no
	// Origin (not browsers) and same-origin pages are always allowed.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// MaxFrameBytes bounds one client frame (default 1 MiB). A larger
	// frame is discarded and answered with an error frame (code invalid);
	// one over 4x the limit closes the socket (1009).
	MaxFrameBytes int `yaml:"max_frame_bytes"`
	// QueueSize bounds the frames waiting to be written to one socket
	// (default 256).
	QueueSize int `yaml:"queue_size"`
	// MaxRuns bounds the runs one socket follows at once (default 64).
	MaxRuns int `yaml:"max_runs"`
	// PingInterval is how often the server pings (default 30s); a client
	// silent for PingInterval+PongTimeout (default 15s) is disconnected.
	PingInterval time.Duration `yaml:"ping_interval"`
	PongTimeout  time.Duration `yaml:"pong_timeout"`
	// WriteTimeout bounds writing one batch of queued frames (at most
	// QueueSize) to a socket (default 10s); a client that takes longer is
	// dropped as a slow consumer.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// SlowConsumerTimeout is how long a producer waits for room in a full
	// queue before the socket is closed with 1013 (default 5s).
	SlowConsumerTimeout time.Duration `yaml:"slow_consumer_timeout"`
}

// Validate refuses negative bounds (zero takes the default).
func (s Settings) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int64
	}{{"max_frame_bytes", int64(s.MaxFrameBytes)}, {"queue_size", int64(s.QueueSize)}, {"max_runs", int64(s.MaxRuns)},
		{"ping_interval", int64(s.PingInterval)}, {"pong_timeout", int64(s.PongTimeout)},
		{"write_timeout", int64(s.WriteTimeout)}, {"slow_consumer_timeout", int64(s.SlowConsumerTimeout)}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("ws.%s must not be negative", f.name))
		}
	}
	return errors.Join(errs...)
}
