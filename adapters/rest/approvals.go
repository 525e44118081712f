package rest

import (
	"cmp"
	"context"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
)

// ApprovalPage is a page of approvals (AgentOS's
// PaginatedResponse[ApprovalResponse]).
type ApprovalPage struct {
	Data []*core.Approval `json:"data"`
	Meta PageMeta         `json:"meta"`
}

// ApprovalCount is the number of pending approvals.
type ApprovalCount struct {
	Count int `json:"count"`
}

// ApprovalStatusBody is the cheap poll of one approval (AgentOS's
// ApprovalStatusResponse).
type ApprovalStatusBody struct {
	ApprovalID string              `json:"approval_id"`
	Status     core.ApprovalStatus `json:"status"`
	RunID      string              `json:"run_id"`
	ResolvedAt *int64              `json:"resolved_at"`
	ResolvedBy *string             `json:"resolved_by"`
	RunStatus  core.RunStatus      `json:"run_status,omitempty"`
}

// ResolveApprovalBody is the body of POST /approvals/{id}/resolve
// (AgentOS's ApprovalResolve). resolved_by is accepted and ignored: the
// caller's identity is recorded.
type ResolveApprovalBody struct {
	Status         string         `json:"status" enum:"approved,rejected"`
	ResolvedBy     string         `json:"resolved_by,omitempty" maxLength:"255" doc:"Ignored: the authenticated caller is recorded."`
	ResolutionData map[string]any `json:"resolution_data,omitempty" doc:"{\"values\": {...}} for a user-input tool, {\"result\": ...} for an external execution."`
}

// approvalRoutes are the /approvals group: owner-bound records, so a
// non-admin under isolation lists, counts and resolves only their own
// runs' approvals (another's is 404), and deletes none (an approval is an
// audit record).
func (h *Handler) approvalRoutes() []Route {
	tags := []string{"Approvals"}
	const idParam = "approval_id"
	type byID struct {
		ApprovalID string `path:"approval_id"`
	}
	return []Route{
		{Operation: huma.Operation{OperationID: "list-approvals", Method: http.MethodGet, Path: "/approvals", Summary: "List approvals", Tags: tags},
			Access: listed(auth.ResourceApprovals, auth.ActionRead), Owner: OwnerFiltered, Errors: []int{422},
			Handle: typed(func(ctx context.Context, in *struct {
				Status       string `query:"status" enum:"pending,approved,rejected,expired,cancelled"`
				SourceType   string `query:"source_type" enum:"agent,team,workflow"`
				ApprovalType string `query:"approval_type" enum:"required,audit"`
				PauseType    string `query:"pause_type"`
				AgentID      string `query:"agent_id"`
				TeamID       string `query:"team_id"`
				WorkflowID   string `query:"workflow_id"`
				UserID       string `query:"user_id"`
				ScheduleID   string `query:"schedule_id"`
				RunID        string `query:"run_id"`
				Limit        int    `query:"limit" default:"100" minimum:"1" maximum:"1000"`
				Page         int    `query:"page" default:"1" minimum:"1"`
			}) (*struct{ Body ApprovalPage }, error) {
				start := time.Now()
				p := core.ListApprovalsParams{
					SourceType: core.Kind(in.SourceType), ApprovalType: core.ApprovalType(in.ApprovalType), PauseType: in.PauseType,
					AgentID: in.AgentID, TeamID: in.TeamID, WorkflowID: in.WorkflowID, UserID: h.owned(ctx).UserID(in.UserID),
					ScheduleID: in.ScheduleID, RunID: in.RunID, Limit: in.Limit, Page: in.Page,
				}
				if in.Status != "" {
					p.Statuses = []core.ApprovalStatus{core.ApprovalStatus(in.Status)}
				}
				list, total, err := h.listApprovals(ctx, p)
				if err != nil {
					return nil, toAPIError(err)
				}
				if list == nil {
					list = []*core.Approval{}
				}
				meta := PageMeta{Page: in.Page, Limit: in.Limit, TotalCount: total,
					TotalPages: int(math.Ceil(float64(total) / float64(in.Limit))), SearchTimeMS: float64(time.Since(start).Microseconds()) / 1000}
				return &struct{ Body ApprovalPage }{ApprovalPage{Data: list, Meta: meta}}, nil
			})},
		{Operation: huma.Operation{OperationID: "count-approvals", Method: http.MethodGet, Path: "/approvals/count", Summary: "Count pending approvals", Tags: tags},
			Access: listed(auth.ResourceApprovals, auth.ActionRead), Owner: OwnerFiltered,
			Handle: typed(func(ctx context.Context, in *struct {
				UserID string `query:"user_id"`
			}) (*struct{ Body ApprovalCount }, error) {
				_, total, err := h.listApprovals(ctx, core.ListApprovalsParams{
					Statuses: []core.ApprovalStatus{core.ApprovalPending}, UserID: h.owned(ctx).UserID(in.UserID), Limit: 1, Page: 1})
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body ApprovalCount }{ApprovalCount{Count: total}}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-approval-status", Method: http.MethodGet, Path: "/approvals/{approval_id}/status", Summary: "Poll an approval's status", Tags: tags},
			Access: scoped(auth.ResourceApprovals, auth.ActionRead, idParam), Owner: OwnerBound, Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *byID) (*struct{ Body ApprovalStatusBody }, error) {
				a, err := h.approval(ctx, in.ApprovalID)
				if err != nil {
					return nil, toAPIError(err)
				}
				body := ApprovalStatusBody{ApprovalID: a.ID, Status: a.Status, RunID: a.RunID, ResolvedAt: a.ResolvedAt, RunStatus: a.RunStatus}
				if a.ResolvedBy != "" {
					body.ResolvedBy = &a.ResolvedBy
				}
				return &struct{ Body ApprovalStatusBody }{body}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-approval", Method: http.MethodGet, Path: "/approvals/{approval_id}", Summary: "Get an approval", Tags: tags},
			Access: scoped(auth.ResourceApprovals, auth.ActionRead, idParam), Owner: OwnerBound, Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *byID) (*struct{ Body *core.Approval }, error) {
				a, err := h.approval(ctx, in.ApprovalID)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body *core.Approval }{a}, nil
			})},
		{Operation: huma.Operation{OperationID: "resolve-approval", Method: http.MethodPost, Path: "/approvals/{approval_id}/resolve", Summary: "Approve or reject a pending approval", Tags: tags,
			Description: "Records the authenticated caller as resolved_by. An approval marked auto_continue then continues its run by itself; otherwise continue the run with nothing more to send: its decision is read from the store."},
			Access: scoped(auth.ResourceApprovals, auth.ActionWrite, idParam), Owner: OwnerBound, Errors: []int{404, 409, 422},
			Handle: typed(func(ctx context.Context, in *struct {
				ApprovalID string `path:"approval_id"`
				Body       ResolveApprovalBody
			}) (*struct{ Body *core.Approval }, error) {
				if _, err := h.approval(ctx, in.ApprovalID); err != nil {
					return nil, toAPIError(err)
				}
				a, err := h.eng.ResolveApproval(ctx, core.ResolveApprovalParams{ID: in.ApprovalID, Status: core.ApprovalStatus(in.Body.Status),
					ResolvedBy: principal(ctx).Approver(), ResolutionData: in.Body.ResolutionData})
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body *core.Approval }{a}, nil
			})},
		{Operation: huma.Operation{OperationID: "delete-approval", Method: http.MethodDelete, Path: "/approvals/{approval_id}", Summary: "Delete an approval", Tags: tags,
			DefaultStatus: http.StatusNoContent, Description: "Under user isolation only admins delete approvals (they are audit records): anyone else gets 404."},
			Access: scoped(auth.ResourceApprovals, auth.ActionDelete, idParam), Owner: OwnerBound, Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *byID) (*struct{}, error) {
				if h.owned(ctx).Bound() {
					return nil, toAPIError(core.Errorf(core.CodeNotFound, "approval %q not found", in.ApprovalID))
				}
				if err := h.eng.DeleteApproval(ctx, in.ApprovalID); err != nil {
					return nil, toAPIError(err)
				}
				return nil, nil
			})},
	}
}

// listApprovals is ListApprovals under the caller's per-resource scopes: a
// caller admitted by approvals:<id>:read scopes only lists and counts
// those approvals (read one by one, under isolation, filtered and paged
// here: the filter applies before paging and counting, so neither the
// page nor total_count tells of approvals the caller may not see).
func (h *Handler) listApprovals(ctx context.Context, p core.ListApprovalsParams) ([]*core.Approval, int, error) {
	all, ids := principal(ctx).VisibleIDs(auth.ResourceApprovals, auth.ActionRead)
	if all {
		return h.eng.ListApprovals(ctx, p)
	}
	// (The route's enums checked status, source_type and approval_type.)
	var matched []*core.Approval
	for _, id := range ids {
		a, err := h.approval(ctx, id)
		if core.CodeOf(err) == core.CodeNotFound {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		if approvalMatches(a, p) {
			matched = append(matched, a)
		}
	}
	slices.SortFunc(matched, func(a, b *core.Approval) int {
		if c := cmp.Compare(b.CreatedAt, a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	total := len(matched)
	if p.Limit > 0 {
		from := min(max(p.Page-1, 0)*p.Limit, total)
		matched = matched[from:min(from+p.Limit, total)]
	}
	return matched, total, nil
}

// approvalMatches reports whether a passes p's filters (its paging aside).
func approvalMatches(a *core.Approval, p core.ListApprovalsParams) bool {
	if len(p.Statuses) > 0 && !slices.Contains(p.Statuses, a.Status) {
		return false
	}
	for _, f := range [][2]string{
		{string(p.SourceType), string(a.SourceType)}, {string(p.ApprovalType), string(a.ApprovalType)},
		{p.PauseType, a.PauseType}, {p.AgentID, a.AgentID}, {p.TeamID, a.TeamID}, {p.WorkflowID, a.WorkflowID},
		{p.UserID, a.UserID}, {p.ScheduleID, a.ScheduleID}, {p.RunID, a.RunID},
	} {
		if f[0] != "" && f[0] != f[1] {
			return false
		}
	}
	return true
}

// approval reads an approval under the caller's isolation.
func (h *Handler) approval(ctx context.Context, id string) (*core.Approval, error) {
	return h.owned(ctx).Approval(ctx, id)
}
