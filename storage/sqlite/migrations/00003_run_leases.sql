-- Run leases: the engine instance executing a run and when its lease ends
-- (Unix milliseconds; 0: no lease). A reaper finds RUNNING runs whose
-- lease ended through the partial index.

-- +goose Up
ALTER TABLE runs ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_expired_lease_idx ON runs (lease_until) WHERE status IN ('PENDING', 'RUNNING') AND lease_until > 0;

-- +goose Down
DROP INDEX runs_expired_lease_idx;
ALTER TABLE runs DROP COLUMN lease_until;
ALTER TABLE runs DROP COLUMN lease_owner;
