-- Idempotency keys: the run each client key created, so that a retry of
-- the request gets that run instead of a second one. scope is the caller
-- and the agent (hashed by the engine); (scope, idem_key) is unique, which
-- is what makes concurrent requests with one key, on any replica, create
-- one run. fingerprint is a hash of the request. created_at is Unix
-- milliseconds; keys older than runs.idempotency_ttl are deleted
-- (created_at index). Same version and columns as SQLite's 00005.

-- +goose Up
CREATE TABLE idempotency_keys (
    scope       TEXT   NOT NULL,
    idem_key    TEXT   NOT NULL,
    fingerprint TEXT   NOT NULL,
    run_id      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
