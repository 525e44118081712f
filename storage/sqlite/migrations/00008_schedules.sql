-- Schedules (core/schedule): recurring runs of an agent, team or workflow,
-- and their history. Times are Unix seconds; next_run_at 0 means none. A
-- due fire is claimed by moving next_run_at with a compare-and-set, in the
-- transaction that inserts its schedule run, and a schedule run is unique
-- on (schedule, due time, attempt) unless triggered by hand (manual), so no
-- due time fires twice. payload, input, output and requirements are JSON.
-- retry_at is when a failed attempt is retried (0: not, or claimed);
-- timeout_at when a running one times out. seq is insertion order.

-- +goose Up
CREATE TABLE schedules (
    seq                 INTEGER PRIMARY KEY,
    id                  TEXT    NOT NULL UNIQUE,
    name                TEXT    NOT NULL UNIQUE,
    description         TEXT    NOT NULL DEFAULT '',
    method              TEXT    NOT NULL DEFAULT 'POST',
    endpoint            TEXT    NOT NULL DEFAULT '',
    payload             TEXT,
    cron_expr           TEXT    NOT NULL,
    timezone            TEXT    NOT NULL DEFAULT 'UTC',
    timeout_seconds     INTEGER NOT NULL DEFAULT 3600,
    max_retries         INTEGER NOT NULL DEFAULT 0,
    retry_delay_seconds INTEGER NOT NULL DEFAULT 60,
    enabled             INTEGER NOT NULL DEFAULT 1,
    next_run_at         INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL DEFAULT 0,
    updated_at          INTEGER NOT NULL DEFAULT 0,
    target_kind         TEXT    NOT NULL DEFAULT 'agent',
    target_id           TEXT    NOT NULL DEFAULT '',
    user_id             TEXT    NOT NULL DEFAULT '',
    catch_up            TEXT    NOT NULL DEFAULT 'once'
);
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE enabled = 1 AND next_run_at > 0;
CREATE INDEX schedules_user_id_idx ON schedules (user_id, seq);

CREATE TABLE schedule_runs (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    schedule_id  TEXT    NOT NULL,
    attempt      INTEGER NOT NULL DEFAULT 1,
    manual       INTEGER NOT NULL DEFAULT 0,
    due_at       INTEGER NOT NULL DEFAULT 0,
    triggered_at INTEGER NOT NULL DEFAULT 0,
    completed_at INTEGER NOT NULL DEFAULT 0,
    status       TEXT    NOT NULL,
    status_code  INTEGER,
    run_id       TEXT    NOT NULL DEFAULT '',
    session_id   TEXT    NOT NULL DEFAULT '',
    error        TEXT    NOT NULL DEFAULT '',
    input        TEXT,
    output       TEXT,
    requirements TEXT,
    retry_at     INTEGER NOT NULL DEFAULT 0,
    timeout_at   INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX schedule_runs_fire_key ON schedule_runs (schedule_id, due_at, attempt) WHERE manual = 0;
CREATE INDEX schedule_runs_schedule_idx ON schedule_runs (schedule_id, seq);
CREATE INDEX schedule_runs_active_idx ON schedule_runs (seq) WHERE status IN ('running', 'paused');
CREATE INDEX schedule_runs_retry_idx ON schedule_runs (retry_at) WHERE retry_at > 0;

-- +goose Down
DROP TABLE schedule_runs;
DROP TABLE schedules;
