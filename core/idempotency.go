package core

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Idempotent starts.
//
// A client whose connection dropped after it sent a run cannot tell whether
// the run was created; sending it again must not create a second one. A
// start with StartParams.IdempotencyKey is therefore recorded under that
// key, in the store, in the same transaction as the run (Store.
// CreateRunWithKey), with a fingerprint of the request: a later start with
// the same key, on any replica, gets that run instead of a new one, and one
// whose request differs is refused (CodeUnprocessable). Keys are scoped to
// the caller (StartParams.IdempotencyScope) and the agent, so two callers'
// keys never meet and nobody learns of another's run through a key. A keyed
// run is never deferred (deferred.go): it is in the store before Start
// returns, where a retry elsewhere finds it. Keys last
// EngineConfig.IdempotencyTTL; expired ones are swept periodically, and an
// expired key that was not swept yet counts as absent.

// MaxIdempotencyKeyLen bounds an idempotency key, in bytes.
const MaxIdempotencyKeyLen = 255

// CheckIdempotencyKey validates a client's idempotency key: at most
// MaxIdempotencyKeyLen printable ASCII characters. name is how the client
// sent it (a header, a field), for the error.
func CheckIdempotencyKey(name, key string) error {
	if len(key) > MaxIdempotencyKeyLen {
		return Errorf(CodeInvalid, "%s is longer than %d characters", name, MaxIdempotencyKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c > 0x7e {
			return Errorf(CodeInvalid, "%s must be printable ASCII characters only", name)
		}
	}
	return nil
}

// keyOf returns the idempotency key of a start (nil when it has none),
// with the request's fingerprint. p is the request as the caller sent it
// (no session id generated yet).
func (e *Engine) keyOf(p StartParams) (*IdempotencyKey, error) {
	if p.IdempotencyKey == "" {
		return nil, nil
	}
	if err := CheckIdempotencyKey("idempotency key", p.IdempotencyKey); err != nil {
		return nil, err
	}
	target := p.AgentID // an agent's keys as before teams and workflows existed
	if ref, err := p.Ref(); err == nil && ref.Kind != KindAgent {
		target = string(ref.Kind) + ":" + ref.ID
	}
	return &IdempotencyKey{
		Scope: hashFields(p.IdempotencyScope, target),
		Key:   p.IdempotencyKey,
		Fingerprint: hashFields(target, p.Message, p.SessionID, p.UserID,
			fmt.Sprint(p.Background), p.IdempotencyRequest),
		CreatedAt: e.nowMs(),
	}, nil
}

// hashFields is the SHA-256 (hex) of the fields, each length-prefixed so
// that no two lists of fields hash alike by concatenation.
func hashFields(fields ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, f := range fields {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// createRun stores a new run and its session (unless it exists): under key
// when it is not nil. If the key is already taken, nothing is created and
// existing is the run it names, as stored (or an error if the request
// differs).
func (e *Engine) createRun(ctx context.Context, key *IdempotencyKey, sess *Session, run *Run) (newSession bool, existing *Run, err error) {
	if key == nil {
		newSession, err = e.store.CreateRunInSession(ctx, sess, run)
		return newSession, nil, err
	}
	key.RunID = run.RunID
	taken, newSession, err := e.store.CreateRunWithKey(ctx, CreateRunWithKeyParams{
		Key: *key, Session: sess, Run: run,
		ExpiredBefore: e.nowMs() - e.cfg.IdempotencyTTL.Milliseconds(),
	})
	if err != nil || taken == nil {
		return newSession, nil, err
	}
	if taken.Fingerprint != key.Fingerprint {
		return false, nil, Errorf(CodeUnprocessable,
			"idempotency key %q was already used for a different request; send the same request again to get its run, or use a new key", key.Key)
	}
	existing, err = e.Get(ctx, taken.RunID)
	if errors.Is(err, ErrNotFound) {
		return false, nil, Errorf(CodeConflict, "idempotency key %q was used for run %s, which no longer exists", key.Key, taken.RunID)
	}
	return false, existing, err
}

// sweepKeys deletes expired idempotency keys at start, then every quarter
// of IdempotencyTTL (at most hourly), until the engine closes. Every
// replica sweeps; a delete is the same whoever makes it.
func (e *Engine) sweepKeys() {
	defer close(e.sweepDone)
	every := max(min(e.cfg.IdempotencyTTL/4, time.Hour), time.Second)
	for {
		if err := e.SweepKeys(e.baseCtx); err != nil && e.baseCtx.Err() == nil {
			e.logger.Warn("delete expired idempotency keys", "err", err)
		}
		select {
		case <-e.closed:
			return
		case <-time.After(every):
		}
	}
}

// SweepKeys deletes the idempotency keys older than IdempotencyTTL.
func (e *Engine) SweepKeys(ctx context.Context) error {
	before := e.nowMs() - e.cfg.IdempotencyTTL.Milliseconds()
	const batch = 1000
	for {
		n, err := e.store.DeleteExpiredKeys(ctx, before, batch)
		if err != nil || n < batch {
			return err
		}
	}
}
