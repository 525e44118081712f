-- Traces (core/trace): each trace row remembers its root span (id, parent
-- and start time) so a batch of spans updates the summary incrementally
-- (adding counts, taking min/max) instead of aggregating the trace's
-- stored spans again. '' / 0 for traces written before: their next batch
-- summarises them from their spans once. The spans' index no longer
-- needs to cover the summary's aggregates (only that rare path computes
-- them): a narrower index makes every span's insert cheaper.

-- +goose Up
ALTER TABLE traces ADD COLUMN root_span_id TEXT NOT NULL DEFAULT '';
ALTER TABLE traces ADD COLUMN root_parent_id TEXT NOT NULL DEFAULT '';
DROP INDEX spans_trace_idx;
CREATE INDEX spans_trace_idx ON spans (trace_id, start_time, span_id);
ALTER TABLE traces ADD COLUMN root_start BIGINT NOT NULL DEFAULT 0;

-- +goose Down
DROP INDEX spans_trace_idx;
CREATE INDEX spans_trace_idx ON spans (trace_id, start_time, span_id, end_time, status_code, created_at);
ALTER TABLE traces DROP COLUMN root_start;
ALTER TABLE traces DROP COLUMN root_parent_id;
ALTER TABLE traces DROP COLUMN root_span_id;
