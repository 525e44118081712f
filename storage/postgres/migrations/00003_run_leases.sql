-- Run leases: the engine instance executing a run (lease_owner) and when
-- its lease ends unless renewed (lease_until, Unix milliseconds; 0: no
-- lease). A reaper finds RUNNING runs whose lease ended through the
-- partial index, which only holds leased running runs and so stays small.
-- Same version and columns as SQLite's 00003.

-- +goose Up
ALTER TABLE runs
    ADD COLUMN lease_owner TEXT   NOT NULL DEFAULT '',
    ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX runs_expired_lease_idx ON runs (lease_until, seq) WHERE status IN ('PENDING', 'RUNNING') AND lease_until > 0;

-- +goose Down
DROP INDEX runs_expired_lease_idx;
ALTER TABLE runs DROP COLUMN lease_owner, DROP COLUMN lease_until;
