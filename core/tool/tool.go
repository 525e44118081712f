// Package tool defines the tools the built-in agent can call, and the
// built-in tools (current_time, calculator). Tools from elsewhere live in
// sub-packages: httptool (HTTP tools declared in config) and mcptool (the
// tools of external MCP servers).
package tool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/core"
)

// Tool is a callable function offered to a model.
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments object.
	Parameters map[string]any
	// Flags are the human-in-the-loop flags (set from config on any tool).
	Flags
	// Call executes the tool. args is the JSON arguments object from the
	// model. The returned string is given back to the model. Call is not
	// used for a tool with ExternalExecution set.
	Call func(ctx context.Context, args json.RawMessage) (string, error)
	// CallOutput, when set, executes the tool instead of Call: its text
	// goes back to the model, its media (images, audio, files) are stored
	// and listed with the call and the run's output.
	CallOutput func(ctx context.Context, args json.RawMessage) (Output, error)
}

// Output is a tool result with media.
type Output struct {
	Text  string
	Media []Medium
}

// Medium is a medium a tool returned: its bytes, their declared content
// type and a file name (either may be empty; the media store classifies
// them as it does uploads).
type Medium struct {
	Name     string
	MIMEType string
	Data     []byte
}

// Flags are a tool's human-in-the-loop flags. Any of them pauses the run
// (RunPaused) before the call.
type Flags struct {
	// RequiresConfirmation: a user confirms or rejects the call.
	RequiresConfirmation bool
	// RequiresUserInput: a user supplies the arguments named in
	// UserInputFields (all of the schema's properties when empty).
	RequiresUserInput bool
	UserInputFields   []string
	// ExternalExecution: the caller runs the tool and continues the run
	// with its result; the gateway never calls it.
	ExternalExecution bool
	// Approval marks the tool's calls for an approval: required (an
	// approver must resolve it before the run goes on; without another
	// flag the call waits for a confirmation) or audit (the decision on
	// the call's pause is recorded; it needs one of the flags above).
	Approval core.ApprovalType
	// AutoContinue: once the approval is resolved the run continues by
	// itself. ApprovalExpiresIn, when > 0, expires it.
	AutoContinue      bool
	ApprovalExpiresIn time.Duration
}

// Pauses reports whether a call of a tool with these flags pauses the run.
func (f Flags) Pauses() bool {
	return f.RequiresConfirmation || f.RequiresUserInput || f.ExternalExecution || f.Approval == core.ApprovalRequired
}

// Validate reports flags that cannot work together.
func (f Flags) Validate() error {
	switch f.Approval {
	case "", core.ApprovalRequired:
	case core.ApprovalAudit:
		if !f.RequiresConfirmation && !f.RequiresUserInput && !f.ExternalExecution {
			return errors.New("approval: audit records the decision on a pause: give the tool requires_confirmation, requires_user_input or external_execution too")
		}
	default:
		return fmt.Errorf("approval %q: must be required or audit", f.Approval)
	}
	if f.Approval == "" && (f.AutoContinue || f.ApprovalExpiresIn != 0) {
		return errors.New("auto_continue and expires_in need approval: required")
	}
	if f.ApprovalExpiresIn < 0 {
		return errors.New("expires_in must not be negative")
	}
	return nil
}

// Info describes the tool for the model and for listings.
func (t *Tool) Info() core.ToolInfo {
	return core.ToolInfo{
		Name: t.Name, Description: t.Description, Parameters: t.Parameters,
		RequiresConfirmation: t.RequiresConfirmation,
		RequiresUserInput:    t.RequiresUserInput,
		ExternalExecution:    t.ExternalExecution,
		ApprovalType:         t.Approval,
	}
}

// Source is a set of tools that may change while the gateway runs, such
// as the tools of an MCP server.
type Source interface {
	// Name names the source in logs and errors.
	Name() string
	// Tools returns the tools as last listed. It is cheap (no I/O) and may
	// be called concurrently; an unreachable source returns what it last
	// listed, and calls of those tools fail with an error.
	Tools() []*Tool
	// Close releases the source (stops a server process, closes sessions).
	Close() error
}

// Builtins returns the built-in tools by name.
func Builtins() map[string]*Tool {
	return map[string]*Tool{
		"current_time": CurrentTime(),
		"calculator":   Calculator(),
	}
}
