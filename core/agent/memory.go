package agent

// The agent's memory of its users (agno's MemoryManager): the user's
// memories given to the model as context, extracted and updated by a model
// after each run (update_on_run), and tools the model calls to change them
// itself (agentic).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/memory"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/tool"
)

// MemoryStore is what an agent's memory needs of the memories' store
// (memory.Store has it).
type MemoryStore interface {
	CreateMemory(ctx context.Context, m *memory.Memory) error
	GetMemory(ctx context.Context, id string) (*memory.Memory, error)
	UpdateMemory(ctx context.Context, m *memory.Memory) error
	DeleteMemories(ctx context.Context, userID string, ids []string) (int, error)
	ListMemories(ctx context.Context, f memory.Filter) ([]memory.Memory, int, error)
}

// MemoryConfig gives an agent memory of the users it runs for (the run's
// user id; a run without one neither reads nor writes memories).
type MemoryConfig struct {
	Store MemoryStore
	// UpdateOnRun: after each run's reply, Model extracts new and changed
	// memories from the user's message (MemoryUpdateStarted and
	// MemoryUpdateCompleted, with the user's memories after).
	UpdateOnRun bool
	// Agentic gives the model the tools add_memory, update_memory and
	// delete_memory, acting on the run's user's memories only.
	Agentic bool
	// Model is the memory manager's model (nil: the agent's).
	Model model.Model
	// ContextLimit is how many of the user's newest memories are given to
	// the model (0: 50; negative: none).
	ContextLimit int
}

// Limits of what a memory manager's model may write.
const (
	maxMemoryLen   = 5000 // AgentOS's limit of a memory's text
	maxMemoryOps   = 20   // operations applied from one extraction
	managerMemList = 100  // memories shown to the manager
)

// MemoryManagerMarker is in the memory manager's instructions, so a
// scripted model can tell its requests from the agent's.
const MemoryManagerMarker = "You are the memory manager"

const managerPrompt = MemoryManagerMarker + ` of an AI assistant. From the user's latest message, decide what is worth remembering about the user for future conversations: facts, preferences, goals, circumstances. Do not store anything about the assistant or one-off requests.
Answer with only a JSON array of operations, [] when nothing changes:
  {"op": "add", "memory": "<one fact, third person>", "topics": ["<topic>"]}
  {"op": "update", "id": "<memory id>", "memory": "<new text>", "topics": ["<topic>"]}
  {"op": "delete", "id": "<memory id>"}
Update or delete an existing memory instead of adding one that contradicts or repeats it.`

// memoryContext is the section of the instructions that gives the model
// the user's memories ("" when there are none or no user).
func (a *Agent) memoryContext(ctx context.Context, run *core.Run) (string, error) {
	mc := a.cfg.Memory
	if mc == nil || run == nil || run.UserID == "" || mc.ContextLimit < 0 {
		return "", nil
	}
	userID := run.UserID
	limit := mc.ContextLimit
	if limit == 0 {
		limit = 50
	}
	mems, _, err := mc.Store.ListMemories(ctx, memory.Filter{UserID: userID, Limit: limit, Page: 1, SortBy: "updated_at", SortOrder: "desc"})
	if err != nil {
		return "", fmt.Errorf("reading the user's memories: %w", err)
	}
	if len(mems) == 0 {
		return "", nil
	}
	var b strings.Builder
	b.WriteString("You have access to memories from previous interactions with the user that you can use:\n<memories_from_previous_interactions>\n")
	for _, m := range mems {
		b.WriteString("- ")
		if mc.Agentic { // the memory tools name memories by id
			b.WriteString("(id " + m.ID + ") ")
		}
		b.WriteString(m.Memory)
		b.WriteByte('\n')
	}
	b.WriteString("</memories_from_previous_interactions>\nUse them to personalise your answers; the user's latest message prevails over a memory.")
	return b.String(), nil
}

// joinSections joins two sections of the instructions (either may be empty).
func joinSections(instructions, mems string) string {
	switch {
	case mems == "":
		return instructions
	case instructions == "":
		return mems
	}
	return instructions + "\n\n" + mems
}

// memoryOp is one operation a memory manager's model answers.
type memoryOp struct {
	Op     string   `json:"op"`
	ID     string   `json:"id"`
	Memory string   `json:"memory"`
	Topics []string `json:"topics"`
}

// parseMemoryOps reads the JSON array of operations in a model's reply:
// the first '[' to the last ']' (models wrap JSON in prose or code
// fences). Malformed operations are left out; a reply without an array is
// an error.
func parseMemoryOps(reply string) ([]memoryOp, error) {
	i, j := strings.IndexByte(reply, '['), strings.LastIndexByte(reply, ']')
	if i < 0 || j < i {
		return nil, errors.New("the memory model's reply has no JSON array")
	}
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(reply[i:j+1]), &raw); err != nil {
		return nil, fmt.Errorf("the memory model's reply is not a JSON array: %v", err)
	}
	var ops []memoryOp
	for _, r := range raw {
		var op memoryOp
		if json.Unmarshal(r, &op) != nil {
			continue
		}
		op.Op = strings.ToLower(strings.TrimSpace(op.Op))
		op.ID = strings.TrimSpace(op.ID)
		op.Memory = strings.TrimSpace(op.Memory)
		switch {
		case op.Op == "add" && op.Memory != "",
			op.Op == "update" && op.ID != "" && op.Memory != "",
			op.Op == "delete" && op.ID != "":
			ops = append(ops, op)
		}
		if len(ops) == maxMemoryOps {
			break
		}
	}
	return ops, nil
}

// cleanTopics is a model's topics lower-cased and normalised as the
// memories' service does (memory.NormalizeTopics); topics it refuses (too
// many, too long) are dropped, never the memory.
func cleanTopics(in []string) []string {
	low := make([]string, len(in))
	for i, t := range in {
		low[i] = strings.ToLower(t)
	}
	out, err := memory.NormalizeTopics(low)
	if err != nil || out == nil {
		return []string{}
	}
	return out
}

// clip bounds a memory's text to AgentOS's limit, on a rune boundary.
func clip(s string) string {
	if len(s) <= maxMemoryLen {
		return s
	}
	s = s[:maxMemoryLen]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// memoryWriter writes one user's memories on behalf of a run.
type memoryWriter struct {
	store   MemoryStore
	userID  string
	agentID string
	teamID  string
	input   string
}

func (w memoryWriter) add(ctx context.Context, text string, topics []string) (*memory.Memory, error) {
	now := time.Now().Unix()
	m := &memory.Memory{
		ID: uuid.NewString(), Memory: clip(text), Topics: cleanTopics(topics),
		UserID: w.userID, AgentID: w.agentID, TeamID: w.teamID, Input: clip(w.input),
		CreatedAt: now, UpdatedAt: now,
	}
	return m, w.store.CreateMemory(ctx, m)
}

// own reads a memory of the writer's user: another user's is not found.
func (w memoryWriter) own(ctx context.Context, id string) (*memory.Memory, error) {
	m, err := w.store.GetMemory(ctx, id)
	if err == nil && m.UserID != w.userID {
		err = core.ErrNotFound
	}
	if errors.Is(err, core.ErrNotFound) {
		return nil, fmt.Errorf("no memory %q of this user", id)
	}
	return m, err
}

func (w memoryWriter) update(ctx context.Context, id, text string, topics []string) (*memory.Memory, error) {
	m, err := w.own(ctx, id)
	if err != nil {
		return nil, err
	}
	m.Memory = clip(text)
	if topics != nil {
		m.Topics = cleanTopics(topics)
	}
	m.UpdatedAt = time.Now().Unix()
	return m, w.store.UpdateMemory(ctx, m)
}

func (w memoryWriter) delete(ctx context.Context, id string) error {
	if _, err := w.own(ctx, id); err != nil {
		return err
	}
	_, err := w.store.DeleteMemories(ctx, w.userID, []string{id})
	return err
}

// writerFor is the memory writer of run (ok false without a user).
func (a *Agent) writerFor(run *core.Run, input string) (memoryWriter, bool) {
	if a.cfg.Memory == nil || run == nil || run.UserID == "" {
		return memoryWriter{}, false
	}
	return memoryWriter{store: a.cfg.Memory.Store, userID: run.UserID, agentID: a.cfg.ID, teamID: run.TeamID, input: input}, true
}

// updateMemories is update_on_run: the memory manager's model reads the
// user's message and memories and its operations are applied; the events
// around it carry the user's memories after. The manager's failure does
// not fail the run (the completed event then carries the memories as they
// were); a failure to emit does.
func (a *Agent) updateMemories(ctx context.Context, x *core.Execution, input string) error {
	w, ok := a.writerFor(x.Run, input)
	if !ok || !a.cfg.Memory.UpdateOnRun || strings.TrimSpace(input) == "" {
		return nil
	}
	if err := x.Emit(ctx, core.Event{Event: core.EventMemoryUpdateStarted}); err != nil {
		return err
	}
	a.extract(ctx, w, input) // best effort
	mems, _, err := w.store.ListMemories(ctx, memory.Filter{UserID: w.userID, Limit: managerMemList, Page: 1})
	ev := core.Event{Event: core.EventMemoryUpdateCompleted}
	if err == nil {
		if mems == nil {
			mems = []memory.Memory{}
		}
		if raw, err := json.Marshal(mems); err == nil {
			ev.Detail().Memories = raw
		}
	}
	return x.Emit(ctx, ev)
}

// extract asks the manager's model for operations and applies them; it
// reports how many were applied.
func (a *Agent) extract(ctx context.Context, w memoryWriter, input string) (int, error) {
	existing, _, err := w.store.ListMemories(ctx, memory.Filter{UserID: w.userID, Limit: managerMemList, Page: 1})
	if err != nil {
		return 0, err
	}
	var sys strings.Builder
	sys.WriteString(managerPrompt)
	sys.WriteString("\n\nThe user's memories:\n")
	if len(existing) == 0 {
		sys.WriteString("(none)\n")
	}
	for _, m := range existing {
		fmt.Fprintf(&sys, "- id %s: %s\n", m.ID, m.Memory)
	}
	mm := a.cfg.Memory.Model
	if mm == nil {
		mm = a.cfg.Model
	}
	resp, err := mm.Generate(ctx, model.Request{Messages: []core.Message{
		{Role: "system", Content: sys.String()},
		{Role: "user", Content: input},
	}}, func(model.Delta) error { return nil })
	if err != nil {
		return 0, err
	}
	ops, err := parseMemoryOps(resp.Content)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, op := range ops {
		var err error
		switch op.Op {
		case "add":
			_, err = w.add(ctx, op.Memory, op.Topics)
		case "update":
			_, err = w.update(ctx, op.ID, op.Memory, op.Topics)
		case "delete":
			err = w.delete(ctx, op.ID)
		}
		if err == nil {
			n++
		}
	}
	return n, nil
}

// memoryTools are the agentic memory tools: they act on the memories of
// the user of the run that calls them.
func (a *Agent) memoryTools() []*tool.Tool {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	topics := map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "description": "Short topics of the memory."}
	writer := func(ctx context.Context) (memoryWriter, error) {
		run, _ := core.RunFromContext(ctx)
		w, ok := a.writerFor(run, "")
		if !ok {
			return w, errors.New("memories need a user: this run has no user_id")
		}
		return w, nil
	}
	type args struct {
		ID     string   `json:"memory_id"`
		Memory string   `json:"memory"`
		Topics []string `json:"topics"`
	}
	parse := func(raw json.RawMessage) (args, error) {
		var v args
		if err := json.Unmarshal(raw, &v); err != nil {
			return v, fmt.Errorf("arguments are not a JSON object of the schema: %v", err)
		}
		v.ID, v.Memory = strings.TrimSpace(v.ID), strings.TrimSpace(v.Memory)
		return v, nil
	}
	return []*tool.Tool{
		{
			Name:        "add_memory",
			Description: "Remember a fact about the user for future conversations.",
			Parameters:  map[string]any{"type": "object", "properties": map[string]any{"memory": str("The fact, in the third person."), "topics": topics}, "required": []any{"memory"}},
			Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
				v, err := parse(raw)
				if err == nil && v.Memory == "" {
					err = errors.New("memory is required")
				}
				if err != nil {
					return "", err
				}
				w, err := writer(ctx)
				if err != nil {
					return "", err
				}
				m, err := w.add(ctx, v.Memory, v.Topics)
				if err != nil {
					return "", err
				}
				return "Memory added: " + m.ID, nil
			},
		},
		{
			Name:        "update_memory",
			Description: "Replace the text (and topics) of one of the user's memories.",
			Parameters:  map[string]any{"type": "object", "properties": map[string]any{"memory_id": str("The memory's id."), "memory": str("The new text."), "topics": topics}, "required": []any{"memory_id", "memory"}},
			Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
				v, err := parse(raw)
				if err == nil && (v.ID == "" || v.Memory == "") {
					err = errors.New("memory_id and memory are required")
				}
				if err != nil {
					return "", err
				}
				w, err := writer(ctx)
				if err != nil {
					return "", err
				}
				if _, err := w.update(ctx, v.ID, v.Memory, v.Topics); err != nil {
					return "", err
				}
				return "Memory updated: " + v.ID, nil
			},
		},
		{
			Name:        "delete_memory",
			Description: "Forget one of the user's memories.",
			Parameters:  map[string]any{"type": "object", "properties": map[string]any{"memory_id": str("The memory's id.")}, "required": []any{"memory_id"}},
			Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
				v, err := parse(raw)
				if err == nil && v.ID == "" {
					err = errors.New("memory_id is required")
				}
				if err != nil {
					return "", err
				}
				w, err := writer(ctx)
				if err != nil {
					return "", err
				}
				if err := w.delete(ctx, v.ID); err != nil {
					return "", err
				}
				return "Memory deleted: " + v.ID, nil
			},
		},
	}
}
