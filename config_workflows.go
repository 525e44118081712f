package agentgate

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/workflow"
)

// WorkflowConfig declares a workflow (core/workflow): steps run in
// sequence, each on the previous step's output.
type WorkflowConfig struct {
	ID          string               `yaml:"id"`
	Name        string               `yaml:"name"`
	Description string               `yaml:"description"`
	Steps       []WorkflowStepConfig `yaml:"steps"`

	// line is where the entry starts in the YAML (0: not from YAML).
	line int
}

// UnmarshalYAML decodes the entry strictly and keeps its line, so that
// validation errors name it.
func (wc *WorkflowConfig) UnmarshalYAML(node ast.Node) error {
	type plain WorkflowConfig
	var p plain
	line, err := decodeEntry(node, &p)
	if err != nil {
		return err
	}
	*wc = WorkflowConfig(p)
	wc.line = line
	return nil
}

// at is " (line N)" for errors about the entry, or "" when it did not
// come from YAML.
func (wc *WorkflowConfig) at() string {
	if wc.line > 0 {
		return fmt.Sprintf(" (line %d)", wc.line)
	}
	return ""
}

// WorkflowStepConfig is one step. Type is step (the default: it runs
// agent, team or function), steps, parallel, condition, loop or router.
// Expressions (input, condition, end_condition, selector) are expr-lang
// expressions over input, previous, steps["name"].content, iteration,
// session_state and user_input.
type WorkflowStepConfig struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Type        string `yaml:"type"`
	Agent       string `yaml:"agent"`
	// Team is a team step's target. Agent on a router instead of a
	// selector: the agent picks the choice.
	Team string `yaml:"team"`
	// Function is a built-in workflow function: echo or join.
	Function string `yaml:"function"`
	// Input is a string expression for the step's input (default: the
	// previous step's output).
	Input                string                 `yaml:"input"`
	RequiresConfirmation bool                   `yaml:"requires_confirmation"`
	ConfirmationMessage  string                 `yaml:"confirmation_message"`
	RequiresUserInput    bool                   `yaml:"requires_user_input"`
	UserInputMessage     string                 `yaml:"user_input_message"`
	UserInputSchema      []UserInputFieldConfig `yaml:"user_input_schema"`
	// OnError is fail (default: the workflow ends with WorkflowError),
	// skip or continue.
	OnError       string               `yaml:"on_error"`
	Steps         []WorkflowStepConfig `yaml:"steps"`
	Else          []WorkflowStepConfig `yaml:"else"`
	Condition     string               `yaml:"condition"`
	MaxIterations int                  `yaml:"max_iterations"`
	EndCondition  string               `yaml:"end_condition"`
	Selector      string               `yaml:"selector"`
	Choices       []WorkflowStepConfig `yaml:"choices"`
}

// UserInputFieldConfig is one field a step asks its user for.
type UserInputFieldConfig struct {
	Name        string `yaml:"name"`
	FieldType   string `yaml:"field_type"`
	Description string `yaml:"description"`
}

// validateWorkflows checks the workflows: ids, targets (agents declared
// under agents, teams under teams, built-in functions), expressions and
// routers. Errors name the workflow, the step and the entry's line.
func (c *Config) validateWorkflows() []error {
	var errs []error
	seen := map[string]bool{}
	agents := c.agentIDs()
	teams := map[string]bool{}
	for _, tc := range c.Teams {
		teams[tc.ID] = true
	}
	for i, wc := range c.Workflows {
		if strings.TrimSpace(wc.ID) == "" {
			errs = append(errs, fmt.Errorf("workflows[%d]: id is required%s", i, wc.at()))
			continue
		}
		if seen[wc.ID] {
			errs = append(errs, fmt.Errorf("workflows[%d]: id %q is used twice%s", i, wc.ID, wc.at()))
		}
		seen[wc.ID] = true
		def, err := wc.definition()
		if err == nil {
			_, err = workflow.New(def, workflow.Options{Known: func(k core.Kind, id string) bool {
				if c.knownElsewhere(k, id) {
					return true
				}
				if k == core.KindTeam {
					return teams[id]
				}
				return agents[id]
			}})
		}
		if err != nil {
			list := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				list = j.Unwrap()
			}
			for _, e := range list {
				errs = append(errs, fmt.Errorf("workflows[%d]: %w%s", i, e, wc.at()))
			}
		}
	}
	return errs
}

// definition is the core/workflow definition of a workflows entry.
func (wc WorkflowConfig) definition() (workflow.Definition, error) {
	var errs []error
	steps := stepDefs(wc.Steps, "", &errs)
	if len(errs) > 0 {
		for i, err := range errs {
			errs[i] = fmt.Errorf("workflow %s: %w", wc.ID, err)
		}
		return workflow.Definition{}, errors.Join(errs...)
	}
	return workflow.Definition{ID: wc.ID, Name: wc.Name, Description: wc.Description, Steps: steps}, nil
}

func stepDefs(cs []WorkflowStepConfig, path string, errs *[]error) []workflow.Step {
	if len(cs) == 0 {
		return nil
	}
	builtins := workflow.Builtins()
	out := make([]workflow.Step, 0, len(cs))
	for _, sc := range cs {
		s := workflow.Step{Name: sc.Name, Description: sc.Description, Type: workflow.StepType(sc.Type),
			Agent: sc.Agent, Team: sc.Team, Input: sc.Input,
			RequiresConfirmation: sc.RequiresConfirmation, ConfirmationMessage: sc.ConfirmationMessage,
			RequiresUserInput: sc.RequiresUserInput, UserInputMessage: sc.UserInputMessage,
			OnError: workflow.OnError(sc.OnError), Condition: sc.Condition,
			MaxIterations: sc.MaxIterations, EndCondition: sc.EndCondition, Selector: sc.Selector}
		for _, f := range sc.UserInputSchema {
			ft := f.FieldType
			if ft == "" {
				ft = "str"
			}
			s.UserInputSchema = append(s.UserInputSchema, core.UserInputField{Name: f.Name, FieldType: ft, Description: f.Description})
		}
		if sc.Function != "" {
			fn, ok := builtins[sc.Function]
			if !ok {
				*errs = append(*errs, fmt.Errorf("step %s%s: function %q is not a built-in workflow function (%s)",
					path, sc.Name, sc.Function, strings.Join(slices.Sorted(maps.Keys(builtins)), ", ")))
			}
			s.Func = fn
		}
		sub := path + sc.Name + "/"
		s.Steps = stepDefs(sc.Steps, sub, errs)
		s.Else = stepDefs(sc.Else, sub+"else/", errs)
		s.Choices = stepDefs(sc.Choices, sub, errs)
		out = append(out, s)
	}
	return out
}
