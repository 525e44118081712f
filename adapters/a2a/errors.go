package a2a

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/agentgate/agentgate/core"
)

// ErrorKind classifies an A2A error; errorTable maps each kind to its
// JSON-RPC code, HTTP status, google.rpc status name and ErrorInfo reason.
type ErrorKind int

const (
	KindInternal ErrorKind = iota
	KindParse
	KindInvalidRequest
	KindMethodNotFound
	KindInvalidParams
	KindUnavailable
	KindTaskNotFound
	KindTaskNotCancelable
	KindPushNotSupported
	KindUnsupportedOperation
	KindContentTypeNotSupported
	KindExtendedCardNotConfigured
	KindVersionNotSupported
	KindUnauthenticated
	KindForbidden
	KindAgentNotFound
	KindConfigNotFound
	KindRouteNotFound
	KindMethodNotAllowed
	KindTooLarge
	KindGone
)

type errorSpec struct {
	code   int    // JSON-RPC error code
	status int    // HTTP status (HTTP+JSON binding; JSON-RPC uses it for transport-level refusals)
	name   string // google.rpc.Code name
	reason string // ErrorInfo reason ("" for standard JSON-RPC errors)
	domain string
}

// The A2A-specific codes and reasons are the spec's (-32001 …, UPPER_SNAKE
// of the error name); auth and agent refusals are this gateway's, in the
// JSON-RPC implementation-defined -32000.
const (
	domainA2A       = "a2a-protocol.org"
	domainAgentgate = "agentgate"
)

var errorTable = map[ErrorKind]errorSpec{
	KindInternal:                  {-32603, http.StatusInternalServerError, "INTERNAL", "", ""},
	KindParse:                     {-32700, http.StatusBadRequest, "INVALID_ARGUMENT", "", ""},
	KindInvalidRequest:            {-32600, http.StatusBadRequest, "INVALID_ARGUMENT", "", ""},
	KindMethodNotFound:            {-32601, http.StatusNotFound, "UNIMPLEMENTED", "", ""},
	KindInvalidParams:             {-32602, http.StatusBadRequest, "INVALID_ARGUMENT", "", ""},
	KindUnavailable:               {-32603, http.StatusServiceUnavailable, "UNAVAILABLE", "", ""},
	KindTaskNotFound:              {-32001, http.StatusNotFound, "NOT_FOUND", "TASK_NOT_FOUND", domainA2A},
	KindTaskNotCancelable:         {-32002, http.StatusBadRequest, "FAILED_PRECONDITION", "TASK_NOT_CANCELABLE", domainA2A},
	KindPushNotSupported:          {-32003, http.StatusBadRequest, "FAILED_PRECONDITION", "PUSH_NOTIFICATION_NOT_SUPPORTED", domainA2A},
	KindUnsupportedOperation:      {-32004, http.StatusBadRequest, "FAILED_PRECONDITION", "UNSUPPORTED_OPERATION", domainA2A},
	KindContentTypeNotSupported:   {-32005, http.StatusBadRequest, "INVALID_ARGUMENT", "CONTENT_TYPE_NOT_SUPPORTED", domainA2A},
	KindExtendedCardNotConfigured: {-32007, http.StatusBadRequest, "FAILED_PRECONDITION", "EXTENDED_AGENT_CARD_NOT_CONFIGURED", domainA2A},
	KindVersionNotSupported:       {-32009, http.StatusBadRequest, "FAILED_PRECONDITION", "VERSION_NOT_SUPPORTED", domainA2A},
	KindUnauthenticated:           {-32000, http.StatusUnauthorized, "UNAUTHENTICATED", "UNAUTHENTICATED", domainAgentgate},
	KindForbidden:                 {-32000, http.StatusForbidden, "PERMISSION_DENIED", "PERMISSION_DENIED", domainAgentgate},
	KindAgentNotFound:             {-32000, http.StatusNotFound, "NOT_FOUND", "AGENT_NOT_FOUND", domainAgentgate},
	KindConfigNotFound:            {-32602, http.StatusNotFound, "NOT_FOUND", "", ""},
	KindRouteNotFound:             {-32601, http.StatusNotFound, "NOT_FOUND", "", ""},
	KindMethodNotAllowed:          {-32601, http.StatusMethodNotAllowed, "UNIMPLEMENTED", "", ""},
	KindTooLarge:                  {-32600, http.StatusRequestEntityTooLarge, "INVALID_ARGUMENT", "", ""},
	KindGone:                      {-32603, http.StatusGone, "OUT_OF_RANGE", "EVENTS_NOT_RETAINED", domainAgentgate},
}

// Error is an A2A error with a message safe to show the caller.
type Error struct {
	Kind    ErrorKind
	Message string
	// Metadata goes into the ErrorInfo detail (v1.0).
	Metadata map[string]string
	// textOnly marks a reply whose only fault is a text that is no
	// decision (decisionsFor lets it continue a run whose pending calls
	// all wait on approvals).
	textOnly bool
}

func (e *Error) Error() string { return e.Message }

func errf(k ErrorKind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) spec() errorSpec {
	if s, ok := errorTable[e.Kind]; ok {
		return s
	}
	return errorTable[KindInternal]
}

// transportLevel reports whether a JSON-RPC answer carries the HTTP status
// too (refusals that concern the endpoint, not the method).
func (e *Error) transportLevel() bool {
	switch e.Kind {
	case KindUnauthenticated, KindForbidden, KindAgentNotFound, KindTooLarge:
		return true
	}
	return false
}

// kindOf is the one table from core error codes to A2A errors (for
// errors the engine returns; the handlers name task errors themselves).
var kindOf = map[core.ErrorCode]ErrorKind{
	core.CodeInvalid:      KindInvalidParams,
	core.CodeNotFound:     KindTaskNotFound,
	core.CodeConflict:     KindUnsupportedOperation,
	core.CodeGone:         KindGone,
	core.CodeUnauthorized: KindUnauthenticated,
	core.CodeForbidden:    KindForbidden,
	core.CodeTooLarge:     KindTooLarge,
	core.CodeUnavailable:  KindUnavailable,
	core.CodeNotImpl:      KindUnsupportedOperation,
	core.CodeInternal:     KindInternal,

	core.CodeUnprocessable: KindInvalidParams, // a messageId sent again with another message
}

// toError converts any error to an *Error (internal errors are not
// described to callers).
func toError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	k, ok := kindOf[core.CodeOf(err)]
	if !ok {
		k = KindInternal
	}
	out := &Error{Kind: k, Message: core.MessageOf(err)}
	var ge *core.GoneError
	if errors.As(err, &ge) {
		out.Metadata = map[string]string{"first_available_index": fmt.Sprint(ge.FirstIndex)}
	}
	var ape *core.ApprovalPendingError
	if errors.As(err, &ape) {
		// Which approval to resolve, for a client that acts on it.
		out.Metadata = map[string]string{"approval_id": ape.ApprovalID}
	}
	return out
}

// errorInfo is a google.rpc.ErrorInfo detail.
type errorInfo struct {
	Type     string            `json:"@type"`
	Reason   string            `json:"reason"`
	Domain   string            `json:"domain"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

func (e *Error) details() []errorInfo {
	s := e.spec()
	if s.reason == "" {
		return nil
	}
	return []errorInfo{{Type: "type.googleapis.com/google.rpc.ErrorInfo", Reason: s.reason, Domain: s.domain, Metadata: e.Metadata}}
}

// rpcError is a JSON-RPC error object. v1.0 puts ErrorInfo details in an
// array in data; v0.3's data is free-form (we send the reason).
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (e *Error) rpc(v Version) rpcError {
	out := rpcError{Code: e.spec().code, Message: e.Message}
	if d := e.details(); d != nil {
		if v == V1 {
			out.Data = d
		} else {
			data := map[string]any{"reason": d[0].Reason}
			if len(e.Metadata) > 0 {
				data["metadata"] = e.Metadata
			}
			out.Data = data
		}
	}
	return out
}

// restError is the HTTP+JSON error body (google.rpc.Status).
type restError struct {
	Error restStatus `json:"error"`
}

type restStatus struct {
	Code    int         `json:"code"`
	Status  string      `json:"status"`
	Message string      `json:"message"`
	Details []errorInfo `json:"details,omitempty"`
}

func (e *Error) rest() restError {
	s := e.spec()
	return restError{Error: restStatus{Code: s.status, Status: s.name, Message: e.Message, Details: e.details()}}
}
