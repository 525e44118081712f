// Package redislog is the Redis Streams core.EventLog: the event log that
// makes run streams resumable on any replica. Every replica of the gateway
// points at the same Redis; appends, reads, live tails and cancel signals
// work across them. It passes storage/eventlogtest.
//
// # Keys
//
// With the key prefix P (Config.Prefix, default "agentgate:") a run R has
//
//	P{R}:events   a stream holding the run's retained events
//	P{R}:cancel   a string, present once a cancel was signalled (TTL Retention)
//	P{R}:followers  a sorted set of the run's followers (followers.go)
//
// and the log uses one pub/sub channel, P + "cancel", whose messages are run
// ids, and per run a channel named like its stream key, P{R}:events, on
// which the append script publishes the events it appends (live.go). The braces would keep a run's keys in one Redis Cluster hash slot.
//
// # Indices are stream IDs
//
// The event with index i is the stream entry with ID "i-1" (the sequence
// part is always 1, so index 0 is "0-1", a valid ID). Reading after index N
// is XRANGE from "N+1" (that is N+1-0, inclusive). No separate counter key
// exists: the next index is one more than the ID of the stream's last
// entry, and the stream
// exists exactly when the log holds events of the run (exact MAXLEN trimming
// never empties it). Each entry has a field "e", the event's JSON with the
// right event_index already spliced in (the stored value is the wire form),
// and the last entry written by one Append carries a field "t", the
// append's token (see below).
//
// # Append
//
// One Lua script, loaded once and run with EVALSHA, does the whole append
// atomically: it reads the last entry (XREVRANGE + - COUNT 1), picks the
// index (last + 1, or the caller's ev.EventIndex when the stream does not
// exist, honouring the starting-index rule of core.EventLog), XADDs with
// exact trimming (MAXLEN = MaxEventsPerRun), PERSISTs the key so that a
// run revived after Finish does not expire and PUBLISHes the events on the
// run's channel for its followers (live.go). Appends from any number of
// processes are therefore serialised by Redis and indices stay dense.
//
// AppendFinish (core.FinishingAppender), which the engine uses for the
// event that ends a segment, runs the same script with PEXPIRE by Retention
// in place of the PERSIST: the append and Finish in one step.
//
// The appends of all runs are group commits (coalesce.go): an append that
// finds none in flight is sent at once, on its caller's goroutine; those
// that come while a pipeline is in flight wait and go together as the
// next pipeline (at most 256 appends, one per run; gathering more for at
// most Config.AppendWindow from the last one's start), one write and one
// read for all of them. Each caller waits for its own reply, so one run's
// script error fails only its append, and per-run order is that of the
// calls.
// Finish and the cancel-key check of WatchCancel go through a go-redis
// AutoPipeliner on the ordinary client, which pipelines concurrent
// callers' commands likewise. A queued command is not cut short by its
// caller's context (it ends within go-redis's read timeout).
//
// go-redis retries a command (or a whole pipeline) whose connection failed
// after it was written, which would append the event twice. Each Append
// therefore passes a token unique to the call; if the stream's last entry
// already carries it, the script returns that entry's index instead of
// appending again. A pipeline holds at most one append of a run, so the
// retried append is still its run's last. (This relies on the
// one-writer-per-run rule: a retry interleaved with another writer's
// append is not recognised.)
//
// # Reads, subscriptions and trimming
//
// Read is XRANGE pipelined with EXISTS (which tells an unknown run,
// ErrNotFound, from a cursor at the end). When the first entry returned is
// past the cursor, the cursor's events were trimmed or expired: the result
// is a *core.GoneError naming the first index held.
//
// Subscribe does the same XRANGE once (so a stale cursor fails at once and
// the backlog is prefetched); Next then takes the live events, which the
// append script PUBLISHes on the run's channel (named like its stream key)
// and each Log receives on its one pub/sub connection for all the runs it
// follows, into one in-memory feed per run shared by the run's
// subscriptions in that Log (live.go). The stream stays the history: a
// subscription that may have missed a message (a gap in the indices, a
// subscription made after events it has not read, a reconnect of the
// pub/sub connection, a period of BlockTimeout without news) reads the stream
// from its cursor with XRANGE, so trimming that overtook a slow reader still
// shows as a first entry past the cursor and yields a *core.GoneError, and
// a subscriber that has seen the run exist and finds its key gone
// (retention after Finish) gets a GoneError naming its cursor. A cancelled
// Next returns at once and the subscription stays usable.
//
// # Cancel signals
//
// SignalCancel sets P{R}:cancel with a TTL of Retention (so a watcher that
// starts later still sees it) and PUBLISHes R on P + "cancel", pipelined.
// Each Log holds one pub/sub connection subscribed to that channel (and the
// channels of the runs it follows), opened by New, and fans messages out to
// its watchers in process. WatchCancel
// registers the watcher first and then checks the key, so a signal is seen
// whether it lands before or after; AfterCancel (core.CancelNotifier, which
// the engine prefers) does the same with the check behind its caller, so a
// run's start waits for no round trip. After the pub/sub connection is
// re-established (go-redis reconnects and resubscribes by itself) every
// watched key is checked again, since messages published meanwhile are lost.
//
// # Retention
//
// Finish PEXPIREs the stream by Retention (AppendFinish does it in its
// script); Append PERSISTs it again. Runs
// never finished are bounded only by MaxEventsPerRun.
//
// # Errors
//
// Errors that mean Redis cannot be reached or cannot serve (network errors,
// a closed pool, LOADING, READONLY, MASTERDOWN, ...) wrap core.ErrUnavailable
// in a *core.Error whose message is safe to show. Every operation after
// Close returns ErrClosed, which matches core.ErrUnavailable.
package redislog

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentgate/agentgate/core"
)

// Defaults of Config.
const (
	DefaultURL          = "redis://127.0.0.1:6379/0"
	DefaultPrefix       = "agentgate:"
	DefaultBlockTimeout = 2 * time.Second
	DefaultAppendWindow = 250 * time.Microsecond
)

// readBatch is how many entries one XRANGE of a subscription asks for.
const readBatch = 256

// ErrClosed is returned by every operation after Close, and by Next of the
// subscriptions that were open at Close. It matches core.ErrUnavailable.
var ErrClosed = fmt.Errorf("redislog: event log is closed: %w", core.ErrUnavailable)

// ErrSubscriptionClosed is returned by Next after the subscription's Close.
var ErrSubscriptionClosed = errors.New("redislog: subscription is closed")

// Config configures a Log. Zero fields take the defaults.
type Config struct {
	// URL of the Redis server, redis:// or rediss:// (default DefaultURL).
	// go-redis's query options (dial_timeout, pool_size, ...) apply to the
	// client used for ordinary commands.
	URL string
	// Prefix of every key and channel the log uses (default DefaultPrefix).
	Prefix string
	// EventLog is the retention configuration (see core.EventLogConfig).
	EventLog core.EventLogConfig
	// BlockTimeout is the period after which a subscription that had no
	// news of its run for a whole period reads the stream itself (so after
	// one to two BlockTimeouts of silence; default DefaultBlockTimeout; see
	// live.go). It bounds how soon a subscriber notices that its run
	// expired, or recovers a live message that was lost; it does not delay
	// events or context cancellation.
	BlockTimeout time.Duration
	// AppendWindow bounds how long appends that queued behind a pipeline
	// of appends in flight wait, once it returned, for more to join them
	// (coalesce.go), counted from that pipeline's start (default
	// DefaultAppendWindow; negative: no wait, the next pipeline goes as
	// soon as the one in flight returns). An append that finds no pipeline
	// in flight goes at once.
	AppendWindow time.Duration
}

// WithDefaults fills zero fields with the defaults.
func (c Config) WithDefaults() Config {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	c.EventLog = c.EventLog.WithDefaults()
	if c.BlockTimeout <= 0 {
		c.BlockTimeout = DefaultBlockTimeout
	}
	if c.AppendWindow == 0 {
		c.AppendWindow = DefaultAppendWindow
	}
	return c
}

// appendScript appends events to one run's stream; see the package doc.
//
// KEYS[1]: the run's stream. ARGV[1]: MaxEventsPerRun. ARGV[2]: the index to
// start at when the stream does not exist. ARGV[3]: the append's token.
// ARGV[4], ARGV[5], ...: each event's JSON, split where its index goes.
// An odd argument after the pairs is the Retention in milliseconds to
// finish the run with (AppendFinish: PEXPIRE instead of PERSIST). It returns
// the index of the first event appended.
var appendScript = redis.NewScript(`
local key, maxlen, token = KEYS[1], ARGV[1], ARGV[3]
local last_arg, ttl = #ARGV, 0
if (#ARGV - 3) % 2 == 1 then
  ttl, last_arg = tonumber(ARGV[#ARGV]), #ARGV - 1
end
local n = (last_arg - 3) / 2
local idx = tonumber(ARGV[2])
local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
if last then
  local at = tonumber(string.match(last[1], '^%d+'))
  if last[2][4] == token then
    return at - n + 1
  end
  idx = at + 1
end
local first = idx
local live = {string.format('%d', idx)}
for i = 4, last_arg, 2 do
  local s = string.format('%d', idx)
  local e = ARGV[i] .. s .. ARGV[i + 1]
  if i + 1 == last_arg then
    redis.call('XADD', key, 'MAXLEN', '=', maxlen, s .. '-1', 'e', e, 't', token)
  else
    redis.call('XADD', key, 'MAXLEN', '=', maxlen, s .. '-1', 'e', e)
  end
  live[#live + 1] = e
  idx = idx + 1
end
if ttl > 0 then
  redis.call('PEXPIRE', key, ttl)
else
  redis.call('PERSIST', key)
end
-- live.go: the run's followers in every process get the events from here.
redis.call('PUBLISH', key, table.concat(live, '\n'))
return first
`)

// Log is a Redis Streams core.EventLog. Create it with New; all methods are
// safe for concurrent use. Several Logs (in one process or many) may share
// one Redis and prefix: they then see each other's runs and signals.
type Log struct {
	cfg Config
	rdb *redis.Client // ordinary commands
	// ap batches the hot single commands of concurrent callers (Finish,
	// the cancel-key check of WatchCancel) into shared pipelines on rdb;
	// see the package doc.
	ap *redis.AutoPipeliner
	ps *redis.PubSub // the cancel channel and the followed runs' channels

	// appends group-commits the appends of all runs (coalesce.go).
	appends *coalescer

	tokenBase string
	tokenSeq  atomic.Uint64

	cancelMu sync.Mutex
	watches  map[string]*cancelWatch

	// feeds are the live events of the runs followed here (live.go), by
	// channel; feedSubMu orders their SUBSCRIBE and UNSUBSCRIBE commands.
	// catchups counts the subscriptions' reads of the stream, delivered the
	// messages fed.
	feedSubMu sync.Mutex
	feedsMu   sync.Mutex
	feeds     map[string]*feed
	catchups  atomic.Int64
	delivered atomic.Int64

	closed    atomic.Bool
	done      chan struct{} // closed by Close
	psDone    chan struct{} // closed when the pub/sub loop ends
	closeOnce sync.Once
}

// New connects to Redis, loads the append script and subscribes to the
// cancel channel. It fails with an error matching core.ErrUnavailable when
// Redis cannot be reached, and core.ErrInvalid for a malformed URL.
func New(ctx context.Context, cfg Config) (*Log, error) {
	cfg = cfg.WithDefaults()
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, &core.Error{Code: core.CodeInvalid, Message: "invalid Redis URL", Err: err}
	}

	var tok [6]byte
	_, _ = rand.Read(tok[:])
	l := &Log{
		cfg:       cfg,
		rdb:       redis.NewClient(opts),
		tokenBase: base64.RawURLEncoding.EncodeToString(tok[:]) + ".",
		watches:   make(map[string]*cancelWatch),
		feeds:     make(map[string]*feed),
		done:      make(chan struct{}),
		psDone:    make(chan struct{}),
	}
	fail := func(op string, err error) (*Log, error) {
		_ = l.ps.Close()
		_ = l.rdb.Close()
		return nil, &core.Error{Code: core.CodeUnavailable, Message: "the event log (Redis) is unavailable",
			Err: fmt.Errorf("redislog: %s %s: %w", op, opts.Addr, err)}
	}
	l.ps = l.rdb.Subscribe(ctx)
	if err := l.rdb.Ping(ctx).Err(); err != nil {
		return fail("ping", err)
	}
	l.appends = newCoalescer(l.rdb, cfg.AppendWindow)
	if l.ap, err = l.rdb.AutoPipeline(); err != nil {
		return fail("starting the pipeliner", err)
	}
	if err := appendScript.Load(ctx, l.rdb).Err(); err != nil {
		return fail("loading the append script", err)
	}
	if err := l.ps.Subscribe(ctx, l.cancelChannel()); err != nil {
		return fail("subscribing", err)
	}
	// Wait for the confirmation, so that no signal published after New
	// returns can be missed.
	if _, err := l.ps.Receive(ctx); err != nil {
		return fail("subscribing", err)
	}
	go l.cancelLoop(l.ps.ChannelWithSubscriptions(redis.WithChannelSize(1024)))
	return l, nil
}

// Config returns the configuration in effect, defaults filled in.
func (l *Log) Config() Config { return l.cfg }

// streamKey and cancelKey name the run's keys; see the package doc.
func (l *Log) streamKey(runID string) string { return l.cfg.Prefix + "{" + runID + "}:events" }
func (l *Log) cancelKey(runID string) string { return l.cfg.Prefix + "{" + runID + "}:cancel" }
func (l *Log) cancelChannel() string         { return l.cfg.Prefix + "cancel" }

func invalid(format string, args ...any) error {
	return core.Errorf(core.CodeInvalid, format, args...)
}

// check is the common preamble of every operation.
func (l *Log) check(ctx context.Context) error {
	if l.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// fail classifies err, returned by go-redis for op: after Close it is
// ErrClosed, when ctx ended it is ctx's error, when Redis cannot serve it
// wraps core.ErrUnavailable, and anything else (a script or type error) is
// returned as is, wrapped.
func (l *Log) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if l.closed.Load() {
		return ErrClosed
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if unavailable(err) {
		return &core.Error{Code: core.CodeUnavailable, Message: "the event log (Redis) is unavailable",
			Err: fmt.Errorf("redislog: %s: %w", op, err)}
	}
	return fmt.Errorf("redislog: %s: %w", op, err)
}

// unavailable reports whether err means Redis cannot serve now, as opposed
// to a reply that is an error in itself.
func unavailable(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return true // network, pool, closed client
	}
	return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsMasterDownError(err) ||
		redis.IsClusterDownError(err) || redis.IsTryAgainError(err) || redis.IsMaxClientsError(err) ||
		redis.IsNoReplicasError(err) || redis.IsOOMError(err) || redis.HasErrorPrefix(err, "BUSY")
}

// eventIndexField is where encode splits an event's JSON.
var eventIndexField = []byte(`"event_index":0`)

// encode returns ev's JSON with event_index 0, split around the 0: the
// script stores head + index + tail.
func encode(buf *bytes.Buffer, ev *core.Event) (head, tail []byte, err error) {
	e := *ev
	e.EventIndex = 0
	start := buf.Len()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&e); err != nil {
		return nil, nil, invalid("event of run %s cannot be encoded: %v", ev.RunID, err)
	}
	b := bytes.TrimSuffix(buf.Bytes()[start:], []byte("\n"))
	// The field follows "event" and a JSON string holds no bare quote, so
	// the first match is the field itself.
	i := bytes.Index(b, eventIndexField)
	if i < 0 {
		return nil, nil, fmt.Errorf("redislog: encoded event has no event_index: %s", b)
	}
	cut := i + len(eventIndexField) - 1
	return b[:cut], b[cut+1:], nil
}

// Append implements core.EventLog.
func (l *Log) Append(ctx context.Context, ev *core.Event) (int64, error) {
	if ev == nil || ev.Stream() == "" {
		return -1, invalid("event has no run id")
	}
	evs := [1]*core.Event{ev}
	return l.AppendBatch(ctx, evs[:])
}

// AppendFinish implements core.FinishingAppender: Append, then Finish, in
// one atomic step (the script expires the stream instead of persisting it).
func (l *Log) AppendFinish(ctx context.Context, ev *core.Event) (int64, error) {
	if ev == nil || ev.Stream() == "" {
		return -1, invalid("event has no run id")
	}
	evs := [1]*core.Event{ev}
	return l.appendEvents(ctx, evs[:], max(l.cfg.EventLog.Retention, time.Millisecond))
}

// AppendBatch appends events of one run in one round trip and one atomic
// step: they get consecutive indices, which it sets in each event, and it
// returns the first. The starting-index rule of Append applies with
// evs[0].EventIndex. It is Append for bursts (a batch of text deltas).
func (l *Log) AppendBatch(ctx context.Context, evs []*core.Event) (int64, error) {
	return l.appendEvents(ctx, evs, 0)
}

// AppendAll implements core.BatchAppender: AppendBatch, finishing the run
// in the same step when finish is set.
func (l *Log) AppendAll(ctx context.Context, evs []*core.Event, finish bool) (int64, error) {
	if finish {
		return l.appendEvents(ctx, evs, max(l.cfg.EventLog.Retention, time.Millisecond))
	}
	return l.appendEvents(ctx, evs, 0)
}

// appendEvents is AppendBatch; a finish > 0 also finishes the run with that
// retention.
func (l *Log) appendEvents(ctx context.Context, evs []*core.Event, finish time.Duration) (int64, error) {
	if len(evs) == 0 {
		return -1, invalid("no events to append")
	}
	if evs[0] == nil || evs[0].Stream() == "" {
		return -1, invalid("event has no run id")
	}
	runID := evs[0].Stream()
	for _, ev := range evs[1:] {
		if ev == nil || ev.Stream() != runID {
			return -1, invalid("a batch holds events of one run")
		}
	}
	if err := l.check(ctx); err != nil {
		return -1, err
	}
	args := make([]any, 3, 4+2*len(evs))
	args[0] = l.cfg.EventLog.MaxEventsPerRun
	args[1] = max(evs[0].EventIndex, 0)
	args[2] = l.tokenBase + strconv.FormatUint(l.tokenSeq.Add(1), 36)
	var buf bytes.Buffer
	buf.Grow(256 * len(evs))
	for _, ev := range evs {
		head, tail, err := encode(&buf, ev)
		if err != nil {
			return -1, err
		}
		args = append(args, head, tail)
	}
	if finish > 0 {
		args = append(args, finish.Milliseconds())
	}
	// The heads and tails alias buf, which is not written to any more.
	first, err := l.appends.run(ctx, l.streamKey(runID), args)
	if err != nil {
		return -1, l.fail(ctx, "append", err)
	}
	for i, ev := range evs {
		ev.EventIndex = first + int64(i)
	}
	return first, nil
}

func checkParams(p core.ReadParams) error {
	if p.RunID == "" {
		return invalid("no run id")
	}
	if p.After < -1 {
		return invalid("cursor %d is below -1", p.After)
	}
	return nil
}

// rangeFrom reads up to limit (<= 0: all) events of runID with index >=
// from, and whether the run's stream exists.
func (l *Log) rangeFrom(ctx context.Context, runID string, from int64, limit int) ([]core.Event, bool, error) {
	key := l.streamKey(runID)
	start := strconv.FormatInt(from, 10)
	pipe := l.rdb.Pipeline()
	var xr *redis.XMessageSliceCmd
	if limit > 0 {
		xr = pipe.XRangeN(ctx, key, start, "+", int64(limit))
	} else {
		xr = pipe.XRange(ctx, key, start, "+")
	}
	ex := pipe.Exists(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, false, l.fail(ctx, "read", err)
	}
	evs, err := decode(runID, xr.Val())
	if err != nil {
		return nil, false, err
	}
	return evs, ex.Val() > 0 || len(evs) > 0, nil
}

// decode turns stream entries into events, their index taken from the ID.
func decode(runID string, msgs []redis.XMessage) ([]core.Event, error) {
	out := make([]core.Event, len(msgs))
	for i, m := range msgs {
		idx, err := indexOf(m.ID)
		if err != nil {
			return nil, fmt.Errorf("redislog: run %s: %w", runID, err)
		}
		s, ok := m.Values["e"].(string)
		if !ok {
			return nil, fmt.Errorf("redislog: run %s: entry %s has no event", runID, m.ID)
		}
		if err := unmarshalStored([]byte(s), &out[i]); err != nil {
			return nil, fmt.Errorf("redislog: run %s: entry %s: %w", runID, m.ID, err)
		}
		out[i].EventIndex = idx
	}
	return out, nil
}

// indexOf returns the event index of the stream entry ID "i-1".
func indexOf(id string) (int64, error) {
	ms, _, ok := strings.Cut(id, "-")
	if !ok {
		return 0, fmt.Errorf("malformed entry ID %q", id)
	}
	i, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed entry ID %q", id)
	}
	return i, nil
}

// Read implements core.EventLog.
func (l *Log) Read(ctx context.Context, p core.ReadParams) ([]core.Event, error) {
	if err := checkParams(p); err != nil {
		return nil, err
	}
	if err := l.check(ctx); err != nil {
		return nil, err
	}
	evs, exists, err := l.rangeFrom(ctx, p.RunID, p.After+1, p.Limit)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("redislog: events of run %s: %w", p.RunID, core.ErrNotFound)
	}
	if len(evs) > 0 && evs[0].EventIndex > p.After+1 {
		return nil, &core.GoneError{RunID: p.RunID, FirstIndex: evs[0].EventIndex}
	}
	return evs, nil
}

// Finish implements core.EventLog: the run's events expire Retention from
// now unless it is appended to again. Finishing a run without events is a
// no-op.
func (l *Log) Finish(ctx context.Context, runID string) error {
	if runID == "" {
		return invalid("no run id")
	}
	if err := l.check(ctx); err != nil {
		return err
	}
	ttl := max(l.cfg.EventLog.Retention, time.Millisecond)
	return l.fail(ctx, "finish", l.ap.PExpire(ctx, l.streamKey(runID), ttl).Err())
}

// Ping implements core.EventLog.
func (l *Log) Ping(ctx context.Context) error {
	if err := l.check(ctx); err != nil {
		return err
	}
	return l.fail(ctx, "ping", l.rdb.Ping(ctx).Err())
}

// Close implements core.EventLog. Open subscriptions wake and their Next
// returns ErrClosed, as does every later operation; cancel watch channels
// are left open. Close may be called more than once; later calls return
// nil.
func (l *Log) Close() error {
	var err error
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		close(l.done)
		err = errors.Join(ignoreClosed(l.ps.Close()), ignoreClosed(l.rdb.Close()))
		<-l.psDone
	})
	return err
}

func ignoreClosed(err error) error {
	if errors.Is(err, redis.ErrClosed) {
		return nil
	}
	return err
}

var (
	_ core.EventLog          = (*Log)(nil)
	_ core.FinishingAppender = (*Log)(nil)
	_ core.BatchAppender     = (*Log)(nil)
	_ core.CancelNotifier    = (*Log)(nil)
)
