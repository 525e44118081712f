package agentgate

// The schedules' wiring: their config, and the core/schedule service on the
// state database and the engine, its tick registered as a periodic job of
// the durable queue (once across replicas).

import (
	"errors"
	"time"

	"github.com/agentgate/agentgate/core/schedule"
)

// SchedulesConfig configures the schedules (/schedules, core/schedule).
type SchedulesConfig struct {
	// Enabled serves /schedules and fires the schedules (default true;
	// false answers /schedules with 503 and fires nothing).
	Enabled *bool `yaml:"enabled"`
	// TickInterval is how often the due schedules are looked at, on one
	// replica at a time (default 1s).
	TickInterval time.Duration `yaml:"tick_interval"`
	// CatchUpGrace is how late a due time may still fire as itself
	// (default 2m, above River's leader failover); fires missed for longer
	// follow each schedule's catch_up.
	CatchUpGrace time.Duration `yaml:"catch_up_grace"`
}

// On reports whether schedules are served and fired.
func (c SchedulesConfig) On() bool { return c.Enabled == nil || *c.Enabled }

// Validate checks the intervals.
func (c SchedulesConfig) Validate() error {
	var errs []error
	if c.TickInterval < 0 || c.TickInterval > 0 && c.TickInterval < 100*time.Millisecond {
		errs = append(errs, errors.New("schedules.tick_interval must be at least 100ms (0 takes the default, 1s)"))
	}
	if c.CatchUpGrace < 0 || c.CatchUpGrace > 0 && c.CatchUpGrace < time.Second {
		errs = append(errs, errors.New("schedules.catch_up_grace must be at least 1s (0 takes the default, 2m)"))
	}
	return errors.Join(errs...)
}

// schedulesTick is the periodic job's name.
const schedulesTick = "schedules"

// buildSchedules builds the schedules' service on the state store and the
// engine, and registers its tick as a periodic job of the queue (run by
// one replica at a time; its fires are also claimed in the database).
// Call it before the queue starts.
func (g *Gateway) buildSchedules() error {
	c := g.cfg.Schedules
	if !c.On() {
		return nil
	}
	g.schedules = schedule.New(schedule.Config{Store: g.store, Runner: g.eng, Grace: c.CatchUpGrace, Logger: g.logger})
	if g.queue == nil {
		return nil
	}
	every := c.TickInterval
	if every <= 0 {
		every = time.Second
	}
	return g.queue.AddPeriodic(schedulesTick, every, g.schedules.Tick)
}
