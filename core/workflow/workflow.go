// Package workflow runs agno-style workflows on the engine: steps that run
// an agent, a team or a Go function, grouped in sequences (steps), run in
// parallel, under a condition, in a loop, or chosen by a router. A
// workflow is a core.Runnable of kind workflow: its agent and team steps
// are child runs (their events nested in the workflow's stream), its
// step outputs feed the next step and end up as step_results on the run.
//
// Expressions (conditions, loop end conditions, router selectors, step
// inputs) are github.com/expr-lang/expr programs over Env, compiled when
// the workflow is built and evaluated when it runs.
package workflow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/agentgate/agentgate/core"
)

// StepType is a step's kind.
type StepType string

const (
	TypeStep      StepType = "step"      // runs an agent, a team or a function
	TypeSteps     StepType = "steps"     // its Steps in sequence
	TypeParallel  StepType = "parallel"  // its Steps concurrently, outputs collected
	TypeCondition StepType = "condition" // its Steps when Condition holds (else Else)
	TypeLoop      StepType = "loop"      // its Steps up to MaxIterations times, until EndCondition
	TypeRouter    StepType = "router"    // the Choices Selector names
)

// agnoType is agno's step_type of a result.
func (t StepType) agnoType() string {
	switch t {
	case TypeSteps:
		return "Steps"
	case TypeParallel:
		return "Parallel"
	case TypeCondition:
		return "Condition"
	case TypeLoop:
		return "Loop"
	case TypeRouter:
		return "Router"
	}
	return "Step"
}

// OnError is what a failing step does to its workflow.
type OnError string

const (
	// OnErrorFail (the default) ends the workflow with WorkflowError.
	OnErrorFail OnError = "fail"
	// OnErrorSkip records the failure and goes on; the next step gets the
	// failed step's input.
	OnErrorSkip OnError = "skip"
	// OnErrorContinue records the failure and goes on; the next step gets
	// the failed step's (empty) output.
	OnErrorContinue OnError = "continue"
)

// StepInput is what a function step receives.
type StepInput struct {
	// Input is the workflow's input.
	Input string
	// PreviousContent is the previous step's output (the step's own input
	// unless the step configures one).
	PreviousContent string
	// Message is the step's input: PreviousContent, or what the step's
	// Input expression gave.
	Message string
	// Previous are the earlier steps' results, by step name.
	Previous map[string]StepResult
	// UserInput are the values supplied for a step that requires user
	// input.
	UserInput map[string]any
	// SessionState is the session's state when the workflow started.
	SessionState map[string]any
	// Media are the workflow's input media (references to the media
	// store; the agent and team steps' models are given their bytes).
	Media []core.MediaRef
}

// StepOutput is what a function step returns.
type StepOutput struct {
	Content string
}

// FuncType is a function step's body.
type FuncType func(ctx context.Context, in StepInput) (StepOutput, error)

// Function is a named Go function a step runs.
type Function struct {
	Name string
	Fn   FuncType
}

// Func names a Go function for a step (Step.Func).
func Func(name string, fn FuncType) *Function { return &Function{Name: name, Fn: fn} }

// Step is one step of a workflow. Type selects which fields apply.
type Step struct {
	Name        string
	Description string
	Type        StepType // empty: TypeStep
	// A TypeStep runs exactly one of Agent, Team and Func.
	Agent string
	Team  string
	Func  *Function
	// Input, when set, is a string expression giving the step's input
	// (default: the previous step's output).
	Input string
	// Step-level human in the loop, before the step runs.
	RequiresConfirmation bool
	ConfirmationMessage  string
	RequiresUserInput    bool
	UserInputMessage     string
	UserInputSchema      []core.UserInputField
	OnError              OnError
	// Steps are the children of steps, parallel, condition and loop.
	Steps []Step
	// Else runs when a condition does not hold.
	Else []Step
	// Condition is a condition's boolean expression.
	Condition string
	// MaxIterations (default 3) and EndCondition (a boolean expression,
	// checked after each iteration) bound a loop.
	MaxIterations int
	EndCondition  string
	// Selector is a router's expression giving the name of one of its
	// Choices (or a list of names, run in order). Instead of a selector,
	// a router may set Agent: that agent is asked, with the choices'
	// names and descriptions, which one fits the input; the first
	// choice name its answer contains is run.
	Selector string
	Choices  []Step
}

// Definition is a workflow: an id, a name and its steps, run in sequence.
type Definition struct {
	ID          string
	Name        string
	Description string
	Steps       []Step
}

// Options check a definition's targets when it is built.
type Options struct {
	// Known reports whether the agent or team a step runs exists; nil
	// accepts any (a missing one fails the step at run time).
	Known func(kind core.Kind, id string) bool
}

// DefaultMaxIterations is a loop's bound when it sets none.
const DefaultMaxIterations = 3

// Workflow is a built workflow, a core.Runnable of kind workflow.
type Workflow struct {
	def   Definition
	steps []*node
}

// node is a compiled step.
type node struct {
	Step
	id       string // stable over runs and replicas: its path ("step_1_0")
	index    int    // within its parent
	path     string // names from the top ("drafts/summary"), for errors
	input    *Expr
	cond     *Expr
	end      *Expr
	sel      *Expr
	children []*node
	els      []*node
	choices  []*node
}

// New builds (and checks) a workflow: every step has a name unique among
// its siblings, one target, valid expressions; a router has choices and
// its selector names only them.
func New(def Definition, opts Options) (*Workflow, error) {
	if strings.TrimSpace(def.ID) == "" {
		return nil, errors.New("workflow: id is required")
	}
	if len(def.Steps) == 0 {
		return nil, fmt.Errorf("workflow %s: it has no steps", def.ID)
	}
	if def.Name == "" {
		def.Name = def.ID
	}
	var errs []error
	steps := compileList(def.Steps, "step", "", opts, &errs)
	if len(errs) > 0 {
		for i, err := range errs {
			errs[i] = fmt.Errorf("workflow %s: %w", def.ID, err)
		}
		return nil, errors.Join(errs...)
	}
	return &Workflow{def: def, steps: steps}, nil
}

func compileList(steps []Step, idPrefix, pathPrefix string, opts Options, errs *[]error) []*node {
	seen := map[string]bool{}
	out := make([]*node, 0, len(steps))
	for i, s := range steps {
		n := &node{Step: s, id: idPrefix + "_" + strconv.Itoa(i), index: i}
		label := s.Name
		if label == "" {
			label = "#" + strconv.Itoa(i)
		}
		n.path = pathPrefix + label
		switch {
		case strings.TrimSpace(s.Name) == "":
			*errs = append(*errs, fmt.Errorf("step %s: a step needs a name", n.path))
		case seen[s.Name]:
			*errs = append(*errs, fmt.Errorf("step %s: the name %q is used twice at this level", n.path, s.Name))
		}
		seen[s.Name] = true
		n.compile(opts, errs)
		out = append(out, n)
	}
	return out
}

func (n *node) fail(errs *[]error, format string, args ...any) {
	*errs = append(*errs, fmt.Errorf("step %s: %s", n.path, fmt.Sprintf(format, args...)))
}

func (n *node) expr(src string, kind exprKind, errs *[]error) *Expr {
	e, err := compileExpr(src, kind)
	if err != nil {
		n.fail(errs, "%v", err)
	}
	return e
}

func (n *node) compile(opts Options, errs *[]error) {
	if n.Type == "" {
		n.Type = TypeStep
	}
	if n.Input != "" {
		n.input = n.expr(n.Input, stringExpr, errs)
	}
	switch n.OnError {
	case "", OnErrorFail, OnErrorSkip, OnErrorContinue:
	default:
		n.fail(errs, "on_error must be fail, skip or continue, not %q", n.OnError)
	}
	if n.Type != TypeStep && (n.RequiresConfirmation || n.RequiresUserInput) {
		n.fail(errs, "requires_confirmation and requires_user_input apply to steps of type step")
	}
	if n.RequiresUserInput && len(n.UserInputSchema) == 0 {
		n.fail(errs, "requires_user_input needs a user_input_schema (the fields asked for)")
	}
	for _, f := range n.UserInputSchema {
		if f.Name == "" {
			n.fail(errs, "a user_input_schema field needs a name")
		}
	}
	sub := n.path + "/"
	switch n.Type {
	case TypeStep:
		targets := 0
		for _, set := range []bool{n.Agent != "", n.Team != "", n.Func != nil} {
			if set {
				targets++
			}
		}
		if targets != 1 {
			n.fail(errs, "a step runs exactly one of an agent, a team or a function")
		}
		if n.Func != nil && n.Func.Fn == nil {
			n.fail(errs, "function %q has no body", n.Func.Name)
		}
		if opts.Known != nil && n.Agent != "" && !opts.Known(core.KindAgent, n.Agent) {
			n.fail(errs, "agent %q is not declared", n.Agent)
		}
		if opts.Known != nil && n.Team != "" && !opts.Known(core.KindTeam, n.Team) {
			n.fail(errs, "team %q is not declared", n.Team)
		}
		if len(n.Steps) > 0 || len(n.Choices) > 0 {
			n.fail(errs, "a step of type step has no steps or choices")
		}
	case TypeSteps, TypeParallel, TypeCondition, TypeLoop:
		if len(n.Steps) == 0 {
			n.fail(errs, "a %s step needs steps", n.Type)
		}
		n.children = compileList(n.Steps, n.id, sub, opts, errs)
		if n.Type == TypeCondition {
			n.cond = n.expr(n.Condition, boolExpr, errs)
			n.els = compileList(n.Else, n.id+"_else", sub+"else/", opts, errs)
		} else if n.Condition != "" || len(n.Else) > 0 {
			n.fail(errs, "condition and else apply to condition steps")
		}
		if n.Type == TypeLoop {
			if n.MaxIterations < 0 {
				n.fail(errs, "max_iterations must not be negative")
			}
			if n.MaxIterations == 0 {
				n.MaxIterations = DefaultMaxIterations
			}
			if n.EndCondition != "" {
				n.end = n.expr(n.EndCondition, boolExpr, errs)
			}
		}
	case TypeRouter:
		if len(n.Choices) == 0 {
			n.fail(errs, "a router needs choices (its routes)")
		}
		n.choices = compileList(n.Choices, n.id, sub, opts, errs)
		if n.Agent != "" || n.Team != "" || n.Func != nil {
			if n.Selector != "" || n.Team != "" || n.Func != nil {
				n.fail(errs, "a router selects with a selector expression or an agent, not both (nor a team or function)")
			}
			if opts.Known != nil && n.Agent != "" && !opts.Known(core.KindAgent, n.Agent) {
				n.fail(errs, "agent %q is not declared", n.Agent)
			}
		} else if n.sel = n.expr(n.Selector, choiceExpr, errs); n.sel != nil {
			for _, name := range n.sel.literalChoices() {
				if n.choice(name) == nil {
					n.fail(errs, "the selector names %q, which is not one of its choices", name)
				}
			}
		}
	default:
		n.fail(errs, "unknown step type %q (step, steps, parallel, condition, loop, router)", n.Type)
	}
}

func (n *node) choice(name string) *node {
	for _, c := range n.choices {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Info describes the workflow (kind workflow, its steps).
func (w *Workflow) Info() core.AgentInfo {
	return core.AgentInfo{ID: w.def.ID, Name: w.def.Name, Description: w.def.Description,
		Kind: core.KindWorkflow, Steps: infos(w.steps)}
}

func infos(ns []*node) []core.StepInfo {
	out := make([]core.StepInfo, 0, len(ns))
	for _, n := range ns {
		si := core.StepInfo{Name: n.Name, StepType: string(n.Type), Description: n.Description}
		switch {
		case n.Agent != "":
			si.Executor = &core.Ref{Kind: core.KindAgent, ID: n.Agent}
		case n.Team != "":
			si.Executor = &core.Ref{Kind: core.KindTeam, ID: n.Team}
		}
		kids := append(append(append([]*node{}, n.children...), n.els...), n.choices...)
		if len(kids) > 0 {
			si.Steps = infos(kids)
		}
		out = append(out, si)
	}
	return out
}
