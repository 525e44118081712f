// Package tool defines the tools the built-in agent can call, and the
// built-in tools (current_time, calculator).
package tool

import (
	"context"
	"encoding/json"

	"github.com/agentgate/agentgate/core"
)

// Tool is a callable function offered to a model.
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments object.
	Parameters map[string]any
	// RequiresConfirmation pauses the run before the call until a user
	// confirms or rejects it.
	RequiresConfirmation bool
	// Call executes the tool. args is the JSON arguments object from the
	// model. The returned string is given back to the model.
	Call func(ctx context.Context, args json.RawMessage) (string, error)
}

// Info describes the tool for the model and for listings.
func (t *Tool) Info() core.ToolInfo {
	return core.ToolInfo{
		Name: t.Name, Description: t.Description, Parameters: t.Parameters,
		RequiresConfirmation: t.RequiresConfirmation,
	}
}

// Builtins returns the built-in tools by name.
func Builtins() map[string]*Tool {
	return map[string]*Tool{
		"current_time": CurrentTime(),
		"calculator":   Calculator(),
	}
}
