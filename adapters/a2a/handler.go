package a2a

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/agentgate/agentgate/core/media"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// Config configures the A2A adapter. Zero values take the defaults.
type Config struct {
	// Name, Description and Version describe the gateway card; Version is
	// also every agent card's version.
	Name, Description, Version string
	// AuthMode (none, key, jwt) decides the security schemes cards show.
	AuthMode string
	// Policy is asked about every operation (default: a new one);
	// Register declares Operations in it.
	Policy *auth.Policy
	// Settings are the operator's settings (the a2a: block of the config
	// file): the public URL of the cards (scheme://host[:port][/prefix];
	// empty: the request's own), their max-age (default 5m), the skills of
	// each agent's card (default: one skill describing the agent) and push
	// notifications. Disabled is the gateway's to read (Interface.Mount);
	// Register mounts regardless.
	Settings
	// PushDelivery tunes push notification delivery beyond Settings.Push.
	PushDelivery PushDelivery
	// Media stores a message's file parts (nil: file parts are refused).
	Media *media.Resolver
	// CancelWait bounds how long CancelTask waits for the run to record
	// its cancellation before answering (default 10s).
	CancelWait time.Duration
	// NewID makes push notification config ids (default random UUIDs).
	NewID  func() string
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "agentgate"
	}
	if c.Version == "" {
		c.Version = "0.0.0"
	}
	if c.Policy == nil {
		c.Policy = auth.NewPolicy()
	}
	if c.CardMaxAge <= 0 {
		c.CardMaxAge = 5 * time.Minute
	}
	if c.CancelWait <= 0 {
		c.CancelWait = 10 * time.Second
	}
	if c.NewID == nil {
		c.NewID = core.NewUUID
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	return c
}

// Operations are the policy entries of the A2A endpoints: the public agent
// card, and every method of both generations, which act on the agent the
// endpoint serves (agents:<id>:read for the extended card,
// agents:<id>:run for the others). A team's endpoint asks the same of
// teams:<id>:… ("a2a:SendMessage:team"), a workflow's of workflows:<id>:…
// ("a2a:SendMessage:workflow").
func Operations() []auth.Operation {
	read := []string{"GetExtendedAgentCard", "agent/getAuthenticatedExtendedCard"}
	run := []string{
		"SendMessage", "SendStreamingMessage", "GetTask", "ListTasks", "CancelTask", "SubscribeToTask",
		"message/send", "message/stream", "tasks/get", "tasks/list", "tasks/cancel", "tasks/resubscribe",
		"CreateTaskPushNotificationConfig", "GetTaskPushNotificationConfig",
		"ListTaskPushNotificationConfigs", "DeleteTaskPushNotificationConfig",
		"tasks/pushNotificationConfig/set", "tasks/pushNotificationConfig/get",
		"tasks/pushNotificationConfig/list", "tasks/pushNotificationConfig/delete",
	}
	out := []auth.Operation{auth.Public(auth.OpA2AAgentCard)}
	for _, k := range kinds {
		res, param := auth.ResourceOf(k), string(k)+"_id"
		for _, m := range read {
			out = append(out, auth.Scoped(opFor(m, k), res, auth.ActionRead, param))
		}
		for _, m := range run {
			out = append(out, auth.Scoped(opFor(m, k), res, auth.ActionRun, param))
		}
	}
	return out
}

// kinds are the kinds of runnables served, each under its own prefix.
var kinds = []core.Kind{core.KindAgent, core.KindTeam, core.KindWorkflow}

// opFor is the operation id of a method on a runnable of kind k:
// "a2a:SendMessage" for an agent, "a2a:SendMessage:team" for a team.
func opFor(method string, k core.Kind) string {
	if k.OrAgent() == core.KindAgent {
		return "a2a:" + method
	}
	return "a2a:" + method + ":" + string(k)
}

// prefixOf is where runnables of kind k are served: /a2a/agents,
// /a2a/teams, /a2a/workflows.
func prefixOf(k core.Kind) string { return "/a2a/" + string(k.OrAgent()) + "s" }

const localsKind = "agentgate.a2a.kind"

// routeKind is the kind of runnable the request's route serves.
func routeKind(c *fiber.Ctx) core.Kind {
	if k, ok := c.Locals(localsKind).(core.Kind); ok {
		return k
	}
	return core.KindAgent
}

// Handler serves the A2A routes.
type Handler struct {
	eng    *core.Engine
	srv    *httptransport.Server
	policy *auth.Policy
	cfg    Config
	logger *slog.Logger
	push   *pusher
}

// Register mounts the A2A routes on srv's app (see the package doc).
func Register(srv *httptransport.Server, eng *core.Engine, cfg Config) *Handler {
	cfg = cfg.withDefaults()
	h := &Handler{eng: eng, srv: srv, policy: cfg.Policy, cfg: cfg, logger: cfg.Logger}
	h.declarePolicy()
	h.push = newPusher(eng, pushOptions{cfg.Push, cfg.PushDelivery}, cfg.Logger, cfg.NewID)
	app := srv.App
	app.Get("/.well-known/agent-card.json", h.serveGatewayCard)
	app.Post("/a2a/agents", func(c *fiber.Ctx) error { return h.serveRPC(c, "", true) })
	for _, k := range kinds {
		prefix := prefixOf(k)
		mark := func(c *fiber.Ctx) error { c.Locals(localsKind, k); return c.Next() }
		app.Get(prefix+"/:agent_id/.well-known/agent-card.json", mark, h.serveAgentCard)
		app.Post(prefix+"/:agent_id", mark, func(c *fiber.Ctx) error { return h.serveRPC(c, c.Params("agent_id"), false) })
		// A client given the JSON-RPC URL (agno's A2AClient) reads the card there.
		app.Get(prefix+"/:agent_id", mark, h.serveAgentCard)
		app.All(prefix+"/:agent_id/*", mark, h.serveREST)
	}
	return h
}

// Close stops push notification delivery (pending notifications are
// lost) and waits for it until ctx ends.
func (h *Handler) Close(ctx context.Context) error { return h.push.close(ctx) }

// declarePolicy declares the table's entries and what the method tables
// really dispatch (auth.Policy.CheckCoverage compares them).
func (h *Handler) declarePolicy() {
	h.policy.Declare(Operations()...)
	h.policy.Served(auth.OpA2AAgentCard)
	for _, k := range kinds {
		for name := range v1Methods {
			h.policy.Served(opFor(name, k))
		}
		for name := range v03Methods {
			h.policy.Served(opFor(name, k))
		}
	}
}

// principal is the request's principal; without one (the adapter used
// without the transport's middleware) nothing is restricted.
func principal(ctx context.Context) *auth.Principal {
	if p, ok := auth.FromContext(ctx); ok {
		return p
	}
	return &auth.Principal{Kind: auth.KindAnonymous, Admin: true}
}

// authorize asks the policy about opID on the agent.
func (h *Handler) authorize(ctx context.Context, opID, agentID string) *Error {
	err := h.policy.Authorize(ctx, opID, agentID)
	if err == nil {
		return nil
	}
	switch core.CodeOf(err) {
	case core.CodeUnauthorized:
		httptransport.AuthRejected(ctx, httptransport.AuthReason(err))
		msg := core.MessageOf(err)
		if ae := httptransport.AuthError(ctx); ae != nil {
			msg = core.MessageOf(ae)
		}
		return &Error{Kind: KindUnauthenticated, Message: msg}
	case core.CodeForbidden:
		msg := "insufficient permissions"
		if op, ok := h.policy.Lookup(opID); ok && op.Resource != "" {
			msg += ": this needs the scope " + op.Scope(agentID).String()
		}
		return &Error{Kind: KindForbidden, Message: msg}
	}
	return toError(err)
}

// call is one A2A request being answered.
type call struct {
	c   *fiber.Ctx
	ctx context.Context
	// kind and agentID are the runnable the endpoint serves (an agent, a
	// team or a workflow).
	kind    core.Kind
	agentID string
	ver     Version
	rest    bool            // the HTTP+JSON binding (else JSON-RPC)
	id      json.RawMessage // the JSON-RPC id
}

// reply answers with a result (a JSON value).
func (h *Handler) reply(cl *call, result []byte) error {
	if cl.rest {
		cl.c.Set(fiber.HeaderContentType, "application/a2a+json")
		return cl.c.Status(http.StatusOK).Send(result)
	}
	cl.c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return cl.c.Status(http.StatusOK).Send(encodeResult(cl.id, result))
}

// fail answers with an error in the binding's and generation's shape.
func (h *Handler) fail(cl *call, e *Error) error {
	if e.Kind == KindInternal {
		e = &Error{Kind: KindInternal, Message: "internal error"}
	}
	c := cl.c
	s := e.spec()
	switch e.Kind {
	case KindUnauthenticated:
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="agentgate"`)
	case KindForbidden:
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="agentgate", error="insufficient_scope"`)
	}
	if cl.rest {
		c.Set(fiber.HeaderContentType, "application/a2a+json")
		return c.Status(s.status).Send(marshal(e.rest()))
	}
	status := http.StatusOK
	if e.transportLevel() {
		status = s.status
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(status).Send(encodeRPCError(cl.ver, cl.id, e))
}

// versionOf reads the A2A-Version service parameter (header or query).
func versionOf(c *fiber.Ctx) string {
	if v := c.Get("A2A-Version"); v != "" {
		return v
	}
	return c.Query("A2A-Version")
}

// serveRPC answers a JSON-RPC request on an agent's endpoint, or on the
// gateway endpoint (gateway: the agent is params.tenant).
func (h *Handler) serveRPC(c *fiber.Ctx, agentID string, gateway bool) error {
	hdrVer, given, verErr := parseVersionHeader(versionOf(c))
	cl := &call{c: c, ctx: c.UserContext(), kind: routeKind(c), agentID: agentID, ver: hdrVer, id: nullID}
	if verErr != nil {
		cl.ver = V1
	}
	req, id, derr := DecodeRequest(c.Body())
	cl.id = id
	if derr != nil {
		return h.fail(cl, derr)
	}
	op, ver, ok := lookupMethod(req.Method)
	if !ok {
		return h.fail(cl, errf(KindMethodNotFound, "method %q not found", req.Method))
	}
	cl.ver = ver
	if gateway {
		var t struct {
			Tenant string `json:"tenant"`
		}
		_ = json.Unmarshal(req.Params, &t)
		if t.Tenant == "" {
			return h.fail(cl, errf(KindInvalidParams, "the gateway endpoint serves several agents: set params.tenant to the agent's id (see the gateway card), or use the agent's own endpoint /a2a/agents/{id}"))
		}
		cl.agentID = t.Tenant
	}
	if e := h.authorize(cl.ctx, opFor(req.Method, cl.kind), cl.agentID); e != nil {
		return h.fail(cl, e)
	}
	if verErr != nil {
		return h.fail(cl, verErr)
	}
	if given && hdrVer != ver {
		return h.fail(cl, errf(KindVersionNotSupported, "method %s is A2A %s, but the request says A2A-Version %s", req.Method, ver, hdrVer))
	}
	params, perr := decodeParams(ver, op, req.Params)
	if perr != nil {
		return h.fail(cl, perr)
	}
	if t := tenantOf(params); !gateway && t != "" && t != cl.agentID {
		return h.fail(cl, errf(KindInvalidParams, "tenant %q does not match this endpoint's %s %q", t, cl.kind, cl.agentID))
	}
	if e := h.served(cl); e != nil {
		return h.fail(cl, e)
	}
	return h.do(cl, op, params)
}

// served fails when the endpoint's runnable is not registered.
func (h *Handler) served(cl *call) *Error {
	if _, err := h.eng.Runnable(cl.kind, cl.agentID); err != nil {
		return errf(KindAgentNotFound, "%s %q not found", cl.kind.OrAgent(), cl.agentID)
	}
	return nil
}

// ref is the runnable the call's endpoint serves.
func (cl *call) ref() core.Ref { return core.Ref{Kind: cl.kind.OrAgent(), ID: cl.agentID} }

func tenantOf(params any) string {
	switch p := params.(type) {
	case *sendParams:
		return p.Tenant
	case *taskParams:
		return p.Tenant
	case *listParams:
		return p.Tenant
	case *pushParams:
		return p.Tenant
	}
	return ""
}

// do runs an operation.
func (h *Handler) do(cl *call, op operation, params any) error {
	switch op {
	case opSend, opStream:
		return h.send(cl, params.(*sendParams), op == opStream)
	case opGet:
		return h.getTask(cl, params.(*taskParams))
	case opList:
		return h.listTasks(cl, params.(*listParams))
	case opCancel:
		return h.cancelTask(cl, params.(*taskParams))
	case opSubscribe:
		return h.subscribe(cl, params.(*taskParams))
	case opPushSet, opPushGet, opPushList, opPushDelete:
		return h.pushConfig(cl, op, params.(*pushParams))
	case opExtendedCard:
		return h.fail(cl, errf(KindExtendedCardNotConfigured, "this agent has no extended card: its public card is complete"))
	}
	return h.fail(cl, errf(KindMethodNotFound, "unknown operation"))
}

// taskOf returns the run behind a task id if the caller may see it on this
// endpoint's runnable (anything else is not found: never reveal other
// users' tasks).
func (h *Handler) taskOf(ctx context.Context, ref core.Ref, taskID string) (*core.Run, *Error) {
	run, err := principal(ctx).Owned(h.eng).Run(ctx, taskID)
	if err != nil {
		if core.CodeOf(err) == core.CodeNotFound {
			return nil, errf(KindTaskNotFound, "task %q not found", taskID)
		}
		return nil, toError(err)
	}
	if run.Ref() != ref {
		return nil, errf(KindTaskNotFound, "task %q not found", taskID)
	}
	return run, nil
}

// send answers SendMessage and SendStreamingMessage: a message without
// taskId starts a run; one on a paused task continues it.
func (h *Handler) send(cl *call, p *sendParams, streaming bool) error {
	ctx := cl.ctx
	if e := checkMessage(p); e != nil {
		return h.fail(cl, e)
	}
	if p.Push != nil {
		if h.cfg.Push.Disabled {
			return h.fail(cl, errf(KindPushNotSupported, "push notifications are turned off on this gateway"))
		}
		if e := h.push.validatePushURL(ctx, p.Push.URL); e != nil {
			return h.fail(cl, e)
		}
	}
	m := &p.Message
	var run *core.Run
	after := int64(-1)
	if m.TaskID != "" {
		cur, e := h.taskOf(ctx, cl.ref(), m.TaskID)
		if e != nil {
			return h.fail(cl, e)
		}
		if m.ContextID != "" && m.ContextID != cur.SessionID {
			return h.fail(cl, errf(KindInvalidParams, "contextId %q is not the context of task %q (%s)", m.ContextID, cur.RunID, cur.SessionID))
		}
		switch {
		case cur.Status.Final():
			return h.fail(cl, errf(KindUnsupportedOperation, "task %s is %s (a terminal state): send a new message without taskId, with contextId %s to go on in the same conversation",
				cur.RunID, StateOf(cur.Status).Name(cl.ver), cur.SessionID))
		case cur.Status != core.RunPaused:
			return h.fail(cl, errf(KindUnsupportedOperation, "task %s is still %s: wait until it needs input, or cancel it",
				cur.RunID, StateOf(cur.Status).Name(cl.ver)))
		}
		decisions, e := decisionsFor(m, pendingTools(cur))
		if e != nil {
			return h.fail(cl, e)
		}
		var err error
		if run, after, err = h.eng.Continue(ctx, auth.Continuing(ctx, core.ContinueParams{RunID: cur.RunID, Tools: decisions,
			Interface: "a2a", TraceCarrier: traceCarrier(cl.c)})); err != nil {
			return h.fail(cl, toError(err))
		}
		h.push.kick(run.RunID)
	} else {
		text := m.inputText()
		if text == "" {
			return h.fail(cl, errf(KindInvalidParams, "the message has no text"))
		}
		owned := principal(ctx).Owned(h.eng)
		// Under user isolation another user's conversation is not found.
		if err := owned.UsableSession(ctx, m.ContextID); err != nil {
			return h.fail(cl, errf(KindInvalidParams, "contextId %q not found", m.ContextID))
		}
		// The messageId is A2A's own idempotency field: a message sent
		// again (its answer lost to a dropped connection) gets the task the
		// first one started, on any replica.
		if len(m.Files) > 0 && h.cfg.Media == nil {
			return h.fail(cl, errf(KindContentTypeNotSupported, "file parts are not accepted: this gateway keeps no media"))
		}
		// The upload keeps its files' bytes until the run has recorded
		// them (Start returns after that, also for a streamed task): if a
		// deleted session's orphan delete removes the same bytes in
		// between, the run stores them again. A refused run's media are
		// deleted again unless a session carries them.
		up := h.cfg.Media.NewUpload().Restorable()
		started := false
		defer func() { up.End(ctx, h.eng, started) }()
		refs, err := up.Resolve(ctx, m.Files)
		if err != nil {
			return h.fail(cl, errf(KindInvalidParams, "%s", core.MessageOf(err)))
		}
		sp := core.StartParams{Message: text, SessionID: m.ContextID, Media: refs, MediaSource: up,
			UserID: owned.UserID(""), IdempotencyKey: idempotencyKey(m.MessageID), IdempotencyScope: principal(ctx).Owner(),
			Interface: "a2a", TraceCarrier: traceCarrier(cl.c),
		}.For(core.Ref{Kind: cl.kind, ID: cl.agentID})
		run, err = h.eng.Start(ctx, sp)
		if err != nil {
			return h.fail(cl, toError(err))
		}
		started = true
		up.Close() // recorded: a streamed or blocking answer keeps no spool
	}
	if p.Push != nil {
		pc := *p.Push
		pc.TaskID = run.RunID
		if _, err := h.push.set(pc, false, h.baseURL(cl.c)); err != nil {
			h.logger.Warn("a2a: push notification config of a new message refused", "task_id", run.RunID, "err", err)
		}
	}
	view := TaskView{HistoryLength: p.HistoryLength}
	if streaming {
		s, err := h.eng.Subscribe(ctx, run.RunID, after)
		if err != nil {
			return h.fail(cl, toError(err))
		}
		first := StreamItem{Task: h.task(cl, run, view)}
		if cl.ver == V03 {
			// A v0.3 stream opens with the task's status, not the task:
			// agno's A2A client takes a task frame for the stream's end.
			first = StreamItem{Status: &StatusUpdate{TaskID: run.RunID, ContextID: run.SessionID, Status: first.Task.Status}}
		}
		return h.stream(cl, []StreamItem{first}, s, &Renderer{}, run.RunID)
	}
	if p.Blocking {
		done, err := h.eng.Wait(ctx, run.RunID, after)
		if err != nil {
			return h.fail(cl, toError(err))
		}
		run = done
	}
	return h.reply(cl, encodeSendResult(cl.ver, h.task(cl, run, view)))
}

func (h *Handler) getTask(cl *call, p *taskParams) error {
	run, e := h.taskOf(cl.ctx, cl.ref(), p.ID)
	if e != nil {
		return h.fail(cl, e)
	}
	return h.reply(cl, EncodeTask(cl.ver, h.task(cl, run, TaskView{HistoryLength: p.HistoryLength})))
}

// listTasks answers ListTasks: the agent's tasks the caller may see,
// newest first, a page at a time (history left out unless asked for,
// artifacts unless includeArtifacts).
func (h *Handler) listTasks(cl *call, p *listParams) error {
	pr := principal(cl.ctx)
	lp := core.ListRunsParams{SessionID: p.ContextID}.For(core.Ref{Kind: cl.kind, ID: cl.agentID})
	if p.Status != StateUnspecified {
		if lp.Status = runStatusOf(p.Status); lp.Status == "" {
			return h.replyList(cl, nil, "", p.PageSize, 0) // a state runs never have
		}
	}
	lp.UserID = pr.Owned(h.eng).UserID("")
	offset, e := parsePageToken(p.PageToken)
	if e != nil {
		return h.fail(cl, e)
	}
	runs, err := h.eng.List(cl.ctx, lp)
	if err != nil {
		return h.fail(cl, toError(err))
	}
	var matched []*core.Run
	for i := len(runs) - 1; i >= 0; i-- { // newest first
		// A workflow's member runs carry its id too: only its own runs
		// are its tasks.
		if (p.StatusAfter == 0 || runs[i].UpdatedAt >= p.StatusAfter) && runs[i].Ref() == cl.ref() {
			matched = append(matched, runs[i])
		}
	}
	sort.SliceStable(matched, func(i, j int) bool { return matched[i].UpdatedAt > matched[j].UpdatedAt })
	total := len(matched)
	page := matched[min(offset, total):min(offset+p.PageSize, total)]
	next := ""
	if offset+p.PageSize < total {
		next = pageToken(offset + p.PageSize)
	}
	tasks := make([]json.RawMessage, 0, len(page))
	for _, r := range page {
		tasks = append(tasks, EncodeTask(cl.ver, h.task(cl, r, TaskView{HistoryLength: p.HistoryLength, NoArtifacts: !p.IncludeArtifacts})))
	}
	return h.replyList(cl, tasks, next, p.PageSize, total)
}

func (h *Handler) replyList(cl *call, tasks []json.RawMessage, next string, size, total int) error {
	if tasks == nil {
		tasks = []json.RawMessage{}
	}
	return h.reply(cl, marshal(struct {
		Tasks         []json.RawMessage `json:"tasks"`
		NextPageToken string            `json:"nextPageToken"`
		PageSize      int               `json:"pageSize"`
		TotalSize     int               `json:"totalSize"`
	}{tasks, next, size, total}))
}

// cancelTask answers CancelTask: a terminal task is not cancelable; an
// active one is cancelled (from any replica) and the answer waits, for up
// to CancelWait, until the run recorded it.
func (h *Handler) cancelTask(cl *call, p *taskParams) error {
	ctx := cl.ctx
	run, e := h.taskOf(ctx, cl.ref(), p.ID)
	if e != nil {
		return h.fail(cl, e)
	}
	if run.Status.Final() {
		return h.fail(cl, errf(KindTaskNotCancelable, "task %s is already %s", run.RunID, StateOf(run.Status).Name(cl.ver)))
	}
	run, err := h.eng.Cancel(ctx, run.RunID)
	if err != nil {
		return h.fail(cl, toError(err))
	}
	if !run.Status.Final() {
		wctx, cancel := context.WithTimeout(ctx, h.cfg.CancelWait)
		if done, err := h.eng.Wait(wctx, run.RunID, -1); err == nil {
			run = done
		}
		cancel()
	}
	return h.reply(cl, EncodeTask(cl.ver, h.task(cl, run, TaskView{HistoryLength: p.HistoryLength})))
}

// subscribe answers SubscribeToTask (v0.3 tasks/resubscribe): the current
// task first, then the run's events from the event log — replayed from the
// start, then live — until the task ends or needs input. A task waiting
// for input gets its snapshot and the input-required update.
func (h *Handler) subscribe(cl *call, p *taskParams) error {
	ctx := cl.ctx
	run, e := h.taskOf(ctx, cl.ref(), p.ID)
	if e != nil {
		return h.fail(cl, e)
	}
	if run.Status.Final() {
		return h.fail(cl, errf(KindUnsupportedOperation, "task %s is already %s: there is nothing to subscribe to (GetTask returns it)",
			run.RunID, StateOf(run.Status).Name(cl.ver)))
	}
	first := []StreamItem{{Task: h.task(cl, run, TaskView{HistoryLength: p.HistoryLength})}}
	if run.Status == core.RunPaused {
		return h.stream(cl, append(first, finalStatus(run)), nil, &Renderer{ended: true}, run.RunID)
	}
	r := &Renderer{}
	s, err := h.eng.Subscribe(ctx, run.RunID, -1)
	var ge *core.GoneError
	if errors.As(err, &ge) {
		// The log no longer holds the start: follow from what it holds.
		r = Resumed()
		s, err = h.eng.Subscribe(ctx, run.RunID, ge.FirstIndex-1)
	}
	if err != nil {
		return h.fail(cl, toError(err))
	}
	return h.stream(cl, first, s, r, run.RunID)
}

// pushConfig answers the push notification config methods.
func (h *Handler) pushConfig(cl *call, op operation, p *pushParams) error {
	if h.cfg.Push.Disabled {
		return h.fail(cl, errf(KindPushNotSupported, "push notifications are turned off on this gateway"))
	}
	run, e := h.taskOf(cl.ctx, cl.ref(), p.TaskID)
	if e != nil {
		return h.fail(cl, e)
	}
	encode := func(c PushConfig) []byte {
		if cl.ver == V1 {
			return marshal(c.v1())
		}
		return marshal(c.v03())
	}
	switch op {
	case opPushSet:
		if e := h.push.validatePushURL(cl.ctx, p.Config.URL); e != nil {
			return h.fail(cl, e)
		}
		p.Config.TaskID = run.RunID
		stored, err := h.push.set(p.Config, run.Status.Final(), h.baseURL(cl.c))
		if err != nil {
			return h.fail(cl, errf(KindInvalidParams, "%v (at most %d per task)", err, h.push.opt.MaxConfigsPerTask))
		}
		return h.reply(cl, encode(stored))
	case opPushGet:
		c, ok := h.push.get(run.RunID, p.ConfigID)
		if !ok {
			return h.fail(cl, errf(KindConfigNotFound, "push notification config %q not found for task %s", p.ConfigID, run.RunID))
		}
		return h.reply(cl, encode(c))
	case opPushList:
		cfgs := h.push.list(run.RunID)
		items := make([]json.RawMessage, 0, len(cfgs))
		for _, c := range cfgs {
			items = append(items, encode(c))
		}
		if cl.ver == V1 {
			return h.reply(cl, marshal(struct {
				Configs       []json.RawMessage `json:"configs"`
				NextPageToken string            `json:"nextPageToken"`
			}{items, ""}))
		}
		return h.reply(cl, marshal(items))
	default: // opPushDelete
		if !h.push.remove(run.RunID, p.ConfigID) {
			return h.fail(cl, errf(KindConfigNotFound, "push notification config %q not found for task %s", p.ConfigID, run.RunID))
		}
		if cl.ver == V1 {
			return h.reply(cl, []byte(`{}`))
		}
		return h.reply(cl, nullID)
	}
}

// stream answers with an SSE stream: first, then the rendered events of s
// (nil: first is all).
func (h *Handler) stream(cl *call, first []StreamItem, s *core.Stream, r *Renderer, runID string) error {
	src := &itemSource{h: h, base: h.baseURL(cl.c), eng: h.eng, runID: runID, stream: s, r: r, cl: cl, ended: s == nil}
	for _, it := range first {
		src.queue = append(src.queue, src.frame(cl.ctx, it))
	}
	return h.srv.StreamSSE(cl.c, src, nil)
}

// itemSource renders a run's events as SSE frames of one binding.
type itemSource struct {
	h      *Handler
	base   string // the gateway's URL, for media routes
	eng    *core.Engine
	runID  string
	stream *core.Stream
	r      *Renderer
	cl     *call
	queue  [][]byte
	ended  bool
}

func (s *itemSource) frame(ctx context.Context, it StreamItem) []byte {
	it = s.h.itemMedia(ctx, s.base, it)
	if s.cl.rest {
		return sseData(EncodeItem(V1, it))
	}
	return sseData(encodeResult(s.cl.id, EncodeItem(s.cl.ver, it)))
}

func (s *itemSource) errFrame(e *Error) []byte {
	if e.Kind == KindInternal {
		e = &Error{Kind: KindInternal, Message: "internal error"}
	}
	if s.cl.rest {
		return sseError(e)
	}
	return sseData(encodeRPCError(s.cl.ver, s.cl.id, e))
}

// NextWithin implements httptransport.Source: one event of the stream can
// render as several frames, queued and handed out one per call.
func (s *itemSource) NextWithin(ctx context.Context, d time.Duration) (httptransport.Frame, error) {
	for len(s.queue) == 0 {
		if s.ended {
			return nil, io.EOF
		}
		ev, ok, err := s.stream.NextWithin(ctx, d)
		switch {
		case err == nil && !ok:
			return nil, nil // nothing within d
		case errors.Is(err, io.EOF):
			s.ended = true
			if !s.r.Ended() {
				// The stream ended without its last event (it never reached
				// the log): end with the stored state.
				if run, gerr := s.eng.Get(ctx, s.runID); gerr == nil {
					s.queue = append(s.queue, s.frame(ctx, finalStatus(run)))
				}
			}
		case err != nil:
			if ctx.Err() != nil {
				return nil, err
			}
			s.ended = true
			s.queue = append(s.queue, s.errFrame(toError(err)))
		default:
			for _, it := range s.r.Render(&ev) {
				s.queue = append(s.queue, s.frame(ctx, it))
			}
		}
	}
	f := s.queue[0]
	s.queue = s.queue[1:]
	return f, nil
}

func (s *itemSource) Close() {
	if s.stream != nil {
		_ = s.stream.Close()
	}
}

// baseURL is where clients reach the gateway.
func (h *Handler) baseURL(c *fiber.Ctx) string {
	if h.cfg.PublicURL != "" {
		return h.cfg.PublicURL
	}
	return c.BaseURL()
}

func (h *Handler) serveAgentCard(c *fiber.Ctx) error {
	agentID := c.Params("agent_id")
	cl := &call{c: c, ctx: c.UserContext(), kind: routeKind(c), agentID: agentID, ver: V1, rest: true}
	if e := h.authorize(cl.ctx, auth.OpA2AAgentCard, agentID); e != nil {
		return h.fail(cl, e)
	}
	a, err := h.eng.Runnable(cl.kind, agentID)
	if err != nil {
		return h.fail(cl, errf(KindAgentNotFound, "%s %q not found", cl.kind.OrAgent(), agentID))
	}
	return h.sendCard(c, h.agentCard(h.baseURL(c), a.Info()))
}

func (h *Handler) serveGatewayCard(c *fiber.Ctx) error {
	cl := &call{c: c, ctx: c.UserContext(), ver: V1, rest: true}
	if e := h.authorize(cl.ctx, auth.OpA2AAgentCard, ""); e != nil {
		return h.fail(cl, e)
	}
	return h.sendCard(c, h.gatewayCard(h.baseURL(c), h.eng.Agents()))
}

// sendCard answers with a card, its ETag and Cache-Control (304 when the
// client's copy is current).
func (h *Handler) sendCard(c *fiber.Ctx, card agentCard) error {
	body := marshal(card)
	tag := etag(body)
	c.Set(fiber.HeaderETag, tag)
	c.Set(fiber.HeaderCacheControl, fmt.Sprintf("public, max-age=%d", int(h.cfg.CardMaxAge.Seconds())))
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagMatches(inm, tag) {
		return c.SendStatus(http.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(http.StatusOK).Send(body)
}

// traceCarrier is the caller's W3C trace context among c's headers.
func traceCarrier(c *fiber.Ctx) map[string]string {
	if c == nil {
		return nil
	}
	return core.TraceCarrierOf(func(k string) string { return c.Get(k) })
}
