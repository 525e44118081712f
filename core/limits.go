package core

import (
	"unicode"
	"unicode/utf8"
)

// DefaultMaxMessageBytes is the default bound of a run's message (8 MiB,
// below the HTTP body limit's default of 10 MiB, so a form carrying a
// message of the maximum size still fits in a body).
const DefaultMaxMessageBytes = 8 << 20

// MaxIDLength bounds the ids a caller gives (session, run, user and agent
// ids) in bytes.
const MaxIDLength = 255

// CheckID validates an id a caller gave: at most MaxIDLength bytes of
// UTF-8 without whitespace or control characters. name says which id it
// is ("session_id") in the error, of code invalid. The empty id passes (the
// caller decides whether one is required).
func CheckID(name, id string) error {
	if len(id) > MaxIDLength {
		return Errorf(CodeInvalid, "%s is %d bytes long, over the limit of %d", name, len(id), MaxIDLength)
	}
	if !utf8.ValidString(id) {
		return Errorf(CodeInvalid, "%s is not valid UTF-8", name)
	}
	for _, r := range id {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return Errorf(CodeInvalid, "%s %q contains whitespace or a control character", name, id)
		}
	}
	return nil
}

// checkMessage bounds a run's message (see EngineConfig.MaxMessageBytes).
func (e *Engine) checkMessage(msg string) error {
	if limit := e.cfg.MaxMessageBytes; limit > 0 && len(msg) > limit {
		return Errorf(CodeTooLarge, "the message is %d bytes, over the limit of %d bytes (limits.max_message_bytes)", len(msg), limit)
	}
	return nil
}
