-- Sessions: one row per conversation. Runs live in their own table
-- (00002), so listing sessions never reads run histories. Same versions and
-- shape as the SQLite schema (storage/sqlite/migrations).
-- seq is an identity column: a stable insertion order used to break ties
-- when sorting and paginating.

-- +goose Up
CREATE TABLE sessions (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id    TEXT   NOT NULL UNIQUE,
    session_type  TEXT   NOT NULL DEFAULT '',
    session_name  TEXT   NOT NULL DEFAULT '',
    user_id       TEXT   NOT NULL DEFAULT '',
    agent_id      TEXT   NOT NULL DEFAULT '',
    team_id       TEXT   NOT NULL DEFAULT '',
    workflow_id   TEXT   NOT NULL DEFAULT '',
    session_state JSONB,            -- JSON object or NULL
    metadata      JSONB,            -- JSON object or NULL
    summary       TEXT   NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,  -- Unix seconds
    updated_at    BIGINT NOT NULL   -- Unix seconds
);
-- The same indexes as SQLite's (the lists the gateway serves), ending with
-- seq because ListSessions orders by (column, seq).
CREATE INDEX sessions_created_at_idx ON sessions (created_at, seq);
CREATE INDEX sessions_user_id_created_at_idx ON sessions (user_id, created_at, seq);
CREATE INDEX sessions_agent_id_idx ON sessions (agent_id);

-- +goose Down
DROP TABLE sessions;
