// Command agentbench measures agentgate against a bare fiber baseline in one
// process, on one machine: blocking runs/s, streaming runs/s and streaming
// time-to-first-event, each figure side by side with the baseline's and the
// ratio, and checks the profile's performance targets (embedded: blocking
// runs/s at least 40% of the baseline's, TTFE p50 at most 2x the
// baseline's). The postgres-redis profile adds resume latency and direct
// measurements of the Redis event log and the PostgreSQL store against raw
// clients, and checks at least 2,000 blocking runs/s and a resume p99 under
// 10 ms. -paced measures long streams from a model that writes tokens at a
// steady pace instead (paced.go).
//
//	go run ./bench/cmd/agentbench [-duration 5s] [-rounds 3] [-concurrency 32] [-profile embedded|postgres-redis] [-json]
//
// All traffic goes to loopback listeners on 127.0.0.1 that the tool starts
// itself. See bench/README.md.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"time"
)

type options struct {
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	concurrency int
	chunks      int
	profile     string
	tracing     bool
	compare     bool
	json        bool
	cpuprofile  string
	blockprof   string
	quiet       bool
	// paced is the paced profile (-paced): long streams at a model's pace.
	pacedOn bool
	paced   pacedOptions
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "how long each HTTP measurement runs (2 targets x 2 modes, or 3 with postgres-redis; its component measurements run half as long)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "warm-up load before each measurement (not counted; half as long for components); 0 disables")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of each HTTP measurement, agentgate and the baseline taking turns; each figure is the target's median round (0 or 1: one round)")
	flag.IntVar(&o.chunks, "chunks", 5, "the scripted model streams its reply in this many RunContent chunks (a stream is chunks + 5 frames)")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent clients, each doing one request after another")
	flag.StringVar(&o.profile, "profile", "embedded", "agentgate backends: "+fmt.Sprint(profileNames()))
	flag.BoolVar(&o.json, "json", false, "print machine-readable JSON instead of the table")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole measuring phase (client, agentgate and baseline) to this file")
	flag.StringVar(&o.blockprof, "blockprofile", "", "write a goroutine blocking profile of the measuring phase to this file (where runs wait: locks, channels, the SQLite writer)")
	flag.BoolVar(&o.quiet, "q", false, "no progress lines on stderr")
	flag.BoolVar(&o.tracing, "tracing", true, "trace the runs (observability.tracing, spans stored in the state database); -tracing=false measures without")
	flag.BoolVar(&o.compare, "tracing-compare", false, "also start agentgate twice without tracing and measure both in the same rounds (targets \"untraced\" and \"control\"): blocking and streaming runs/s with tracing on vs off, the A/A ratio of the two untraced gateways (the harness's own spread), and the target tracing on >= 90% of off (blocking)")
	flag.BoolVar(&o.pacedOn, "paced", false, "the paced profile instead: -streams concurrent streams whose model (an OpenAI-compatible server in this process) emits -rate tokens/s for -stream-length; per-token delivery latency p50/p99, CPU per 1,000 streams and RSS per stream, beside the same clients reading the model directly (on postgres-redis: two replicas, a follower of every stream on the other)")
	flag.IntVar(&o.paced.streams, "streams", pacedTargetStreams, "paced: concurrent streams")
	flag.Float64Var(&o.paced.rate, "rate", 20, "paced: tokens per second per stream")
	flag.DurationVar(&o.paced.length, "stream-length", 10*time.Second, "paced: how long each stream's model emits")
	flag.DurationVar(&o.paced.ramp, "ramp", 2*time.Second, "paced: the streams start spread over this long")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "agentbench: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "agentbench:", err)
		os.Exit(1)
	}
}

func (o options) validate() error {
	switch {
	case o.duration <= 0:
		return errors.New("-duration must be positive")
	case o.warmup < 0:
		return errors.New("-warmup must not be negative")
	case o.concurrency < 1 || o.concurrency > 4096:
		return errors.New("-concurrency must be between 1 and 4096")
	case o.rounds < 0 || o.rounds > 20:
		return errors.New("-rounds must be between 0 and 20 (0 or 1: one round)")
	case o.compare && !o.tracing:
		return errors.New("-tracing-compare measures tracing on against off: it needs -tracing (the default)")
	}
	if _, ok := profiles[o.profile]; !ok {
		return unknownProfile(o.profile)
	}
	return nil
}

// run does the whole benchmark and prints the report to stdout; progress
// goes to stderr. A missed target is not an error.
func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	if o.pacedOn {
		return runPaced(ctx, o, stdout, stderr)
	}
	rep, err := measureAll(ctx, o, stderr)
	if rep != nil {
		if o.json {
			err = errors.Join(rep.writeJSON(stdout), err)
		} else {
			rep.writeTable(stdout)
		}
	}
	return err
}

// measureAll starts the profile and the baseline, measures and stops them
// (the profile removing what it created). It returns the report when every
// measurement was made, with the error of stopping if any.
func measureAll(ctx context.Context, o options, stderr io.Writer) (rep *report, err error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	prog := progress{w: stderr, quiet: o.quiet}
	prof := profiles[o.profile]

	// The gateway's logs are not part of the measurement.
	quietLogger := slog.New(slog.DiscardHandler)

	gw, err := prof.start(ctx, profileOptions{logger: quietLogger, noTracing: !o.tracing, chunks: o.chunks})
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", prof.name, err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if e := gw.stop(sctx); e != nil {
			err = errors.Join(err, fmt.Errorf("stop agentgate: %w", e))
		}
	}()
	if err := checkLoopback(gw.baseURL); err != nil {
		return nil, err
	}
	prog.printf("agentgate (%s) on %s", gw.describe, gw.baseURL)

	// With -tracing-compare, two gateways without tracing: "untraced", the
	// figure tracing is compared with, and "control", the same config
	// again, whose ratio to "untraced" (an A/A comparison) shows how far
	// apart two identical gateways measure through this harness.
	var untraced, control *target
	if o.compare {
		for _, u := range []struct {
			name string
			dst  **target
		}{{"untraced", &untraced}, {"control", &control}} {
			t, serr := prof.start(ctx, profileOptions{logger: quietLogger, noTracing: true, chunks: o.chunks})
			if serr != nil {
				return nil, fmt.Errorf("profile %s without tracing (%s): %w", prof.name, u.name, serr)
			}
			t.name = u.name
			*u.dst = t
			defer func() {
				sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				if e := t.stop(sctx); e != nil {
					err = errors.Join(err, fmt.Errorf("stop agentgate without tracing (%s): %w", t.name, e))
				}
			}()
			if err := checkLoopback(t.baseURL); err != nil {
				return nil, err
			}
			prog.printf("agentgate without tracing, %s (%s) on %s", t.name, t.describe, t.baseURL)
		}
	}

	capClient := newClient(1)
	capt, err := captureRun(ctx, capClient, gw)
	capClient.CloseIdleConnections()
	if err != nil {
		return nil, fmt.Errorf("capture a real run: %w", err)
	}

	if prof.resume {
		prog.printf("creating %d finished runs to resume...", resumeRuns)
		if capt.resume, err = prepareResume(ctx, gw, capt); err != nil {
			return nil, fmt.Errorf("prepare the resume measurement: %w", err)
		}
	}

	base, baseMode, err := startBaseline(capt)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if e := base.stop(sctx); e != nil {
			err = errors.Join(err, fmt.Errorf("stop baseline: %w", e))
		}
	}()
	if err := checkLoopback(base.baseURL); err != nil {
		return nil, err
	}
	prog.printf("baseline (%s, %s) on %s", base.describe, baseMode, base.baseURL)

	// The baseline must answer like agentgate before it is worth measuring.
	verifyClient := newClient(1)
	if _, err := captureRun(ctx, verifyClient, base); err != nil {
		return nil, fmt.Errorf("baseline does not answer like agentgate: %w", err)
	}
	if rc := capt.resume; rc != nil {
		frames, err := fetchResume(ctx, verifyClient, base, rc.runs[0], rc.after)
		if err != nil {
			return nil, fmt.Errorf("baseline does not resume like agentgate: %w", err)
		}
		if !bytes.Equal(bytes.Join(frames, nil), bytes.Join(rc.frames, nil)) {
			return nil, errors.New("baseline's resume answer differs from agentgate's")
		}
	}
	verifyClient.CloseIdleConnections()

	stopProfiles, err := startProfiles(o)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, stopProfiles()) }()

	rep = &report{
		Profile: prof.name, ProfileDesc: prof.desc, Concurrency: o.concurrency, Chunks: o.chunks,
		Duration: o.duration, Warmup: o.warmup,
		GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		Baseline: baseMode, RunBytes: len(capt.runJSON), Frames: len(capt.frames), StreamBytes: capt.streamBytes(),
		Results: map[string]map[string]*result{"agentgate": {}, "baseline": {}},
	}
	if untraced != nil {
		rep.Results["untraced"] = map[string]*result{}
		rep.Results["control"] = map[string]*result{}
	}
	if rc := capt.resume; rc != nil {
		rep.ResumeAfter, rep.ResumeFrames, rep.ResumeBytes, rep.ResumeRuns = &rc.after, len(rc.frames), rc.bytes(), len(rc.runs)
	}
	modes := []struct {
		name      string
		fn        requestFunc
		streaming bool
	}{
		{"blocking", blockingRun, false},
		{"streaming", streamingRun, true},
	}
	if capt.resume != nil {
		modes = append(modes, struct {
			name      string
			fn        requestFunc
			streaming bool
		}{"resume", resumeRequest(capt.resume), true})
	}
	rounds := max(o.rounds, 1)
	rep.Rounds = rounds
	for _, m := range modes {
		// The two targets take turns, round after round, the first of a
		// round alternating, so a machine that gets slower or faster
		// meanwhile weighs on both alike; each figure is then the
		// target's median round.
		runs := map[string][]result{}
		for round := range rounds {
			var order []*target
			if untraced != nil && m.name != "resume" {
				order = compareOrder(round, gw, base, untraced, control)
			} else {
				order = roundOrder(round, gw, base)
			}
			for _, t := range order {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				label := fmt.Sprintf("round %d of %d", round+1, rounds)
				runs[t.name] = append(runs[t.name], measure(ctx, o, prog, t, m.name, label, m.fn, m.streaming))
			}
		}
		for name, rs := range runs {
			rep.Results[name][m.name] = medianRound(rs)
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if gw.components != nil {
		env := componentEnv{capt: capt, concurrency: o.concurrency,
			duration: componentDuration(o.duration), warmup: componentDuration(o.warmup), prog: prog}
		if rep.Components, err = gw.components(ctx, env); err != nil {
			return nil, fmt.Errorf("component measurements: %w", err)
		}
		for _, c := range rep.Components {
			for _, res := range []*result{&c.Agentgate, &c.Baseline} {
				if res.Requests == 0 {
					prog.printf("  %s: no operation succeeded (%d errors: %s)", c.Key, res.Errors, res.FirstErr)
				}
			}
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return rep, nil
}

// roundOrder is the order of agentgate and the baseline in a round:
// agentgate first in even rounds, the baseline in odd ones.
func roundOrder(round int, gw, base *target) []*target {
	if round%2 == 1 {
		return []*target{base, gw}
	}
	return []*target{gw, base}
}

// compareOrder is the order of a round with -tracing-compare: the three
// gateways (traced, untraced, control) rotate by one place a round, so in
// any three rounds each is measured first, second and third once (no
// gateway always follows another), and the baseline, which does not take
// part in the tracing figures, comes first in odd rounds and last in even
// ones.
func compareOrder(round int, gw, base, untraced, control *target) []*target {
	gws := []*target{gw, untraced, control}
	k := round % len(gws)
	gws = append(gws[k:], gws[:k]...)
	if round%2 == 1 {
		return append([]*target{base}, gws...)
	}
	return append(gws, base)
}

// measure warms t up with fn, then measures it: one round of one mode.
func measure(ctx context.Context, o options, prog progress, t *target, mode, round string, fn requestFunc, streaming bool) result {
	client := newClient(o.concurrency)
	defer client.CloseIdleConnections()
	if o.warmup > 0 {
		prog.printf("warming up %s %s (%s)...", t.name, mode, o.warmup)
		_ = load(ctx, client, t, fn, o.concurrency, o.warmup, streaming)
	}
	// Start each measurement from the same heap state.
	runtime.GC()
	prog.printf("measuring %s %s, %s (%s, %d clients)...", t.name, mode, round, o.duration, o.concurrency)
	res := load(ctx, client, t, fn, o.concurrency, o.duration, streaming)
	if res.Requests == 0 {
		prog.printf("  %s %s: no request succeeded (%d errors: %s)", t.name, mode, res.Errors, res.FirstErr)
	}
	return res
}

// startProfiles starts the CPU and blocking profiles that -cpuprofile and
// -blockprofile ask for; stop writes them.
func startProfiles(o options) (stop func() error, err error) {
	var stops []func() error
	stop = func() error {
		var err error
		for _, s := range stops {
			err = errors.Join(err, s())
		}
		return err
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		stops = append(stops, func() error {
			pprof.StopCPUProfile()
			return f.Close()
		})
	}
	if o.blockprof != "" {
		runtime.SetBlockProfileRate(int(10 * time.Microsecond)) // sample blocking events of >= ~10µs
		stops = append(stops, func() error {
			runtime.SetBlockProfileRate(0)
			return writeProfile("block", o.blockprof)
		})
	}
	return stop, nil
}

func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
