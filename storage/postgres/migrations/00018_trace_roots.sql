-- Traces (core/trace): each trace row remembers its root span (id, parent
-- and start time) so a batch of spans updates the summary incrementally
-- (adding counts, taking min/max) instead of aggregating the trace's
-- stored spans again. '' / 0 for traces written before: their next batch
-- summarises them from their spans once.

-- +goose Up
ALTER TABLE traces ADD COLUMN root_span_id TEXT NOT NULL DEFAULT '';
ALTER TABLE traces ADD COLUMN root_parent_id TEXT NOT NULL DEFAULT '';
ALTER TABLE traces ADD COLUMN root_start BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE traces DROP COLUMN root_start;
ALTER TABLE traces DROP COLUMN root_parent_id;
ALTER TABLE traces DROP COLUMN root_span_id;
