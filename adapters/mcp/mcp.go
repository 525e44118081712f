// Package mcp is the Model Context Protocol adapter: it serves the
// gateway's agents as MCP tools (mark3labs/mcp-go) over Streamable HTTP at
// /mcp — both protocol eras, 2026-07-28 (stateless) and 2025-11-25
// (sessions), on one endpoint — and over stdio. It maps tool calls onto
// Engine calls and renders a run's event stream as progress notifications
// and a tool result; it holds no run logic of its own. Every tool call and
// protocol method asks auth's policy (never decides), and honours user
// isolation like the REST adapter.
package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// Config configures the adapter.
type Config struct {
	// Name, Description and Version describe the gateway (serverInfo and
	// get_config). Name defaults to "agentgate".
	Name, Description, Version string
	// Policy is the auth policy every call asks (default: a new one); New
	// declares Operations in it.
	Policy *auth.Policy
	// Settings are the operator's settings (the mcp: block of the config
	// file): per-agent tools (on unless AgentTools is false), the allowed
	// origins and hosts.
	Settings
	// Heartbeat is the interval of the SSE comments that keep a tool call's
	// response alive while its run is silent, and reveal a client that left
	// (default 15s).
	Heartbeat time.Duration
	// Logger receives the adapter's logs (default slog.Default()).
	Logger *slog.Logger
	// Recheck, when set, is asked before every request whether the
	// caller's principal still holds (auth.Authenticator.Recheck): for
	// stdio, whose token is authenticated once at start. Over HTTP every
	// request is authenticated anew and it is not needed.
	Recheck func(context.Context, *auth.Principal) error
	// Media opens the media a run produced, given back in its tool
	// result as image, audio and embedded-resource content (nil: none).
	Media core.MediaOpener
}

// Server is the MCP adapter: the mcp-go server with the gateway's tools,
// its Streamable HTTP handler, and the stdio server.
type Server struct {
	eng    *core.Engine
	cfg    Config
	policy *auth.Policy
	log    *slog.Logger
	mcp    *server.MCPServer
	http   *server.StreamableHTTPServer

	// mu guards asks and skipped: the per-agent tools added so far.
	mu      sync.Mutex
	asks    map[string]core.Ref // tool name → agent (team, workflow)
	skipped map[core.Ref]bool   // runnables whose tool name collided
}

const instructions = "agentgate runs AI agents. get_config lists the agents; run_agent (or ask_<agent>) runs one on a message " +
	"and returns its answer, streaming it as progress notifications when the call has a progressToken. " +
	"A PAUSED result waits for a decision on tool calls: call continue_run with the arguments it gives, " +
	"adding confirmed true or false to each tool. get_sessions and get_session_runs read earlier conversations."

// New builds the adapter over eng.
func New(eng *core.Engine, cfg Config) *Server {
	if cfg.Name == "" {
		cfg.Name = "agentgate"
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Policy == nil {
		cfg.Policy = auth.NewPolicy()
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{eng: eng, cfg: cfg, policy: cfg.Policy, log: cfg.Logger,
		asks: map[string]core.Ref{}, skipped: map[core.Ref]bool{}}
	hooks := &server.Hooks{}
	hooks.AddOnRequestInitialization(s.admit)
	hooks.AddBeforeListTools(func(context.Context, any, *mcpgo.ListToolsRequest) { s.syncAgentTools(); s.syncRunnableTools() })
	hooks.AddBeforeCallTool(func(context.Context, any, *mcpgo.CallToolRequest) { s.syncAgentTools(); s.syncRunnableTools() })
	hooks.AddAfterListTools(s.hideAskTools)
	s.mcp = server.NewMCPServer(cfg.Name, cfg.Version,
		server.WithToolCapabilities(true),
		server.WithRecovery(),
		server.WithHooks(hooks),
		server.WithInstructions(instructions),
	)
	for _, op := range Operations() {
		if !isAskOp(op.ID) || cfg.AgentToolsOn() {
			s.policy.Declare(op)
		}
	}
	for _, m := range gatedMethods {
		s.policy.Served("mcp:" + m)
	}
	for _, t := range builtinTools() {
		s.mcp.AddTool(t, s.call)
		s.policy.Served("mcp:" + t.Name)
	}
	s.policy.Served(kindOps...)
	s.policy.Served("mcp:"+ToolRunTeam, "mcp:"+ToolRunWorkflow)
	if cfg.AgentToolsOn() {
		s.policy.Served(auth.OpMCPAskAgent, askOp(core.KindTeam), askOp(core.KindWorkflow))
	}
	s.syncAgentTools()
	s.syncRunnableTools()
	s.http = server.NewStreamableHTTPServer(s.mcp,
		// The DNS-rebinding guard runs in our fiber handler (checkHost):
		// mcp-go's needs the net/http local address, which the fiber
		// adaptor does not provide.
		server.WithDisableLocalhostProtection(true),
		server.WithHeartbeatInterval(cfg.Heartbeat),
		server.WithStreamableHTTPLogger(cfg.Logger),
	)
	return s
}

// MCPServer returns the mcp-go server (to serve it over another transport,
// or to add tools).
func (s *Server) MCPServer() *server.MCPServer { return s.mcp }

// syncAgentTools adds the ask_<agent> tool of every agent registered since
// the last call (agents registered from Go after the gateway was built
// get theirs on the next tools/list or tools/call).
func (s *Server) syncAgentTools() {
	if !s.cfg.AgentToolsOn() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var add []server.ServerTool
	for _, k := range []core.Kind{core.KindAgent, core.KindTeam, core.KindWorkflow} {
		for _, a := range s.eng.Runnables(k) {
			info := a.Info()
			ref := core.Ref{Kind: k, ID: info.ID}
			name := askName(ref)
			if got, ok := s.asks[name]; (ok && got == ref) || s.skipped[ref] {
				continue
			}
			if _, taken := s.asks[name]; taken || s.mcp.GetTool(name) != nil {
				s.skipped[ref] = true
				s.log.Warn("mcp: no ask tool for a runnable: its tool name is taken", string(k)+"_id", info.ID, "tool", name)
				continue
			}
			s.asks[name] = ref
			add = append(add, server.ServerTool{Tool: askTool(name, info.Name, info.Description), Handler: s.call})
		}
	}
	if len(add) > 0 {
		s.mcp.AddTools(add...)
	}
}

// syncRunnableTools adds run_team (run_workflow) once the engine has a
// team (a workflow).
func (s *Server) syncRunnableTools() {
	for k, t := range runnableTools() {
		if s.mcp.GetTool(t.Name) == nil && len(s.eng.Runnables(k)) > 0 {
			s.mcp.AddTool(t, s.call)
		}
	}
}

// askAgent returns the runnable of a per-runnable tool.
func (s *Server) askAgent(tool string) (core.Ref, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref, ok := s.asks[tool]
	return ref, ok
}

// askName is the ask tool of a runnable: ask_<agent>, ask_team_<team>,
// ask_workflow_<workflow> (see AskToolName).
func askName(ref core.Ref) string {
	if ref.Kind.OrAgent() == core.KindAgent {
		return AskToolName(ref.ID)
	}
	return AskToolName(string(ref.Kind) + "_" + ref.ID)
}

// askOp is the operation of the ask tools of a kind.
func askOp(k core.Kind) string {
	if k.OrAgent() == core.KindAgent {
		return auth.OpMCPAskAgent
	}
	return "mcp:ask_" + string(k) + "_{" + string(k) + "_id}"
}

func isAskOp(id string) bool {
	return id == askOp(core.KindAgent) || id == askOp(core.KindTeam) || id == askOp(core.KindWorkflow)
}

// hideAskTools drops from tools/list the per-agent tools the caller may not
// run (REST lists only visible agents the same way).
func (s *Server) hideAskTools(ctx context.Context, _ any, _ *mcpgo.ListToolsRequest, result *mcpgo.ListToolsResult) {
	if result == nil {
		return
	}
	p, _ := auth.FromContext(ctx)
	kept := make([]mcpgo.Tool, 0, len(result.Tools))
	for _, t := range result.Tools {
		if ref, ok := s.askAgent(t.Name); ok && !p.Allows(auth.ResourceOf(ref.Kind), ref.ID, auth.ActionRun) {
			continue
		}
		kept = append(kept, t)
	}
	result.Tools = kept
}

// Authorization ------------------------------------------------------------

// denial is a refusal by the policy, with the scope that was missing.
type denial struct {
	err   error
	scope string
}

func (d *denial) Error() string { return d.err.Error() }
func (d *denial) Unwrap() error { return d.err }

// authorize asks the policy; a refused token's own error explains a 401.
func (s *Server) authorize(ctx context.Context, opID, resID string) error {
	err := s.policy.Authorize(ctx, opID, resID)
	if err == nil {
		return nil
	}
	if httptransport.IsUnauthorized(err) {
		if ae := httptransport.AuthError(ctx); ae != nil {
			err = ae
		}
	}
	d := &denial{err: err}
	if op, ok := s.policy.Lookup(opID); ok && op.Resource != "" {
		d.scope = op.Scope(resID).String()
	}
	return d
}

// isDenial reports whether err is an authentication or authorization
// refusal (401 or 403).
func isDenial(err error) bool {
	switch core.CodeOf(err) {
	case core.CodeUnauthorized, core.CodeForbidden:
		return true
	}
	return false
}

// owned is the caller's view of owner-bound records (user isolation).
func (s *Server) owned(ctx context.Context) auth.Owned {
	p, _ := auth.FromContext(ctx)
	return p.Owned(s.eng)
}

// gatedMethods are the protocol methods with their own policy entry (see
// methodOp for the others).
var gatedMethods = []string{"initialize", "notifications/initialized", "ping", "tools/list"}

// Operations are the policy entries of the MCP server: protocol methods
// need a caller; tools need their REST twin's scope.
func Operations() []auth.Operation {
	const agentID, sessionID = "agent_id", "session_id"
	return []auth.Operation{
		auth.Authenticated("mcp:initialize"),
		auth.Authenticated("mcp:notifications/initialized"),
		auth.Authenticated("mcp:ping"),
		auth.Authenticated("mcp:tools/list"),
		auth.Scoped("mcp:"+ToolGetConfig, auth.ResourceConfig, auth.ActionRead, ""),
		auth.Scoped("mcp:"+ToolRunAgent, auth.ResourceAgents, auth.ActionRun, agentID),
		auth.Scoped("mcp:"+ToolContinueRun, auth.ResourceAgents, auth.ActionRun, agentID),
		auth.Scoped("mcp:"+ToolCancelRun, auth.ResourceAgents, auth.ActionRun, agentID),
		auth.Listed("mcp:"+ToolGetSessions, auth.ResourceSessions, auth.ActionRead),
		auth.Scoped("mcp:"+ToolGetSessionRuns, auth.ResourceSessions, auth.ActionRead, sessionID),
		auth.Scoped(auth.OpMCPAskAgent, auth.ResourceAgents, auth.ActionRun, agentID),
		auth.Scoped(askOp(core.KindTeam), auth.ResourceTeams, auth.ActionRun, teamID),
		auth.Scoped(askOp(core.KindWorkflow), auth.ResourceWorkflows, auth.ActionRun, workflowID),
		auth.Scoped("mcp:"+ToolRunTeam, auth.ResourceTeams, auth.ActionRun, teamID),
		auth.Scoped("mcp:"+ToolRunWorkflow, auth.ResourceWorkflows, auth.ActionRun, workflowID),
		auth.Scoped(runOp(ToolContinueRun, core.KindTeam), auth.ResourceTeams, auth.ActionRun, teamID),
		auth.Scoped(runOp(ToolContinueRun, core.KindWorkflow), auth.ResourceWorkflows, auth.ActionRun, workflowID),
		auth.Scoped(runOp(ToolCancelRun, core.KindTeam), auth.ResourceTeams, auth.ActionRun, teamID),
		auth.Scoped(runOp(ToolCancelRun, core.KindWorkflow), auth.ResourceWorkflows, auth.ActionRun, workflowID),
	}
}

const teamID, workflowID = "team_id", "workflow_id"

// runOp is the operation of continue_run or cancel_run on a run of kind
// k: "mcp:continue_run" on an agent's run (agents:<id>:run),
// "mcp:continue_run:team" on a team's (teams:<id>:run),
// "mcp:continue_run:workflow" on a workflow's (workflows:<id>:run).
func runOp(tool string, k core.Kind) string {
	if k.OrAgent() == core.KindAgent {
		return "mcp:" + tool
	}
	return "mcp:" + tool + ":" + string(k)
}

// kindOps are the operations served besides one per tool.
var kindOps = []string{runOp(ToolContinueRun, core.KindTeam), runOp(ToolContinueRun, core.KindWorkflow),
	runOp(ToolCancelRun, core.KindTeam), runOp(ToolCancelRun, core.KindWorkflow)}

// methodOp is the operation of a protocol method: "mcp:<method>" when the
// policy has it, else "mcp:initialize" — admission to an MCP conversation,
// which covers the plumbing the table does not list (server/discover,
// notifications/cancelled, tools/call before its tool's own check, GET and
// DELETE on the endpoint).
func (s *Server) methodOp(method string) string {
	if method != "" {
		if _, ok := s.policy.Lookup("mcp:" + method); ok {
			return "mcp:" + method
		}
	}
	return "mcp:initialize"
}

// admit asks the policy about every request's method, whatever the
// transport (mcp-go answers a refusal with a JSON-RPC error).
func (s *Server) admit(ctx context.Context, _ any, message any) error {
	var m struct {
		Method string `json:"method"`
	}
	if raw, ok := message.(json.RawMessage); ok {
		_ = json.Unmarshal(raw, &m)
	}
	if s.cfg.Recheck != nil {
		if p, ok := auth.FromContext(ctx); ok {
			if err := s.cfg.Recheck(ctx, p); err != nil {
				return &denial{err: err}
			}
		}
	}
	return s.authorize(ctx, s.methodOp(m.Method), "")
}

// authorizeCall asks the policy whether the caller may make this tool
// call. For continue_run and cancel_run it also resolves the run, which
// must belong to the given agent and session (when given) and be visible to
// the caller (user isolation): otherwise it is not found.
func (s *Server) authorizeCall(ctx context.Context, tool string, args any) (*core.Run, error) {
	switch a := args.(type) {
	case *RunArgs:
		return nil, s.authorize(ctx, "mcp:"+ToolRunAgent, a.AgentID)
	case *RunTeamArgs:
		return nil, s.authorize(ctx, "mcp:"+ToolRunTeam, a.TeamID)
	case *RunWorkflowArgs:
		return nil, s.authorize(ctx, "mcp:"+ToolRunWorkflow, a.WorkflowID)
	case *AskArgs:
		ref, ok := s.askAgent(tool)
		if !ok {
			return nil, core.Errorf(core.CodeNotFound, "unknown tool %q", tool)
		}
		return nil, s.authorize(ctx, askOp(ref.Kind), ref.ID)
	case *ContinueArgs:
		return s.runTarget(ctx, ToolContinueRun, a.RunID, agentRef(a.AgentID), a.SessionID)
	case *CancelArgs:
		return s.runTarget(ctx, ToolCancelRun, a.RunID, agentRef(a.AgentID), a.SessionID)
	case *SessionsArgs:
		return nil, s.authorize(ctx, "mcp:"+ToolGetSessions, "")
	case *SessionRunsArgs:
		return nil, s.authorize(ctx, "mcp:"+ToolGetSessionRuns, a.SessionID)
	case *ConfigArgs:
		return nil, s.authorize(ctx, "mcp:"+ToolGetConfig, "")
	}
	return nil, core.Errorf(core.CodeInternal, "tool %q has no authorization", tool)
}

// agentRef names an agent (none when id is empty).
func agentRef(id string) core.Ref {
	if id == "" {
		return core.Ref{}
	}
	return core.Ref{Kind: core.KindAgent, ID: id}
}

// runTarget resolves the run of a continue_run or cancel_run call: named
// (ref: the runnable the call names, if any) it needs that runnable's scope
// first; the run must be that runnable's, in the session given.
func (s *Server) runTarget(ctx context.Context, tool, runID string, ref core.Ref, sessionID string) (*core.Run, error) {
	if ref.ID != "" {
		if err := s.authorize(ctx, runOp(tool, ref.Kind), ref.ID); err != nil {
			return nil, err
		}
	}
	run, err := s.owned(ctx).Run(ctx, runID)
	if err != nil {
		return nil, err
	}
	if (ref.ID != "" && run.Ref() != ref) || (sessionID != "" && run.SessionID != sessionID) {
		return nil, core.Errorf(core.CodeNotFound, "run %q not found", runID)
	}
	if ref.ID == "" {
		own := run.Ref()
		if err := s.authorize(ctx, runOp(tool, own.Kind), own.ID); err != nil {
			return nil, err
		}
	}
	return run, nil
}

// Tool calls ---------------------------------------------------------------

// call serves every tool.
func (s *Server) call(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	name := req.Params.Name
	args, err := DecodeArgs(name, rawArguments(req))
	if err != nil {
		return s.toolError(err)
	}
	run, err := s.authorizeCall(ctx, name, args)
	if err != nil {
		return s.toolError(err)
	}
	switch a := args.(type) {
	case *RunArgs:
		return s.startRun(ctx, req, core.StartParams{AgentID: a.AgentID, Message: a.Message, SessionID: a.SessionID,
			UserID: a.UserID, IdempotencyKey: a.IdempotencyKey})
	case *RunTeamArgs:
		return s.startRun(ctx, req, core.StartParams{TeamID: a.TeamID, Message: a.Message, SessionID: a.SessionID,
			UserID: a.UserID, IdempotencyKey: a.IdempotencyKey})
	case *RunWorkflowArgs:
		return s.startRun(ctx, req, core.StartParams{WorkflowID: a.WorkflowID, Message: a.Message, SessionID: a.SessionID,
			UserID: a.UserID, IdempotencyKey: a.IdempotencyKey})
	case *AskArgs:
		ref, _ := s.askAgent(name)
		sp := core.StartParams{Message: a.Message, SessionID: a.SessionID, UserID: a.UserID, IdempotencyKey: a.IdempotencyKey}.For(ref)
		return s.startRun(ctx, req, sp)
	case *ContinueArgs:
		return s.continueRun(ctx, req, run, a)
	case *CancelArgs:
		return s.cancelRun(ctx, run)
	case *SessionsArgs:
		return s.getSessions(ctx, a)
	case *SessionRunsArgs:
		return s.getSessionRuns(ctx, a)
	case *ConfigArgs:
		return s.getConfig(ctx)
	}
	return s.toolError(core.Errorf(core.CodeInternal, "tool %q is not served", name))
}

// rawArguments returns a call's arguments as JSON.
func rawArguments(req mcpgo.CallToolRequest) []byte {
	if len(req.Params.RawArguments) > 0 {
		return req.Params.RawArguments
	}
	if req.Params.Arguments == nil {
		return nil
	}
	b, err := json.Marshal(req.Params.Arguments)
	if err != nil {
		return []byte("!") // not JSON: refused by the decoder
	}
	return b
}

// toolError answers a failed call: refusals by the policy are JSON-RPC
// errors (over HTTP the endpoint already answered them with 401/403);
// everything else is a tool error (isError: true) with a message the
// caller can act on. Internal errors are logged, not described.
func (s *Server) toolError(err error) (*mcpgo.CallToolResult, error) {
	// A continue refused while an approval is pending is no denial of the
	// call: the same call succeeds once an approver resolved it. The tool
	// error names the approval.
	var pending *core.ApprovalPendingError
	if isDenial(err) && !errors.As(err, &pending) {
		return nil, err
	}
	if core.CodeOf(err) == core.CodeInternal {
		s.log.Error("mcp: tool call failed", "err", err)
	}
	return mcpgo.NewToolResultError(core.MessageOf(err)), nil
}

// startRun starts the run sp names (an agent's, a team's or a
// workflow's) for the caller and follows it.
func (s *Server) startRun(ctx context.Context, req mcpgo.CallToolRequest, sp core.StartParams) (*mcpgo.CallToolResult, error) {
	p, _ := auth.FromContext(ctx)
	owned := s.owned(ctx)
	// Under isolation a session of another user is not found.
	if err := owned.UsableSession(ctx, sp.SessionID); err != nil {
		return s.toolError(err)
	}
	sp.UserID, sp.IdempotencyScope = owned.UserID(sp.UserID), p.Owner()
	sp.Interface, sp.TraceCarrier = "mcp", traceCarrier(req)
	run, err := s.eng.Start(ctx, sp)
	if err != nil {
		return s.toolError(err)
	}
	return s.follow(ctx, req, run.RunID, -1)
}

func (s *Server) continueRun(ctx context.Context, req mcpgo.CallToolRequest, run *core.Run, a *ContinueArgs) (*mcpgo.CallToolResult, error) {
	tools := make([]core.ToolExecution, 0, len(a.Tools))
	for _, t := range a.Tools {
		te := core.ToolExecution{ToolCallID: t.ToolCallID, Confirmed: t.Confirmed, ConfirmationNote: t.ConfirmationNote, Result: t.Result}
		for _, name := range slices.Sorted(maps.Keys(t.UserInput)) {
			te.UserInputSchema = append(te.UserInputSchema, core.UserInputField{Name: name, Value: t.UserInput[name]})
		}
		tools = append(tools, te)
	}
	_, pausedAt, err := s.eng.Continue(ctx, auth.Continuing(ctx, core.ContinueParams{RunID: run.RunID, Tools: tools,
		Interface: "mcp", TraceCarrier: traceCarrier(req)}))
	if err != nil {
		return s.toolError(err)
	}
	return s.follow(ctx, req, run.RunID, pausedAt)
}

func (s *Server) cancelRun(ctx context.Context, run *core.Run) (*mcpgo.CallToolResult, error) {
	after, err := s.eng.Cancel(ctx, run.RunID)
	if err != nil {
		return s.toolError(err)
	}
	text := fmt.Sprintf("run %s is %s", after.RunID, after.Status)
	if !after.Status.Final() {
		text = fmt.Sprintf("cancel requested: run %s is %s and ends with CANCELLED", after.RunID, after.Status)
	}
	return mcpgo.NewToolResultStructured(CancelResult{RunID: after.RunID, Status: after.Status}, text), nil
}

// Following a run ------------------------------------------------------------

var (
	// errClientGone cancels a call whose client closed the connection.
	errClientGone = errors.New("mcp: the client closed the connection")
	// errShutdown cuts a long-lived request short at server shutdown.
	errShutdown = errors.New("mcp: server shutting down")
)

// follow streams the run's events after the cursor — content deltas as
// progress notifications — and answers with the event that ends the
// segment. If the call is cancelled (notifications/cancelled, a closed
// stream in the 2026-07-28 era, the stdio client leaving) the run is
// cancelled; a dropped connection in the 2025-11-25 era is not a
// cancellation (the run goes on and stays readable with get_session_runs).
func (s *Server) follow(ctx context.Context, req mcpgo.CallToolRequest, runID string, after int64) (*mcpgo.CallToolResult, error) {
	streamResponse(ctx)
	prog := newProgress(ctx, req)
	st, err := s.eng.Subscribe(ctx, runID, after)
	if err != nil {
		if ctx.Err() != nil {
			return s.abandon(ctx, runID)
		}
		return s.stored(ctx, runID, err)
	}
	defer st.Close()
	for {
		ev, err := st.Next(ctx)
		if errors.Is(err, io.EOF) {
			// The segment had already ended at the cursor.
			return s.stored(ctx, runID, nil)
		}
		if err != nil {
			if ctx.Err() != nil {
				return s.abandon(ctx, runID)
			}
			return s.stored(ctx, runID, err)
		}
		if !ev.Forwarded() && ev.Base() == core.EventRunContent && ev.Content != "" {
			prog.send(ctx, ev.Content)
		}
		if ev.EndsSegment() && st.Done() {
			prog.flush(ctx)
			return s.withMedia(ctx, RenderEnd(&ev), ev.SessionID, ev.EventDetail), nil
		}
	}
}

// stored answers from the stored run when its events cannot be followed
// (the log trimmed or lost them): the run's end is in the store.
func (s *Server) stored(ctx context.Context, runID string, cause error) (*mcpgo.CallToolResult, error) {
	var ge *core.GoneError
	if cause != nil && !errors.As(cause, &ge) {
		return s.toolError(cause)
	}
	run, err := s.eng.Wait(ctx, runID, -1)
	if err != nil {
		if ctx.Err() != nil {
			return s.abandon(ctx, runID)
		}
		return s.toolError(err)
	}
	return s.withMedia(ctx, RenderRun(run), run.SessionID, &core.EventDetail{RunMedia: run.RunMedia}), nil
}

// abandon stops following a run whose call ended early, cancelling the run
// unless the call ended because a 2025-11-25 client dropped the connection.
func (s *Server) abandon(ctx context.Context, runID string) (*mcpgo.CallToolResult, error) {
	cause := context.Cause(ctx)
	modern := mcpgo.IsModernProtocol(server.RequestProtocolVersion(ctx))
	if !errors.Is(cause, errClientGone) || modern {
		if _, err := s.eng.Cancel(context.WithoutCancel(ctx), runID); err != nil {
			s.log.Warn("mcp: cancel the run of a cancelled call", "run_id", runID, "err", err)
		}
	}
	return nil, fmt.Errorf("call ended before the run: %w", cause)
}

// progress sends a call's content deltas as notifications/progress.
type progress struct {
	srv   *server.MCPServer
	sw    *streamWriter // the call's own SSE response (HTTP), or nil
	token mcpgo.ProgressToken
	n     int
}

func newProgress(ctx context.Context, req mcpgo.CallToolRequest) *progress {
	if req.Params.Meta == nil || req.Params.Meta.ProgressToken == nil {
		return nil
	}
	srv := server.ServerFromContext(ctx)
	if srv == nil {
		return nil
	}
	p := &progress{srv: srv, token: req.Params.Meta.ProgressToken}
	if sw, _ := ctx.Value(streamKey{}).(*streamWriter); sw != nil && sw.streaming() {
		p.sw = sw
	}
	return p
}

// send delivers one delta. Over HTTP it is written straight to the call's
// SSE response, in order before the result (mcp-go's notification
// forwarder can drop a notification that races the final response, and
// in the 2025-11-25 era may put it on another request's stream). Elsewhere
// it goes through mcp-go's session; a full queue (a slow client) is waited
// on for up to about a second before the delta is dropped.
func (p *progress) send(ctx context.Context, delta string) {
	if p == nil {
		return
	}
	p.n++
	params := ProgressParams(p.token, p.n, delta)
	if p.sw != nil {
		_ = p.sw.writeNotification(mcpgo.JSONRPCNotification{JSONRPC: mcpgo.JSONRPC_VERSION,
			Notification: mcpgo.Notification{Method: string(mcpgo.MethodNotificationProgress),
				Params: mcpgo.NotificationParams{AdditionalFields: params}}})
		return
	}
	for attempt := 0; ; attempt++ {
		err := p.srv.SendNotificationToClient(ctx, string(mcpgo.MethodNotificationProgress), params)
		if !errors.Is(err, server.ErrNotificationChannelBlocked) || attempt >= 50 || ctx.Err() != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// flush waits (briefly) until the session's queued notifications are
// taken, so that over stdio the deltas tend to precede the result (the
// stdio server writes notifications and responses from different
// goroutines).
func (p *progress) flush(ctx context.Context) {
	if p == nil || p.sw != nil || p.n == 0 {
		return
	}
	sess := server.ClientSessionFromContext(ctx)
	if sess == nil {
		return
	}
	ch := sess.NotificationChannel()
	for i := 0; i < 100 && len(ch) > 0 && ctx.Err() == nil; i++ {
		time.Sleep(5 * time.Millisecond)
	}
}

// Read-only tools ------------------------------------------------------------

// SessionPage is get_sessions' result (GET /sessions' shape).
type SessionPage struct {
	Data []*core.Session `json:"data"`
	Meta PageMeta        `json:"meta"`
}

// PageMeta is agno's pagination block.
type PageMeta struct {
	Page       int `json:"page"`
	Limit      int `json:"limit"`
	TotalPages int `json:"total_pages"`
	TotalCount int `json:"total_count"`
}

func (s *Server) getSessions(ctx context.Context, a *SessionsArgs) (*mcpgo.CallToolResult, error) {
	limit, page := 20, 1
	if a.Limit != nil {
		limit = *a.Limit
	}
	if a.Page != nil {
		page = *a.Page
	}
	typ, sortBy, order := a.Type, a.SortBy, a.SortOrder
	if typ == "" {
		typ = string(core.SessionAgent)
	}
	if sortBy == "" {
		sortBy = "created_at"
	}
	if order == "" {
		order = string(core.SortDesc)
	}
	p, _ := auth.FromContext(ctx)
	userID := s.owned(ctx).UserID(a.UserID)
	list, total, err := s.eng.ListSessions(ctx, core.ListSessionsParams{
		Type: core.SessionType(typ), ComponentID: a.ComponentID, UserID: userID, NameLike: a.SessionName,
		SortBy: sortBy, SortOrder: core.SortOrder(order), Limit: limit, Page: page,
	})
	if err != nil {
		return s.toolError(err)
	}
	all, ids := p.VisibleIDs(auth.ResourceSessions, auth.ActionRead)
	kept := make([]*core.Session, 0, len(list))
	for _, sess := range list {
		if all || slices.Contains(ids, sess.SessionID) {
			kept = append(kept, sess)
		}
	}
	return mcpgo.NewToolResultStructuredOnly(SessionPage{Data: kept, Meta: PageMeta{
		Page: page, Limit: limit, TotalPages: int(math.Ceil(float64(total) / float64(limit))), TotalCount: total,
	}}), nil
}

// SessionRuns is get_session_runs' result.
type SessionRuns struct {
	SessionID string       `json:"session_id"`
	Runs      []runSummary `json:"runs"`
}

func (s *Server) getSessionRuns(ctx context.Context, a *SessionRunsArgs) (*mcpgo.CallToolResult, error) {
	if _, err := s.owned(ctx).Session(ctx, a.SessionID); err != nil {
		return s.toolError(err)
	}
	runs, err := s.eng.List(ctx, core.ListRunsParams{SessionID: a.SessionID})
	if err != nil {
		return s.toolError(err)
	}
	out := SessionRuns{SessionID: a.SessionID, Runs: make([]runSummary, 0, len(runs))}
	for _, r := range runs {
		out.Runs = append(out.Runs, summarize(r))
	}
	return mcpgo.NewToolResultStructuredOnly(out), nil
}

// GatewayConfig is get_config's result.
type GatewayConfig struct {
	OSID        string         `json:"os_id"`
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Version     string         `json:"version"`
	Agents      []AgentSummary `json:"agents"`
	// Teams and Workflows are the teams and workflows the caller may see
	// (run them with run_team and run_workflow); absent when there are none.
	Teams     []AgentSummary `json:"teams,omitempty"`
	Workflows []AgentSummary `json:"workflows,omitempty"`
}

// AgentSummary is an agent in get_config.
type AgentSummary struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Tool is the agent's ask_<agent> tool, when per-agent tools are on.
	Tool string `json:"tool,omitempty"`
}

func (s *Server) getConfig(ctx context.Context) (*mcpgo.CallToolResult, error) {
	p, _ := auth.FromContext(ctx)
	all, ids := p.VisibleIDs(auth.ResourceAgents, auth.ActionRead)
	out := GatewayConfig{OSID: s.cfg.Name, Name: s.cfg.Name, Description: s.cfg.Description, Version: s.cfg.Version,
		Agents: []AgentSummary{}}
	for _, a := range s.eng.Agents() {
		info := a.Info()
		if !all && !slices.Contains(ids, info.ID) {
			continue
		}
		sum := AgentSummary{ID: info.ID, Name: info.Name, Description: info.Description}
		if name := AskToolName(info.ID); s.cfg.AgentToolsOn() {
			if ref, ok := s.askAgent(name); ok && ref == (core.Ref{Kind: core.KindAgent, ID: info.ID}) {
				sum.Tool = name
			}
		}
		out.Agents = append(out.Agents, sum)
	}
	out.Teams = s.visible(p, core.KindTeam, auth.ResourceTeams)
	out.Workflows = s.visible(p, core.KindWorkflow, auth.ResourceWorkflows)
	return mcpgo.NewToolResultStructuredOnly(out), nil
}

// visible lists the runnables of kind k the principal may read.
func (s *Server) visible(p *auth.Principal, k core.Kind, resource string) []AgentSummary {
	all, ids := p.VisibleIDs(resource, auth.ActionRead)
	var out []AgentSummary
	for _, r := range s.eng.Runnables(k) {
		info := r.Info()
		if all || slices.Contains(ids, info.ID) {
			sum := AgentSummary{ID: info.ID, Name: info.Name, Description: info.Description}
			ref := core.Ref{Kind: k, ID: info.ID}
			if got, ok := s.askAgent(askName(ref)); ok && got == ref {
				sum.Tool = askName(ref)
			}
			out = append(out, sum)
		}
	}
	return out
}

// traceCarrier is the caller's W3C trace context: the request's
// _meta.traceparent (and tracestate), else its HTTP headers.
func traceCarrier(req mcpgo.CallToolRequest) map[string]string {
	if m := req.Params.Meta; m != nil {
		if tc := core.TraceCarrierOf(func(k string) string { v, _ := m.AdditionalFields[k].(string); return v }); tc != nil {
			return tc
		}
	}
	if req.Header == nil {
		return nil
	}
	return core.TraceCarrierOf(req.Header.Get)
}
