package core

import (
	"errors"
	"fmt"
)

// ErrorCode classifies an error for adapters: each adapter maps a code to its
// protocol's error form (HTTP status, JSON-RPC code, ...) in one table.
type ErrorCode string

const (
	CodeInvalid      ErrorCode = "invalid"      // bad input (HTTP 400/422)
	CodeNotFound     ErrorCode = "not_found"    // unknown agent, run, session (404)
	CodeConflict     ErrorCode = "conflict"     // state does not allow it (409)
	CodeGone         ErrorCode = "gone"         // resume cursor older than what is kept (410)
	CodeUnauthorized ErrorCode = "unauthorized" // no or bad credentials (401)
	CodeForbidden    ErrorCode = "forbidden"    // credentials lack the scope (403)
	CodeTooLarge     ErrorCode = "too_large"    // body over the limit (413)
	CodeUnavailable  ErrorCode = "unavailable"  // a backend is down (503)
	CodeInternal     ErrorCode = "internal"     // anything else (500)
	CodeNotImpl      ErrorCode = "not_implemented"
)

// CodeUnprocessable is well-formed input that cannot be done as asked: an
// idempotency key sent again with a different request (HTTP 422).
const CodeUnprocessable ErrorCode = "unprocessable"

// Sentinel errors. Backends wrap them; callers test with errors.Is.
var (
	ErrNotFound       = errors.New("not found")
	ErrConflict       = errors.New("conflict")
	ErrGone           = errors.New("gone")
	ErrInvalid        = errors.New("invalid")
	ErrUnavailable    = errors.New("unavailable")
	ErrNotImplemented = errors.New("not implemented")
)

// Error is an error with a code and a message that is safe to show a user.
type Error struct {
	Code    ErrorCode
	Message string
	Err     error // optional cause, never shown to users
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, ErrNotFound) match an *Error of the matching code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == CodeNotFound
	case ErrConflict:
		return e.Code == CodeConflict
	case ErrGone:
		return e.Code == CodeGone
	case ErrInvalid:
		return e.Code == CodeInvalid
	case ErrUnavailable:
		return e.Code == CodeUnavailable
	case ErrNotImplemented:
		return e.Code == CodeNotImpl
	}
	return false
}

// Errorf builds an *Error with a formatted, user-safe message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// GoneError answers a resume whose cursor is older than what the event log
// keeps. FirstIndex is the first index still available (or, when the log no
// longer holds the run at all, the run's total event count).
type GoneError struct {
	RunID      string
	FirstIndex int64
}

func (e *GoneError) Error() string {
	return fmt.Sprintf("events of run %s before index %d are no longer retained", e.RunID, e.FirstIndex)
}

// Is makes errors.Is(err, ErrGone) true.
func (e *GoneError) Is(target error) bool { return target == ErrGone }

// CodeOf returns the code of err: the code of an *Error in its chain, or the
// code that matches a sentinel, or CodeInternal.
func CodeOf(err error) ErrorCode {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	var ape *ApprovalPendingError
	if errors.As(err, &ape) {
		return CodeForbidden
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return CodeNotFound
	case errors.Is(err, ErrConflict):
		return CodeConflict
	case errors.Is(err, ErrGone):
		return CodeGone
	case errors.Is(err, ErrInvalid):
		return CodeInvalid
	case errors.Is(err, ErrUnavailable):
		return CodeUnavailable
	case errors.Is(err, ErrNotImplemented):
		return CodeNotImpl
	}
	return CodeInternal
}

// MessageOf returns the user-safe message of err. Internal errors are not
// described to users.
func MessageOf(err error) string {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Message
	}
	var ge *GoneError
	if errors.As(err, &ge) {
		return ge.Error()
	}
	var ape *ApprovalPendingError
	if errors.As(err, &ape) {
		return ape.Error()
	}
	if CodeOf(err) != CodeInternal {
		return err.Error()
	}
	return "internal error"
}
