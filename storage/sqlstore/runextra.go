package sqlstore

// The runs table's extra column: the run fields only teams, workflows and
// child runs use, as one JSON value next to the indexed team_id,
// workflow_id and parent_run_id columns. Both backends' run paths encode
// and decode it here.

import (
	"encoding/json"
	"fmt"

	"github.com/agentgate/agentgate/core"
)

// runExtra is the JSON of the runs table's extra column.
type runExtra struct {
	TeamName      string                   `json:"team_name,omitempty"`
	WorkflowName  string                   `json:"workflow_name,omitempty"`
	NestedDepth   int                      `json:"nested_depth,omitempty"`
	StepID        string                   `json:"step_id,omitempty"`
	StepName      string                   `json:"step_name,omitempty"`
	StepIndex     *int                     `json:"step_index,omitempty"`
	SessionState  map[string]any           `json:"session_state,omitempty"`
	StepResults   json.RawMessage          `json:"step_results,omitempty"`
	ScheduleID    string                   `json:"schedule_id,omitempty"`
	ScheduleRunID string                   `json:"schedule_run_id,omitempty"`
	References    []core.MessageReferences `json:"references,omitempty"`
	TraceCarrier  map[string]string        `json:"trace,omitempty"`
	EvalRunID     string                   `json:"eval_run_id,omitempty"`
	Output        *core.RunMedia           `json:"output_media,omitempty"`
	// ComponentVersion is the component version the run runs.
	ComponentVersion int `json:"component_version,omitempty"`
}

// EncodeRunExtra returns r's extra column: nil (NULL) when r has none of them,
// which is every agent run's case.
func EncodeRunExtra(r *core.Run) (any, error) {
	x := runExtra{TeamName: r.TeamName, WorkflowName: r.WorkflowName, NestedDepth: r.NestedDepth,
		StepID: r.StepID, StepName: r.StepName, StepIndex: r.StepIndex,
		SessionState: r.SessionState, StepResults: r.StepResults, ScheduleID: r.ScheduleID, ScheduleRunID: r.ScheduleRunID,
		References: r.References, TraceCarrier: r.TraceCarrier, EvalRunID: r.EvalRunID, ComponentVersion: r.ComponentVersion}
	if len(r.RunMedia.All()) > 0 {
		x.Output = &r.RunMedia
	}
	if x.TeamName == "" && x.WorkflowName == "" && x.NestedDepth == 0 && x.StepID == "" && x.StepName == "" &&
		x.StepIndex == nil && x.SessionState == nil && x.StepResults == nil && x.ScheduleID == "" && x.ScheduleRunID == "" &&
		x.References == nil && x.TraceCarrier == nil && x.EvalRunID == "" && x.ComponentVersion == 0 && x.Output == nil {
		return nil, nil
	}
	b, err := json.Marshal(x)
	if err != nil {
		return nil, fmt.Errorf("encode run %q extra: %w", r.RunID, err)
	}
	return string(b), nil
}

// DecodeRunExtra sets r's extra fields from the column (empty: none).
func DecodeRunExtra(r *core.Run, col []byte) error {
	if len(col) == 0 {
		return nil
	}
	var x runExtra
	if err := json.Unmarshal(col, &x); err != nil {
		return fmt.Errorf("decode run %q extra: %w", r.RunID, err)
	}
	r.TeamName, r.WorkflowName, r.NestedDepth = x.TeamName, x.WorkflowName, x.NestedDepth
	r.StepID, r.StepName, r.StepIndex = x.StepID, x.StepName, x.StepIndex
	r.SessionState, r.StepResults = x.SessionState, x.StepResults
	r.ScheduleID, r.ScheduleRunID = x.ScheduleID, x.ScheduleRunID
	r.References = x.References
	r.TraceCarrier = x.TraceCarrier
	r.EvalRunID = x.EvalRunID
	if x.Output != nil {
		r.RunMedia = *x.Output
	}
	r.ComponentVersion = x.ComponentVersion
	return nil
}
