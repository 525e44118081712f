// Package team is agno's Team as a runnable: a leader model and members
// (agents, remote agents, nested teams), in one of four modes —
// coordinate (the leader delegates with a tool and synthesises), route
// (the leader picks one member whose answer is the reply), broadcast (every
// member at once, then the leader or a join) and tasks (the leader keeps a
// task list). Every member's execution is a child run (core.ChildParams),
// so its events are forwarded into the team's stream and a member that
// pauses pauses the team; continue resumes the member, then the team,
// from the state it stored (on any replica).
package team

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/model/mediaprep"
)

// Mode is how a team uses its members.
type Mode string

const (
	// Coordinate: the leader delegates tasks to members with the
	// delegate_task_to_member tool and writes the answer (the default).
	Coordinate Mode = "coordinate"
	// Route: the leader picks one member; that member's answer is the
	// team's, verbatim (agno's respond_directly).
	Route Mode = "route"
	// Broadcast: every member gets the message in parallel; the leader
	// synthesises their answers (without a leader: they are joined).
	Broadcast Mode = "broadcast"
	// Tasks: the leader keeps a task list, executing tasks through
	// members, in iterations bounded by MaxIterations.
	Tasks Mode = "tasks"
)

// Valid reports whether m is one of the modes (empty: coordinate).
func (m Mode) Valid() bool {
	switch m {
	case "", Coordinate, Route, Broadcast, Tasks:
		return true
	}
	return false
}

// OnMemberError says what a member that ends in error does to the team.
const (
	// TellLeader gives the error text to the leader as the tool's result
	// (the default).
	TellLeader = "tell_leader"
	// Fail ends the team's run with RunError naming the member.
	Fail = "fail"
)

// Member is one member of a team: an agent (local or remote) or a team.
type Member struct {
	Kind        core.Kind // empty: an agent
	ID          string
	Name        string
	Description string
}

// Config describes a team.
type Config struct {
	ID           string
	Name         string
	Description  string
	Instructions string
	// ModelName is the configured name of the leader's model; Model is
	// the model (optional in broadcast mode only).
	ModelName string
	Model     model.Model
	Members   []Member
	Mode      Mode
	// MaxParallel bounds the members a broadcast runs at once (default 4).
	MaxParallel int
	// StreamMemberEvents forwards the members' events into the team's
	// stream (default true); false forwards only their start and end.
	StreamMemberEvents *bool
	// OnMemberError is TellLeader (default) or Fail.
	OnMemberError string
	// MaxIterations bounds the tasks mode's iterations (default 10).
	MaxIterations int
	// MaxTurns bounds the leader's model requests in coordinate and route
	// mode (default 10).
	MaxTurns int
}

// Team is a team runnable. It is safe for concurrent runs.
type Team struct {
	cfg     Config
	members map[string]Member
	info    core.AgentInfo
	tools   []core.ToolInfo
	quiet   bool
}

// New validates cfg and returns the team.
func New(cfg Config) (*Team, error) {
	if cfg.ID == "" {
		return nil, errors.New("team: id is required")
	}
	if cfg.Name == "" {
		cfg.Name = cfg.ID
	}
	if cfg.Mode == "" {
		cfg.Mode = Coordinate
	}
	if !cfg.Mode.Valid() {
		return nil, fmt.Errorf("team %s: unknown mode %q (coordinate, route, broadcast or tasks)", cfg.ID, cfg.Mode)
	}
	if cfg.Model == nil && cfg.Mode != Broadcast {
		return nil, fmt.Errorf("team %s: mode %s needs a leader model", cfg.ID, cfg.Mode)
	}
	if len(cfg.Members) == 0 {
		return nil, fmt.Errorf("team %s: no members", cfg.ID)
	}
	switch cfg.OnMemberError {
	case "":
		cfg.OnMemberError = TellLeader
	case TellLeader, Fail:
	default:
		return nil, fmt.Errorf("team %s: on_member_error must be fail or tell_leader, not %q", cfg.ID, cfg.OnMemberError)
	}
	if cfg.MaxParallel <= 0 {
		cfg.MaxParallel = 4
	}
	if cfg.MaxIterations <= 0 {
		cfg.MaxIterations = 10
	}
	if cfg.MaxTurns <= 0 {
		cfg.MaxTurns = 10
	}
	t := &Team{members: map[string]Member{}}
	t.quiet = cfg.StreamMemberEvents != nil && !*cfg.StreamMemberEvents
	t.info = core.AgentInfo{ID: cfg.ID, Name: cfg.Name, Description: cfg.Description, Instructions: cfg.Instructions,
		Kind: core.KindTeam, Mode: string(cfg.Mode)}
	if cfg.Model != nil {
		t.info.Model = &core.ModelInfo{Name: cfg.ModelName, Model: cfg.Model.ID(), Provider: cfg.Model.Provider()}
	}
	cfg.Members = append([]Member(nil), cfg.Members...)
	for i := range cfg.Members {
		m := &cfg.Members[i]
		if m.ID == "" {
			return nil, fmt.Errorf("team %s: a member has no id", cfg.ID)
		}
		if m.Kind == core.KindTeam && m.ID == cfg.ID {
			return nil, fmt.Errorf("team %s: a team cannot be its own member", cfg.ID)
		}
		if _, dup := t.members[m.ID]; dup {
			return nil, fmt.Errorf("team %s: member %q listed twice", cfg.ID, m.ID)
		}
		if m.Name == "" {
			m.Name = m.ID
		}
		t.members[m.ID] = *m
		t.info.Members = append(t.info.Members, core.AgentInfo{ID: m.ID, Name: m.Name, Description: m.Description, Kind: m.Kind})
	}
	t.cfg = cfg
	t.tools = t.leaderTools()
	t.info.Tools = t.tools
	return t, nil
}

// Info implements core.Agent.
func (t *Team) Info() core.AgentInfo { return t.info }

// state is a team run's progress: what a paused team stores (in
// PausedState.Runnable) to go on from where it was, on any replica.
type state struct {
	// Messages are the leader's conversation so far.
	Messages []core.Message `json:"messages,omitempty"`
	RunStart int            `json:"run_start"`
	Turns    int            `json:"turns"`
	Metrics  core.Metrics   `json:"metrics"`
	// Tools are the leader's tool executions that ended.
	Tools []core.ToolExecution `json:"tools,omitempty"`
	// Calls are the leader's tool calls of the current turn not yet
	// executed.
	Calls []core.ToolCall `json:"calls,omitempty"`
	// Paused is the member whose pause paused the team; Queue the
	// broadcast's other paused members, resumed one after another.
	Paused *pausedMember  `json:"paused,omitempty"`
	Queue  []pausedMember `json:"queue,omitempty"`
	// Answers are a broadcast's member answers, in member order.
	Answers []answer `json:"answers,omitempty"`
	// Tasks mode.
	TaskList     []task `json:"tasks,omitempty"`
	NextTask     int    `json:"next_task"`
	Iteration    int    `json:"iteration"`
	GoalComplete bool   `json:"goal_complete,omitempty"`
	Summary      string `json:"summary,omitempty"`
	// Input is the run's message.
	Input string `json:"input"`
	// State is the session state shared with the members.
	State map[string]any `json:"session_state,omitempty"`

	// media keeps the bytes of the media the leader's requests carry
	// (this execution's, never stored).
	media mediaprep.Cache
}

// pausedMember is a member's paused child run and the leader's tool call
// (if any) that waits for it.
type pausedMember struct {
	Member       Member                `json:"member"`
	RunID        string                `json:"run_id"`
	Call         *core.ToolExecution   `json:"call,omitempty"`
	TaskID       string                `json:"task_id,omitempty"`
	Index        int                   `json:"index"` // a broadcast's member index
	Pending      []core.ToolExecution  `json:"pending"`
	Requirements []core.RunRequirement `json:"requirements,omitempty"`
}

// answer is one member's answer in a broadcast.
type answer struct {
	MemberID string `json:"member_id"`
	Name     string `json:"name"`
	Content  string `json:"content"`
	Done     bool   `json:"done"`
}

// Execute implements core.Agent.
func (t *Team) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	if x.RunChild == nil {
		return nil, errors.New("team: executed outside an engine (no RunChild)")
	}
	st := &state{}
	if x.Resume != nil {
		if err := json.Unmarshal(x.Resume.Runnable, st); err != nil {
			return nil, fmt.Errorf("team %s: the paused state is unreadable: %w", t.cfg.ID, err)
		}
		if st.Paused == nil {
			return nil, fmt.Errorf("team %s: the paused state names no paused member", t.cfg.ID)
		}
	} else {
		st.Input = x.Message
		st.State = maps.Clone(x.SessionState)
		if st.State == nil {
			st.State = map[string]any{}
		}
	}
	if t.cfg.Mode == Broadcast {
		return t.broadcast(ctx, x, st)
	}
	return t.lead(ctx, x, st)
}

// roster describes the members for the leader's system message.
func (t *Team) roster() string {
	var b strings.Builder
	if t.cfg.Instructions != "" {
		b.WriteString(t.cfg.Instructions)
		b.WriteString("\n\n")
	}
	switch t.cfg.Mode {
	case Route:
		b.WriteString("Pick the one member best suited to answer and delegate the request to it with delegate_task_to_member; its answer is given to the user as it is.")
	case Tasks:
		b.WriteString("Break the goal into tasks with create_task (assign each to a member), run them with execute_task, and call mark_all_complete with a summary when the goal is met.")
	case Broadcast:
		b.WriteString("Every member answered the request; synthesise their answers into one reply.")
	default:
		b.WriteString("Delegate tasks to members with delegate_task_to_member, then answer the user from their results.")
	}
	b.WriteString("\n\nMembers:\n")
	for _, m := range t.cfg.Members {
		fmt.Fprintf(&b, "- %s (%s)", m.ID, m.Name)
		if m.Description != "" {
			b.WriteString(": " + m.Description)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// outcome is the team's completed outcome.
func (t *Team) outcome(st *state, content string) *core.Outcome {
	return &core.Outcome{Content: content, Messages: ownMessages(st.Messages, st.RunStart), Tools: st.Tools,
		Metrics: st.Metrics, SessionState: st.State}
}

// paused is the team's outcome when member pm paused it.
func (t *Team) paused(st *state, pm *pausedMember) (*core.Outcome, error) {
	st.Paused = pm
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("team %s: store the paused state: %w", t.cfg.ID, err)
	}
	reqs := make([]core.RunRequirement, len(pm.Requirements))
	for i, r := range pm.Requirements {
		if r.MemberRunID == "" { // a nested team's requirement already names its member
			r.MemberAgentID, r.MemberAgentName, r.MemberRunID = pm.Member.ID, pm.Member.Name, pm.RunID
		}
		reqs[i] = r
	}
	m := st.Metrics
	return &core.Outcome{
		Messages: ownMessages(st.Messages, st.RunStart), Tools: st.Tools, Metrics: st.Metrics, SessionState: st.State,
		Paused:       &core.PausedState{Pending: pm.Pending, Runnable: b, Metrics: &m, Turns: st.Turns},
		Requirements: reqs,
	}, nil
}

// ownMessages is the leader's messages without the session's history
// (the instructions and everything from the run's input on).
func ownMessages(msgs []core.Message, start int) []core.Message {
	if start <= 0 || start > len(msgs) {
		return msgs
	}
	out := make([]core.Message, 0, len(msgs)-start+1)
	if msgs[0].Role == "system" {
		out = append(out, msgs[0])
	}
	return append(out, msgs[start:]...)
}

var _ core.Agent = (*Team)(nil)
