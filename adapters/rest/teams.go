package rest

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
)

// TeamResponse describes one team in AgentOS's shape (agno
// os/routers/teams/schema.py TeamResponse): its members are agents
// (AgentResponse) or teams (TeamResponse).
type TeamResponse struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	DBID        string          `json:"db_id"`
	Description string          `json:"description,omitempty"`
	Model       *core.ModelInfo `json:"model,omitempty"`
	// Mode is how the team works (coordinate, route, broadcast, tasks);
	// agno's model has no such field and ignores it.
	Mode          string         `json:"mode,omitempty"`
	SystemMessage *AgentSystem   `json:"system_message,omitempty"`
	Streaming     AgentStreaming `json:"streaming"`
	Members       []any          `json:"members,omitempty" doc:"The members: AgentResponse or TeamResponse objects."`
	// IsComponent, CurrentVersion and Stage say whether the team is a
	// component (/components), and its current version's number and stage.
	IsComponent    bool   `json:"is_component"`
	CurrentVersion *int   `json:"current_version,omitempty"`
	Stage          string `json:"stage,omitempty"`
}

// WorkflowResponse describes one workflow in AgentOS's shape (agno
// os/routers/workflows/schema.py WorkflowResponse).
type WorkflowResponse struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	DBID          string         `json:"db_id"`
	Description   string         `json:"description,omitempty"`
	Steps         []WorkflowStep `json:"steps,omitempty"`
	WorkflowAgent bool           `json:"workflow_agent"`
	// IsComponent, CurrentVersion and Stage are as TeamResponse's.
	IsComponent    bool   `json:"is_component"`
	CurrentVersion *int   `json:"current_version,omitempty"`
	Stage          string `json:"stage,omitempty"`
}

// componentOf is what a listing says of a component's runnable:
// is_component, current_version, stage.
func componentOf(i core.AgentInfo) (bool, *int, string) {
	if i.Component == nil {
		return false, nil, ""
	}
	v := i.Component.Version
	return true, &v, i.Component.Stage
}

// WorkflowStep is one step of a WorkflowResponse (agno's step dicts: name,
// type, description, the agent or team it runs, and nested steps).
type WorkflowStep struct {
	Name        string         `json:"name"`
	StepType    string         `json:"step_type"`
	Description string         `json:"description,omitempty"`
	Agent       *AgentResponse `json:"agent,omitempty"`
	Team        *TeamResponse  `json:"team,omitempty"`
	Steps       []WorkflowStep `json:"steps,omitempty"`
}

// infoOf is the registered runnable's info, or i when it is not
// registered (a member known only by its description).
func (h *Handler) infoOf(i core.AgentInfo) core.AgentInfo {
	if r, err := h.eng.Runnable(i.KindOf(), i.ID); err == nil {
		return r.Info()
	}
	return i
}

func (h *Handler) teamResponse(i core.AgentInfo, depth int) TeamResponse {
	r := TeamResponse{ID: i.ID, Name: i.Name, DBID: h.dbID(), Description: i.Description, Model: i.Model, Mode: i.Mode,
		Streaming: AgentStreaming{Stream: true}}
	r.IsComponent, r.CurrentVersion, r.Stage = componentOf(i)
	if i.Instructions != "" {
		r.SystemMessage = &AgentSystem{Instructions: i.Instructions}
	}
	for _, m := range i.Members {
		m = h.infoOf(m)
		if m.KindOf() == core.KindTeam && depth < maxNesting {
			r.Members = append(r.Members, h.teamResponse(m, depth+1))
		} else {
			r.Members = append(r.Members, h.agentInfoResponse(m))
		}
	}
	return r
}

// maxNesting bounds how deep nested teams are described.
const maxNesting = 8

func (h *Handler) agentInfoResponse(i core.AgentInfo) AgentResponse {
	r := AgentResponse{ID: i.ID, Name: i.Name, DBID: h.dbID(), Description: i.Description, Model: i.Model,
		Streaming: AgentStreaming{Stream: true}}
	r.IsComponent, r.CurrentVersion, r.Stage = componentOf(i)
	if len(i.Tools) > 0 {
		r.Tools = &AgentTools{Tools: i.Tools}
	}
	if i.Instructions != "" {
		r.SystemMessage = &AgentSystem{Instructions: i.Instructions}
	}
	return r
}

func (h *Handler) workflowResponse(i core.AgentInfo) WorkflowResponse {
	r := WorkflowResponse{ID: i.ID, Name: i.Name, DBID: h.dbID(), Description: i.Description, Steps: h.workflowSteps(i.Steps, 0)}
	r.IsComponent, r.CurrentVersion, r.Stage = componentOf(i)
	return r
}

func (h *Handler) workflowSteps(steps []core.StepInfo, depth int) []WorkflowStep {
	var out []WorkflowStep
	for _, s := range steps {
		w := WorkflowStep{Name: s.Name, StepType: s.StepType, Description: s.Description}
		if s.Executor != nil {
			info := h.infoOf(core.AgentInfo{ID: s.Executor.ID, Kind: s.Executor.Kind})
			switch s.Executor.Kind.OrAgent() {
			case core.KindTeam:
				t := h.teamResponse(info, 1)
				w.Team = &t
			case core.KindAgent:
				a := h.agentInfoResponse(info)
				w.Agent = &a
			}
		}
		if depth < maxNesting {
			w.Steps = h.workflowSteps(s.Steps, depth+1)
		}
		out = append(out, w)
	}
	return out
}

// summaries are /config's summaries of the runnables of kind k the
// principal may read.
func (h *Handler) summaries(ctx context.Context, k core.Kind, resource string) []AgentSummary {
	out := []AgentSummary{}
	see := visible(ctx, resource, auth.ActionRead)
	for _, r := range h.eng.Runnables(k) {
		if i := r.Info(); see(i.ID) {
			out = append(out, AgentSummary{ID: i.ID, Name: i.Name, Description: i.Description, DBID: h.dbID(), Model: summaryModel(i.Model)})
		}
	}
	return out
}

// runnableRoutes are GET /teams, /teams/{team_id}, /workflows and
// /workflows/{workflow_id}.
func (h *Handler) runnableRoutes() []Route {
	teams, workflows := families[1], families[2]
	return []Route{
		{Operation: huma.Operation{OperationID: "list-teams", Method: http.MethodGet, Path: "/teams", Summary: "List teams", Tags: teams.Tags},
			Access: listed(auth.ResourceTeams, auth.ActionRead),
			Handle: typed(func(ctx context.Context, _ *struct{}) (*struct{ Body []TeamResponse }, error) {
				out := []TeamResponse{}
				see := visible(ctx, auth.ResourceTeams, auth.ActionRead)
				for _, r := range h.eng.Runnables(core.KindTeam) {
					if i := r.Info(); see(i.ID) {
						out = append(out, h.teamResponse(i, 0))
					}
				}
				return &struct{ Body []TeamResponse }{out}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-team", Method: http.MethodGet, Path: "/teams/{team_id}", Summary: "Get a team", Tags: teams.Tags},
			Access: scoped(auth.ResourceTeams, auth.ActionRead, "team_id"), Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *struct {
				TeamID string `path:"team_id"`
			}) (*struct{ Body TeamResponse }, error) {
				r, err := h.eng.Runnable(core.KindTeam, in.TeamID)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body TeamResponse }{h.teamResponse(r.Info(), 0)}, nil
			})},
		{Operation: huma.Operation{OperationID: "list-workflows", Method: http.MethodGet, Path: "/workflows", Summary: "List workflows", Tags: workflows.Tags},
			Access: listed(auth.ResourceWorkflows, auth.ActionRead),
			Handle: typed(func(ctx context.Context, _ *struct{}) (*struct{ Body []WorkflowResponse }, error) {
				out := []WorkflowResponse{}
				see := visible(ctx, auth.ResourceWorkflows, auth.ActionRead)
				for _, r := range h.eng.Runnables(core.KindWorkflow) {
					if i := r.Info(); see(i.ID) {
						out = append(out, h.workflowResponse(i))
					}
				}
				return &struct{ Body []WorkflowResponse }{out}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-workflow", Method: http.MethodGet, Path: "/workflows/{workflow_id}", Summary: "Get a workflow", Tags: workflows.Tags},
			Access: scoped(auth.ResourceWorkflows, auth.ActionRead, "workflow_id"), Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *struct {
				WorkflowID string `path:"workflow_id"`
			}) (*struct{ Body WorkflowResponse }, error) {
				r, err := h.eng.Runnable(core.KindWorkflow, in.WorkflowID)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body WorkflowResponse }{h.workflowResponse(r.Info())}, nil
			})},
	}
}
