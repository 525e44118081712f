-- Runs: one row per run. JSON columns are TEXT (NULL when the Go value is
-- nil). paused_state holds core.Run.Paused, which is not part of the run's
-- JSON form. seq is the rowid alias: insertion order, the tie-break for
-- "oldest first".

-- +goose Up
CREATE TABLE runs (
    seq              INTEGER PRIMARY KEY,
    run_id           TEXT    NOT NULL UNIQUE,
    session_id       TEXT    NOT NULL DEFAULT '',
    agent_id         TEXT    NOT NULL DEFAULT '',
    agent_name       TEXT    NOT NULL DEFAULT '',
    user_id          TEXT    NOT NULL DEFAULT '',
    status           TEXT    NOT NULL,
    input            TEXT    NOT NULL DEFAULT '{}', -- JSON core.RunInput
    content          TEXT    NOT NULL DEFAULT '',
    content_type     TEXT    NOT NULL DEFAULT '',
    model            TEXT    NOT NULL DEFAULT '',
    model_provider   TEXT    NOT NULL DEFAULT '',
    messages         TEXT,                          -- JSON []core.Message
    tools            TEXT,                          -- JSON []core.ToolExecution
    requirements     TEXT,                          -- JSON []core.RunRequirement
    metrics          TEXT,                          -- JSON core.Metrics
    error            TEXT    NOT NULL DEFAULT '',
    error_type       TEXT    NOT NULL DEFAULT '',
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    background       INTEGER NOT NULL DEFAULT 0,
    event_count      INTEGER NOT NULL DEFAULT 0,
    paused_state     TEXT,                          -- JSON core.PausedState
    created_at       INTEGER NOT NULL,              -- Unix seconds
    updated_at       INTEGER NOT NULL               -- Unix seconds
);
CREATE INDEX runs_session_id_created_at_idx ON runs (session_id, created_at);
CREATE INDEX runs_user_id_created_at_idx ON runs (user_id, created_at);

-- +goose Down
DROP TABLE runs;
