package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// BackgroundAccepted answers a background, non-streaming run (202).
type BackgroundAccepted struct {
	RunID     string         `json:"run_id"`
	SessionID string         `json:"session_id"`
	Status    core.RunStatus `json:"status"`
}

// CancelBody answers a cancel request.
type CancelBody struct {
	RunID  string         `json:"run_id"`
	Status core.RunStatus `json:"status" doc:"The run's status once the cancel was recorded: RUNNING (or PENDING) while its executor stops it, CANCELLED, or the status it had already ended with."`
	// Cancelling says the run has not ended yet: its executor was told and
	// its stream will end with RunCancelled.
	Cancelling bool   `json:"cancelling" doc:"true while the run is being cancelled: its stream ends with RunCancelled."`
	Detail     string `json:"detail" doc:"What the cancel did, in words."`
}

// cancelBody describes the outcome of a cancel of run.
func cancelBody(run *core.Run) CancelBody {
	b := CancelBody{RunID: run.RunID, Status: run.Status}
	switch {
	case run.Status == core.RunCancelled:
		b.Detail = "cancelled"
	case run.Status.Final():
		b.Detail = "the run had already ended (" + string(run.Status) + "); nothing was cancelled"
	default:
		b.Cancelling = true
		b.Detail = "cancelling: the run's executor was told to stop; its stream ends with RunCancelled"
	}
	return b
}

// ResumeForm is the form of POST .../runs/{run_id}/resume.
type ResumeForm struct {
	LastEventIndex *int64 `json:"last_event_index,omitempty" doc:"Index of the last event the client has; events after it are replayed, then live ones. Empty: from the start."`
	SessionID      string `json:"session_id,omitempty"`
}

// family is one runnable kind's run route family: agents, teams and
// workflows are served by the same handlers and table, under their own
// path, id parameter, auth resource and operation ids.
type family struct {
	Kind core.Kind
	// Plural is the path segment and the auth resource (agents, teams,
	// workflows); Param the path parameter of the runnable's id.
	Plural, Param string
	// A is the kind with its article ("an agent"), for summaries.
	A string
	// Tags are the run routes' OpenAPI tags.
	Tags []string
}

// families are the run route families, in mount order.
var families = []family{
	{Kind: core.KindAgent, Plural: auth.ResourceAgents, Param: "agent_id", A: "an agent", Tags: []string{"Runs"}},
	{Kind: core.KindTeam, Plural: auth.ResourceTeams, Param: "team_id", A: "a team", Tags: []string{"Teams"}},
	{Kind: core.KindWorkflow, Plural: auth.ResourceWorkflows, Param: "workflow_id", A: "a workflow", Tags: []string{"Workflows"}},
}

// opID is the family's operation id of a verb: create-team-run.
func (f family) opID(verb, noun string) string { return verb + "-" + string(f.Kind) + "-" + noun }

// base is the family's runs path with its id placeholder.
func (f family) base() string { return "/" + f.Plural + "/{" + f.Param + "}/runs" }

// startParams names the runnable in a start.
func (f family) startParams(id string) core.StartParams {
	return core.StartParams{}.For(core.Ref{Kind: f.Kind, ID: id})
}

// listParams names the runnable in a run listing.
func (f family) listParams(id string) core.ListRunsParams {
	return core.ListRunsParams{}.For(core.Ref{Kind: f.Kind, ID: id})
}

func (h *Handler) runRoutes() []Route {
	var out []Route
	for _, f := range families {
		out = append(out, h.familyRunRoutes(f)...)
	}
	return out
}

// familyRunRoutes are the run routes of one family.
func (h *Handler) familyRunRoutes(f family) []Route {
	// Run routes act on the runnable: agents:<id>:run, teams:<id>:run...
	run := scoped(f.Plural, auth.ActionRun, f.Param)
	idParam := &huma.Param{Name: f.Param, In: "path", Required: true, Schema: &huma.Schema{Type: "string"}}
	var form any = ContinueForm{}
	continueDoc := "Resolves the paused tool calls (confirmed true/false with confirmation_note; user_input_schema values; result of an external execution) and goes on in the same event stream (RunContinued first). 409 if the run is not paused."
	switch f.Kind {
	case core.KindTeam:
		form = TeamContinueForm{}
		continueDoc += " A team takes its paused members' requirements (requirements, as TeamRunPaused carried them, each decided) or their tools."
	case core.KindWorkflow:
		form = WorkflowContinueForm{}
		continueDoc += " A workflow takes step_requirements (each names its requirement_id or step_id, with confirmed and user_input) or the paused tools."
	}
	return []Route{
		{Operation: huma.Operation{OperationID: f.opID("create", "run"), Method: http.MethodPost, Path: f.base(), Tags: f.Tags,
			Summary: "Run " + f.A,
			Description: "Four modes: stream=true (SSE, default; a disconnect cancels the run after runs.disconnect_grace unless it is followed again; on_disconnect=cancel|continue), stream=false (blocking JSON), " +
				"background=true (202 {run_id, session_id, status}; poll GET .../runs/{run_id}), background=true&stream=true (detached, resumable SSE).",
			Parameters: []*huma.Param{idParam,
				{Name: IdempotencyKeyHeader, In: "header", Schema: &huma.Schema{Type: "string", MaxLength: &maxKeyLen},
					Description: "Makes the request safe to retry: the same key with the same request, from the same caller to the same " + string(f.Kind) + ", " +
						"answers the run it created (on any replica, for runs.idempotency_ttl, default 24 h: blocking waits for it, streaming replays it from the start, " +
						"background answers 202 with its run_id) instead of starting another; the key with a different request is 422. " +
						"At most 255 printable ASCII characters (else 400)."}},
		}, Access: run, Owner: OwnerAssigned, Errors: []int{400, 404, 413},
			Also: map[int]string{http.StatusAccepted: "background=true&stream=false: the run is queued; poll GET .../runs/{run_id}."},
			Raw:  h.createRun(f), Form: RunForm{}, Resp: core.Run{}},
		{Operation: huma.Operation{OperationID: f.opID("continue", "run"), Method: http.MethodPost, Path: f.base() + "/{run_id}/continue", Tags: f.Tags,
			Summary:     "Continue a paused run",
			Description: continueDoc,
			Parameters:  f.runParams(),
		}, Access: run, Owner: OwnerBound, Errors: []int{400, 404, 409, 413},
			Also: map[int]string{http.StatusAccepted: "background=true&stream=false: the run goes on in the background."},
			Raw:  h.continueRun(f), Form: form, Resp: core.Run{}},
		{Operation: huma.Operation{OperationID: f.opID("resume", "run"), Method: http.MethodPost, Path: f.base() + "/{run_id}/resume", Tags: f.Tags,
			Summary:     "Resume a run's event stream after last_event_index",
			Description: "Replays exactly the events after last_event_index, then live ones. 410 with first_available_index if they are no longer retained.",
			Parameters:  f.runParams(),
		}, Access: run, Owner: OwnerBound, Errors: []int{400, 404, 410, 413},
			Raw: h.resumeRun(f), Form: ResumeForm{}},
		{Operation: huma.Operation{OperationID: f.opID("stream", "run"), Method: http.MethodGet, Path: f.base() + "/{run_id}/stream", Tags: f.Tags,
			Summary:     "Follow a run's event stream (EventSource; honours Last-Event-ID)",
			Description: "Standard SSE resume: the Last-Event-ID header (or ?last_event_index=) is the last index seen. 204 when nothing is left to stream.",
			Parameters: append(f.runParams(),
				&huma.Param{Name: "Last-Event-ID", In: "header", Schema: &huma.Schema{Type: "string"}},
				&huma.Param{Name: "last_event_index", In: "query", Schema: &huma.Schema{Type: "integer"}}),
		}, Access: run, Owner: OwnerBound, Errors: []int{400, 404, 410},
			Also: map[int]string{http.StatusNoContent: "Nothing is left to stream: the run had ended and the client has every event."},
			Raw:  h.streamRun(f)},

		{Operation: huma.Operation{OperationID: f.opID("get", "run"), Method: http.MethodGet, Path: f.base() + "/{run_id}", Summary: "Get a run (poll background runs)", Tags: f.Tags,
			Parameters: []*huma.Param{idParam}},
			Access: run, Owner: OwnerBound, Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *struct {
				runnablePath
				RunID     string `path:"run_id"`
				SessionID string `query:"session_id"`
			}) (*struct{ Body *core.Run }, error) {
				run, err := h.runOf(ctx, f, in.ID, in.RunID, in.SessionID)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body *core.Run }{runOutput(run)}, nil
			})},
		{Operation: huma.Operation{OperationID: f.opID("list", "runs"), Method: http.MethodGet, Path: f.base(), Summary: "List " + f.A + "'s runs in a session", Tags: f.Tags,
			Parameters: []*huma.Param{idParam}},
			Access: run, Owner: OwnerFiltered, Errors: []int{400, 404, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				runnablePath
				SessionID string `query:"session_id" doc:"The session whose runs to list."`
				Status    string `query:"status" enum:"PENDING,RUNNING,PAUSED,COMPLETED,CANCELLED,ERROR,"`
			}) (*struct{ Body []RunSchema }, error) {
				if _, err := h.eng.Runnable(f.Kind, in.ID); err != nil {
					return nil, toAPIError(err)
				}
				if in.SessionID == "" {
					return nil, toAPIError(core.Errorf(core.CodeInvalid, "session_id is required"))
				}
				p := f.listParams(in.ID)
				p.SessionID, p.Status, p.UserID = in.SessionID, core.RunStatus(in.Status), h.owned(ctx).UserID("")
				runs, err := h.eng.List(ctx, p)
				if err != nil {
					return nil, toAPIError(err)
				}
				// A step's agent run inside a workflow carries the
				// workflow's id too: only the family's own runs are listed.
				own := runs[:0:0]
				for _, r := range runs {
					if r.Ref() == (core.Ref{Kind: f.Kind, ID: in.ID}) {
						own = append(own, r)
					}
				}
				return &struct{ Body []RunSchema }{runSchemas(own)}, nil
			})},
		{Operation: huma.Operation{OperationID: f.opID("cancel", "run"), Method: http.MethodPost, Path: f.base() + "/{run_id}/cancel", Summary: "Cancel a run (from any replica)", Tags: f.Tags,
			Description: "Stores the cancel intent and signals the executor; the run's stream ends with its cancel event. A finished run is left as it is.",
			Parameters:  []*huma.Param{idParam}},
			Access: run, Owner: OwnerBound, Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *struct {
				runnablePath
				RunID     string `path:"run_id"`
				SessionID string `query:"session_id"`
			}) (*struct{ Body CancelBody }, error) {
				if _, err := h.runOf(ctx, f, in.ID, in.RunID, in.SessionID); err != nil {
					return nil, toAPIError(err)
				}
				run, err := h.eng.Cancel(ctx, in.RunID)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body CancelBody }{cancelBody(run)}, nil
			})},
	}
}

// runnablePath reads a family route's runnable id: the path parameter that
// is not run_id (agent_id, team_id or workflow_id), documented by the
// route's Parameters since a struct tag cannot name it per family.
type runnablePath struct {
	ID string `json:"-"`
}

// Resolve implements huma.Resolver.
func (p *runnablePath) Resolve(ctx huma.Context) []error {
	for _, prm := range ctx.Operation().Parameters {
		if prm.In == "path" && prm.Name != "run_id" {
			p.ID = ctx.Param(prm.Name)
			break
		}
	}
	return nil
}

// runParams are the path parameters of a route on one run: the
// runnable's id and run_id.
func (f family) runParams() []*huma.Param {
	return []*huma.Param{
		{Name: f.Param, In: "path", Required: true, Schema: &huma.Schema{Type: "string"}},
		{Name: "run_id", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}},
	}
}

// runOf returns the run if the family's runnable id runs it (and it is in
// the session, if given).
func (h *Handler) runOf(ctx context.Context, f family, id, runID, sessionID string) (*core.Run, error) {
	if _, err := h.eng.Runnable(f.Kind, id); err != nil {
		return nil, err
	}
	run, err := h.owned(ctx).Run(ctx, runID)
	if err == nil && (run.Ref() != (core.Ref{Kind: f.Kind, ID: id}) || (sessionID != "" && run.SessionID != sessionID)) {
		err = core.ErrNotFound
	}
	if core.CodeOf(err) == core.CodeNotFound {
		// One answer for a run that does not exist and one of another
		// user, runnable or session: the answer must not tell them apart.
		return nil, core.Errorf(core.CodeNotFound, "run %q not found for %s %q", runID, f.Kind, id)
	}
	if err != nil {
		return nil, err
	}
	return run, nil
}

// IdempotencyKeyHeader is the header that makes a run creation safe to
// retry (see core/idempotency.go).
const IdempotencyKeyHeader = "Idempotency-Key"

var maxKeyLen = core.MaxIdempotencyKeyLen

func (h *Handler) createRun(f family) fiber.Handler {
	return func(c *fiber.Ctx) error { return h.create(c, f) }
}

func (h *Handler) create(c *fiber.Ctx, f family) error {
	id := c.Params(f.Param)
	if _, err := h.eng.Runnable(f.Kind, id); err != nil {
		return fail(c, err)
	}
	key := strings.Clone(c.Get(IdempotencyKeyHeader))
	if err := core.CheckIdempotencyKey("the "+IdempotencyKeyHeader+" header", key); err != nil {
		return fail(c, err)
	}
	ctx := c.UserContext()
	owned := h.owned(ctx)
	up := h.cfg.Media.NewUpload().Restorable()
	started := false
	defer func() { up.End(ctx, h.eng, started) }()
	// Under isolation a session of another user is not found: before any
	// file of a streamed form is stored, when the session comes first.
	fields, files, err := h.readForm(c, up, func(f Form) error { return owned.UsableSession(ctx, f["session_id"]) })
	if err != nil {
		return fail(c, err)
	}
	form, err := runForm(fields, files)
	if err != nil {
		return fail(c, err)
	}
	// The form holds copies of what it needs: the body (the size of the
	// message) goes back to the server now, not when a stream ends (a
	// streamed body holds nothing; the transport finishes reading it).
	if _, streamed := httptransport.StreamedBody(c); !streamed {
		c.Request().ResetBody()
	}
	userID := owned.UserID(form.UserID)
	if err := owned.UsableSession(ctx, form.SessionID); err != nil {
		return fail(c, err)
	}
	params := f.startParams(id)
	params.Message, params.SessionID, params.UserID, params.Background = form.Message, form.SessionID, userID, form.Background
	params.Interface, params.TraceCarrier, params.Version = "rest", traceCarrier(c), form.Version
	params.KnowledgeFilters = form.KnowledgeFilters
	if params.Media, err = h.ingestFiles(ctx, up, form.Files, form.Fields); err != nil {
		return fail(c, err)
	}
	params.MediaSource = up
	form.Files, form.Fields = nil, nil
	if key != "" {
		// The stream flag decides how the run is answered, not what it
		// does, but a retry that changes it is not the same request.
		params.IdempotencyKey, params.IdempotencyScope = key, principal(ctx).Owner()
		params.IdempotencyRequest = "stream=" + strconv.FormatBool(form.Stream) + mediaIDs(params.Media)
		if form.KnowledgeFilters != nil {
			kf, _ := json.Marshal(form.KnowledgeFilters) // maps marshal with sorted keys
			params.IdempotencyRequest += " knowledge_filters=" + string(kf)
		}
	}
	if !form.Stream && !form.Background {
		// Blocking: the run executes on this request's goroutine, shown
		// to no one before it ends.
		done, err := h.eng.RunBlocking(ctx, params)
		started = done != nil
		if err != nil {
			return fail(c, err)
		}
		return c.JSON(runOutput(done))
	}
	if !form.Stream {
		run, err := h.eng.Start(ctx, params)
		if err != nil {
			return fail(c, err)
		}
		started = true
		up.Close()
		return c.Status(http.StatusAccepted).JSON(BackgroundAccepted{RunID: run.RunID, SessionID: run.SessionID, Status: run.Status})
	}
	// The run's own stream is fed by its executor, so trimming never
	// refuses it (core.Engine.StartStream).
	run, s, err := h.eng.StartStream(ctx, params)
	if err != nil {
		return fail(c, err)
	}
	started = true
	up.Close()
	mode := form.OnDisconnect
	if form.Background {
		mode = core.DisconnectContinue
	}
	return h.pump(c, run.RunID, s, mode)
}

// stream pumps the run's events after the cursor as SSE. When cancelOnDrop
// is set (a foreground stream), a client disconnect cancels the run once
// runs.disconnect_grace passes with nobody following it.
func (h *Handler) stream(c *fiber.Ctx, run *core.Run, after int64, cancelOnDrop bool) error {
	runID := run.RunID
	s, err := h.eng.SubscribeRun(c.UserContext(), run, after)
	if err != nil {
		return fail(c, err)
	}
	mode := core.DisconnectContinue
	if cancelOnDrop {
		mode = core.DisconnectGrace
	}
	return h.pump(c, runID, s, mode)
}

// pump streams s as SSE; a client disconnect is handed to the engine with
// mode (core.Engine.Disconnected).
func (h *Handler) pump(c *fiber.Ctx, runID string, s *core.Stream, mode core.DisconnectMode) error {
	var onDrop func()
	if mode != core.DisconnectContinue {
		eng := h.eng
		onDrop = func() { eng.Disconnected(runID, mode) }
	}
	return h.srv.StreamSSE(c, &eventSource{stream: s}, onDrop)
}

func (h *Handler) continueRun(f family) fiber.Handler {
	return func(c *fiber.Ctx) error { return h.continueOne(c, f) }
}

func (h *Handler) continueOne(c *fiber.Ctx, f family) error {
	id, runID := c.Params(f.Param), c.Params("run_id")
	up := h.cfg.Media.NewUpload().Restorable()
	started := false
	defer func() { up.End(c.UserContext(), h.eng, started) }()
	// The run is checked before any file of a streamed form is stored.
	fields, files, err := h.readForm(c, up, func(fields Form) error {
		_, err := h.runOf(c.UserContext(), f, id, runID, fields["session_id"])
		return err
	})
	var form *KindContinueForm
	if err == nil {
		form, err = kindContinueForm(f.Kind, fields, files)
	}
	if err != nil {
		if _, nf := h.runOf(c.UserContext(), f, id, runID, ""); nf != nil {
			return fail(c, nf)
		}
		return fail(c, err)
	}
	ctx := c.UserContext()
	run, err := h.runOf(ctx, f, id, runID, form.SessionID)
	if err != nil {
		return fail(c, err)
	}
	tools, err := form.decisions(run)
	if err != nil {
		return fail(c, err)
	}
	media, err := h.ingestFiles(ctx, up, form.Files, form.Fields)
	if err != nil {
		return fail(c, err)
	}
	form.Files, form.Fields = nil, nil
	p := auth.Continuing(ctx, core.ContinueParams{RunID: runID, Tools: tools, Interface: "rest", TraceCarrier: traceCarrier(c), Media: media, MediaSource: up})
	if form.Stream {
		// Fed by the executor, as a streaming POST's own stream is.
		run, _, s, err := h.eng.ContinueStream(ctx, p)
		if err != nil {
			return fail(c, err)
		}
		started = true
		up.Close()
		mode := core.DisconnectGrace
		if form.Background {
			mode = core.DisconnectContinue
		}
		return h.pump(c, run.RunID, s, mode)
	}
	run, pausedAt, err := h.eng.Continue(ctx, p)
	if err != nil {
		return fail(c, err)
	}
	started = true
	up.Close()
	if form.Background {
		return c.Status(http.StatusAccepted).JSON(BackgroundAccepted{RunID: run.RunID, SessionID: run.SessionID, Status: run.Status})
	}
	done, err := h.eng.Wait(ctx, run.RunID, pausedAt)
	if err != nil {
		return fail(c, err)
	}
	return c.JSON(runOutput(done))
}

func (h *Handler) resumeRun(f family) fiber.Handler {
	return func(c *fiber.Ctx) error { return h.resume(c, f) }
}

func (h *Handler) resume(c *fiber.Ctx, fam family) error {
	id, runID := c.Params(fam.Param), c.Params("run_id")
	ctx := c.UserContext()
	form, err := ParseForm(string(c.Request().Header.ContentType()), c.Body())
	if err != nil {
		return fail(c, err)
	}
	after, err := ParseEventIndex(form["last_event_index"])
	if err != nil {
		return fail(c, err)
	}
	run, err := h.runOf(ctx, fam, id, runID, form["session_id"])
	if err != nil {
		return fail(c, err)
	}
	return h.stream(c, run, after, false)
}

func (h *Handler) streamRun(f family) fiber.Handler {
	return func(c *fiber.Ctx) error { return h.follow(c, f) }
}

func (h *Handler) follow(c *fiber.Ctx, f family) error {
	id, runID := c.Params(f.Param), c.Params("run_id")
	ctx := c.UserContext()
	cursor := c.Get("Last-Event-ID")
	if cursor == "" {
		cursor = c.Query("last_event_index")
	}
	after, err := ParseEventIndex(cursor)
	if err != nil {
		return fail(c, err)
	}
	run, err := h.runOf(ctx, f, id, runID, c.Query("session_id"))
	if err != nil {
		return fail(c, err)
	}
	s, err := h.eng.SubscribeRun(ctx, run, after)
	if err != nil {
		return fail(c, err)
	}
	if s.Done() {
		// Nothing left: 204 tells an EventSource not to reconnect.
		_ = s.Close()
		return c.SendStatus(http.StatusNoContent)
	}
	return h.srv.StreamSSE(c, &eventSource{stream: s}, nil)
}

// traceCarrier is the caller's W3C trace context among c's headers.
func traceCarrier(c *fiber.Ctx) map[string]string {
	return core.TraceCarrierOf(func(k string) string { return c.Get(k) })
}
