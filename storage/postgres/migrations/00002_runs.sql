-- Runs: one row per run. JSON columns are JSONB (NULL when the Go value is
-- nil). paused_state holds core.Run.Paused, which is not part of the run's
-- JSON form. seq is an identity column: insertion order, the tie-break for
-- "oldest first". There is no foreign key to sessions: a run refers to its
-- session by id only (see storetest's CreateWithoutStoredSession).

-- +goose Up
CREATE TABLE runs (
    seq              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id           TEXT    NOT NULL UNIQUE,
    session_id       TEXT    NOT NULL DEFAULT '',
    agent_id         TEXT    NOT NULL DEFAULT '',
    agent_name       TEXT    NOT NULL DEFAULT '',
    user_id          TEXT    NOT NULL DEFAULT '',
    status           TEXT    NOT NULL,
    input            JSONB   NOT NULL DEFAULT '{}', -- core.RunInput
    content          TEXT    NOT NULL DEFAULT '',
    content_type     TEXT    NOT NULL DEFAULT '',
    model            TEXT    NOT NULL DEFAULT '',
    model_provider   TEXT    NOT NULL DEFAULT '',
    messages         JSONB,                         -- []core.Message
    tools            JSONB,                         -- []core.ToolExecution
    requirements     JSONB,                         -- []core.RunRequirement
    metrics          JSONB,                         -- core.Metrics
    error            TEXT    NOT NULL DEFAULT '',
    error_type       TEXT    NOT NULL DEFAULT '',
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    background       BOOLEAN NOT NULL DEFAULT false,
    event_count      BIGINT  NOT NULL DEFAULT 0,
    paused_state     JSONB,                         -- core.PausedState
    created_at       BIGINT  NOT NULL,              -- Unix seconds
    updated_at       BIGINT  NOT NULL               -- Unix seconds
);
-- The same indexes as SQLite's, ending with (created_at, seq): ListRuns's
-- order, so a session's history is read in order off the index.
CREATE INDEX runs_session_id_created_at_idx ON runs (session_id, created_at, seq);
CREATE INDEX runs_user_id_created_at_idx ON runs (user_id, created_at, seq);

-- +goose Down
DROP TABLE runs;
