package rest

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/eval"
)

// EvalRunBody is the body of POST /eval-runs: AgentOS's EvalRunInput, plus
// allow_additional_tool_calls, expected_tool_call_arguments and
// background.
type EvalRunBody struct {
	AgentID                   string                    `json:"agent_id,omitempty" doc:"The agent to evaluate (exactly one of agent_id and team_id)."`
	TeamID                    string                    `json:"team_id,omitempty" doc:"The team to evaluate (exactly one of agent_id and team_id)."`
	ModelID                   string                    `json:"model_id,omitempty" doc:"The judge model: a name of the config's models (required for accuracy and agent_as_judge)."`
	ModelProvider             string                    `json:"model_provider,omitempty" doc:"The judge model's provider; when given it must be model_id's."`
	EvalType                  string                    `json:"eval_type" enum:"accuracy,agent_as_judge,performance,reliability"`
	Input                     string                    `json:"input" minLength:"1" doc:"The message each evaluated run is given."`
	AdditionalGuidelines      string                    `json:"additional_guidelines,omitempty"`
	AdditionalContext         string                    `json:"additional_context,omitempty"`
	NumIterations             *int                      `json:"num_iterations,omitempty" minimum:"1" maximum:"100" doc:"Runs evaluated (default 1)."`
	Name                      string                    `json:"name,omitempty" maxLength:"255"`
	ExpectedOutput            string                    `json:"expected_output,omitempty" doc:"accuracy: the correct answer the judge compares with."`
	Criteria                  string                    `json:"criteria,omitempty" doc:"agent_as_judge: what the judge checks."`
	ScoringStrategy           string                    `json:"scoring_strategy,omitempty" enum:"numeric,binary" doc:"agent_as_judge: numeric (1-10 against threshold, the default) or binary (pass/fail)."`
	Threshold                 *int                      `json:"threshold,omitempty" minimum:"1" maximum:"10" doc:"The pass mark of numeric judging and of accuracy's average score (default 7)."`
	WarmupRuns                *int                      `json:"warmup_runs,omitempty" minimum:"0" maximum:"10" doc:"performance: unmeasured runs first (default 0)."`
	ExpectedToolCalls         []string                  `json:"expected_tool_calls,omitempty" maxItems:"100" doc:"reliability: the tools each run must call."`
	AllowAdditionalToolCalls  bool                      `json:"allow_additional_tool_calls,omitempty" doc:"reliability: other tool calls are fine (default false: they fail the eval)."`
	ExpectedToolCallArguments map[string]map[string]any `json:"expected_tool_call_arguments,omitempty" doc:"reliability: per expected tool, arguments one of its calls must have (a subset match)."`
	Background                bool                      `json:"background,omitempty" doc:"Answer 202 at once and run the eval in the background (poll GET /eval-runs/{eval_run_id})."`
}

// EvalSchema is AgentOS's EvalSchema plus the eval run's status, verdict,
// error, engine runs and owner.
type EvalSchema struct {
	ID                     string         `json:"id"`
	AgentID                *string        `json:"agent_id"`
	ModelID                *string        `json:"model_id"`
	ModelProvider          *string        `json:"model_provider"`
	TeamID                 *string        `json:"team_id"`
	WorkflowID             *string        `json:"workflow_id"`
	Name                   *string        `json:"name"`
	EvaluatedComponentName *string        `json:"evaluated_component_name"`
	EvalType               string         `json:"eval_type"`
	EvalData               map[string]any `json:"eval_data"`
	EvalInput              map[string]any `json:"eval_input"`
	CreatedAt              time.Time      `json:"created_at"`
	UpdatedAt              time.Time      `json:"updated_at"`
	Status                 string         `json:"status" enum:"running,completed,failed" doc:"running, then completed (computed: see passed) or failed (not computed: see error)."`
	Passed                 *bool          `json:"passed" doc:"The verdict, once completed."`
	Error                  *string        `json:"error" doc:"Why the eval run failed."`
	RunIDs                 []string       `json:"run_ids" doc:"The engine runs evaluated (GET /runs/{run_id} shows each, with eval_run_id)."`
	UserID                 *string        `json:"user_id"`
}

// EvalPage is AgentOS's Paginated[EvalSchema].
type EvalPage struct {
	Data []EvalSchema `json:"data"`
	Meta PageMeta     `json:"meta"`
}

// DeleteEvalRunsBody is AgentOS's DeleteEvalRunsRequest.
type DeleteEvalRunsBody struct {
	EvalRunIDs []string `json:"eval_run_ids" minItems:"1" maxItems:"1000"`
}

// UpdateEvalRunBody is AgentOS's UpdateEvalRunRequest.
type UpdateEvalRunBody struct {
	Name string `json:"name" minLength:"1" maxLength:"255"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func evalSchema(e *eval.EvalRun) EvalSchema {
	data := e.EvalData
	if data == nil {
		data = map[string]any{}
	}
	ids := e.RunIDs
	if ids == nil {
		ids = []string{}
	}
	return EvalSchema{ID: e.ID, AgentID: nullable(e.AgentID), ModelID: nullable(e.ModelID), ModelProvider: nullable(e.ModelProvider),
		TeamID: nullable(e.TeamID), WorkflowID: nullable(e.WorkflowID), Name: nullable(e.Name),
		EvaluatedComponentName: nullable(e.EvaluatedComponentName), EvalType: e.EvalType, EvalData: data, EvalInput: e.EvalInput,
		CreatedAt: time.Unix(e.CreatedAt, 0).UTC(), UpdatedAt: time.Unix(e.UpdatedAt, 0).UTC(), Status: e.Status, Passed: e.Passed,
		Error: nullable(e.Error), RunIDs: ids, UserID: nullable(e.UserID)}
}

var errNoEvals = core.Errorf(core.CodeUnavailable, "evals are off on this gateway (evals.enabled: false)")

// evalRoutes are /eval-runs (AgentOS §1.8). Eval runs are owner-bound:
// under user isolation a non-admin lists and touches only their own.
func (h *Handler) evalRoutes() []Route {
	tags := []string{"Evals"}
	const id = "eval_run_id"
	svc := func() (*eval.Service, error) {
		if h.cfg.Evals == nil {
			return nil, toAPIError(errNoEvals)
		}
		return h.cfg.Evals, nil
	}
	scope := func(ctx context.Context) eval.Scope {
		o := h.owned(ctx)
		return eval.Scope{Bound: o.Bound(), UserID: o.UserID("")}
	}
	one := func(e *eval.EvalRun, err error) (*struct{ Body EvalSchema }, error) {
		if err != nil {
			return nil, toAPIError(err)
		}
		return &struct{ Body EvalSchema }{evalSchema(e)}, nil
	}
	type startOut struct {
		Status int
		Body   EvalSchema
	}
	return []Route{
		{Operation: huma.Operation{OperationID: "list-eval-runs", Method: http.MethodGet, Path: "/eval-runs",
			Summary: "List eval runs", Tags: tags},
			DBScoped: true, Access: scoped(auth.ResourceEvals, auth.ActionRead, ""), Owner: OwnerFiltered, Errors: []int{403, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				AgentID    string `query:"agent_id"`
				TeamID     string `query:"team_id"`
				WorkflowID string `query:"workflow_id"`
				ModelID    string `query:"model_id"`
				Type       string `query:"type" enum:"agent,team,workflow" doc:"Only the eval runs of this kind of component (agno's filter_type)."`
				EvalTypes  string `query:"eval_types" doc:"Comma-separated eval types."`
				Limit      int    `query:"limit" default:"20" minimum:"1" maximum:"1000"`
				Page       int    `query:"page" default:"1" minimum:"1"`
				SortBy     string `query:"sort_by" default:"created_at" enum:"created_at,updated_at,name"`
				SortOrder  string `query:"sort_order" default:"desc" enum:"asc,desc"`
				Table      string `query:"table" doc:"Accepted for AgentOS compatibility; eval runs live in eval_runs."`
			}) (*struct{ Body EvalPage }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				start := time.Now()
				var types []string
				for t := range strings.SplitSeq(in.EvalTypes, ",") {
					if t = strings.TrimSpace(t); t != "" {
						types = append(types, t)
					}
				}
				list, total, err := s.List(ctx, scope(ctx), eval.Filter{AgentID: in.AgentID, TeamID: in.TeamID, WorkflowID: in.WorkflowID,
					ModelID: in.ModelID, Kind: in.Type, EvalTypes: types, Limit: in.Limit, Page: in.Page, SortBy: in.SortBy, SortOrder: in.SortOrder})
				if err != nil {
					return nil, toAPIError(err)
				}
				page := EvalPage{Data: make([]EvalSchema, 0, len(list)), Meta: pageMeta(in.Limit, in.Page, total)}
				for i := range list {
					page.Data = append(page.Data, evalSchema(&list[i]))
				}
				page.Meta.SearchTimeMS = float64(time.Since(start).Microseconds()) / 1000
				return &struct{ Body EvalPage }{page}, nil
			})},
		{Operation: huma.Operation{OperationID: "run-eval", Method: http.MethodPost, Path: "/eval-runs",
			Summary: "Run an eval", Tags: tags,
			Description: "Runs the agent or team num_iterations times through the engine (each run is an ordinary run, tagged with eval_run_id) and computes the eval. " +
				"Answers the eval run when it ends; background=true (query or body) answers 202 at once with the running eval run (poll GET /eval-runs/{eval_run_id}). " +
				"An unknown agent, team or model, both or neither of agent_id and team_id, an invalid eval_type or threshold is 422.",
			Responses: map[string]*huma.Response{
				"202": {Description: "The eval run started in the background.", Content: map[string]*huma.MediaType{
					"application/json": {Schema: &huma.Schema{Ref: "#/components/schemas/EvalSchema"}}}},
			}},
			DBScoped: true, Access: scoped(auth.ResourceEvals, auth.ActionWrite, ""), Owner: OwnerAssigned, Errors: []int{403, 413, 422, 503},
			Handle: typed(func(ctx context.Context, in *struct {
				Background  bool   `query:"background" doc:"Answer 202 at once and run the eval in the background."`
				Traceparent string `header:"traceparent" doc:"The caller's W3C trace context: the eval's runs join its trace."`
				Tracestate  string `header:"tracestate" doc:"W3C tracestate, with traceparent."`
				Body        EvalRunBody
			}) (*startOut, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				b := in.Body
				bg := in.Background || b.Background
				e, err := s.Start(ctx, scope(ctx), eval.Input{AgentID: b.AgentID, TeamID: b.TeamID, ModelID: b.ModelID, ModelProvider: b.ModelProvider,
					EvalType: b.EvalType, Input: b.Input, AdditionalGuidelines: b.AdditionalGuidelines, AdditionalContext: b.AdditionalContext,
					NumIterations: b.NumIterations, Name: b.Name, ExpectedOutput: b.ExpectedOutput, Criteria: b.Criteria,
					ScoringStrategy: b.ScoringStrategy, Threshold: b.Threshold, WarmupRuns: b.WarmupRuns, ExpectedToolCalls: b.ExpectedToolCalls,
					AllowAdditionalToolCalls: b.AllowAdditionalToolCalls, ExpectedToolCallArguments: b.ExpectedToolCallArguments,
					TraceCarrier: core.TraceCarrierOf(func(k string) string {
						if k == "traceparent" {
							return in.Traceparent
						}
						if k == "tracestate" {
							return in.Tracestate
						}
						return ""
					})}, bg)
				if err != nil {
					return nil, toAPIError(err)
				}
				status := http.StatusOK
				if bg || e.Status == eval.StatusRunning {
					status = http.StatusAccepted
				}
				return &startOut{status, evalSchema(e)}, nil
			})},
		{Operation: huma.Operation{OperationID: "delete-eval-runs", Method: http.MethodDelete, Path: "/eval-runs",
			Summary: "Delete eval runs", Tags: tags, DefaultStatus: http.StatusNoContent},
			DBScoped: true, Access: scoped(auth.ResourceEvals, auth.ActionDelete, ""), Owner: OwnerFiltered, Errors: []int{403, 422},
			Handle: typed(func(ctx context.Context, in *struct{ Body DeleteEvalRunsBody }) (*struct{}, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				if _, err := s.Delete(ctx, scope(ctx), in.Body.EvalRunIDs); err != nil {
					return nil, toAPIError(err)
				}
				return nil, nil
			})},
		{Operation: huma.Operation{OperationID: "get-eval-run", Method: http.MethodGet, Path: "/eval-runs/{eval_run_id}",
			Summary: "Get an eval run", Tags: tags},
			DBScoped: true, Access: scoped(auth.ResourceEvals, auth.ActionRead, id), Owner: OwnerBound, Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *struct {
				ID    string `path:"eval_run_id"`
				Table string `query:"table" doc:"Accepted for AgentOS compatibility."`
			}) (*struct{ Body EvalSchema }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				return one(s.Get(ctx, scope(ctx), in.ID))
			})},
		{Operation: huma.Operation{OperationID: "update-eval-run", Method: http.MethodPatch, Path: "/eval-runs/{eval_run_id}",
			Summary: "Rename an eval run", Tags: tags},
			DBScoped: true, Access: scoped(auth.ResourceEvals, auth.ActionWrite, id), Owner: OwnerBound, Errors: []int{404, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				ID   string `path:"eval_run_id"`
				Body UpdateEvalRunBody
			}) (*struct{ Body EvalSchema }, error) {
				s, err := svc()
				if err != nil {
					return nil, err
				}
				return one(s.Rename(ctx, scope(ctx), in.ID, in.Body.Name))
			})},
	}
}
