package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Signature headers of every HTTP delivery from Slack.
const (
	HeaderSignature = "X-Slack-Signature"
	HeaderTimestamp = "X-Slack-Request-Timestamp"
	HeaderRetryNum  = "X-Slack-Retry-Num"
	HeaderRetryWhy  = "X-Slack-Retry-Reason"
	HeaderNoRetry   = "X-Slack-No-Retry"
)

// MaxSignatureAge is the replay window: a request whose timestamp is
// further than this from the local clock (either way) is refused.
const MaxSignatureAge = 5 * time.Minute

// Verification errors (each answered 401).
var (
	ErrMissingSignature = errors.New("missing Slack signature headers")
	ErrStaleTimestamp   = errors.New("Slack request timestamp is outside the 5-minute window")
	ErrBadSignature     = errors.New("invalid Slack signature")
)

// Sign returns the X-Slack-Signature value of body sent at timestamp ts
// (Unix seconds, as sent in X-Slack-Request-Timestamp): "v0=" and the hex
// HMAC-SHA256 of "v0:{ts}:{body}" keyed with the signing secret.
func Sign(secret, ts string, body []byte) string {
	return "v0=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte("v0:"))
	h.Write([]byte(ts))
	h.Write([]byte(":"))
	h.Write(body)
	return h.Sum(nil)
}

// checkTimestamp validates the timestamp header against now.
func checkTimestamp(ts string, now time.Time) error {
	if ts == "" {
		return ErrMissingSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec <= 0 {
		return ErrBadSignature
	}
	d := now.Sub(time.Unix(sec, 0))
	if d > MaxSignatureAge || d < -MaxSignatureAge {
		return ErrStaleTimestamp
	}
	return nil
}

// decodeSignature returns the raw bytes of a "v0=<64 hex>" signature.
func decodeSignature(sig string) ([]byte, error) {
	if sig == "" {
		return nil, ErrMissingSignature
	}
	hexSig, ok := strings.CutPrefix(sig, "v0=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return nil, ErrBadSignature
	}
	b, err := hex.DecodeString(hexSig)
	if err != nil {
		return nil, ErrBadSignature
	}
	return b, nil
}

// Verify checks a request's signature with one signing secret: the
// timestamp within MaxSignatureAge of now, and the HMAC over the raw body
// compared in constant time.
func Verify(secret, ts, sig string, body []byte, now time.Time) error {
	_, err := verifyAny([]string{secret}, ts, sig, body, now)
	return err
}

// verifyAny checks the signature against each secret and returns the index
// of the one that signed the request. Every secret is tried (no early exit),
// so the time taken does not depend on which one matched.
func verifyAny(secrets []string, ts, sig string, body []byte, now time.Time) (int, error) {
	want, err := decodeSignature(sig)
	if err != nil {
		return -1, err
	}
	if err := checkTimestamp(ts, now); err != nil {
		return -1, err
	}
	match := -1
	for i, s := range secrets {
		if s == "" {
			continue
		}
		if hmac.Equal(mac(s, ts, body), want) && match < 0 {
			match = i
		}
	}
	if match < 0 {
		return -1, ErrBadSignature
	}
	return match, nil
}
