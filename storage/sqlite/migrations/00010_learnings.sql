-- Learnings (core/learning): what agents learn beyond a session (user
-- profiles, user memories, session contexts, entity memories...), AgentOS's
-- agno_learnings. user_id '' means the record has no owner; content and
-- metadata are JSON (metadata NULL when none). Times are Unix seconds. seq
-- is insertion order.

-- +goose Up
CREATE TABLE learnings (
    seq           INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    learning_type TEXT    NOT NULL,
    namespace     TEXT    NOT NULL DEFAULT '',
    user_id       TEXT    NOT NULL DEFAULT '',
    agent_id      TEXT    NOT NULL DEFAULT '',
    team_id       TEXT    NOT NULL DEFAULT '',
    session_id    TEXT    NOT NULL DEFAULT '',
    entity_id     TEXT    NOT NULL DEFAULT '',
    entity_type   TEXT    NOT NULL DEFAULT '',
    content       TEXT    NOT NULL DEFAULT '{}',
    metadata      TEXT,
    created_at    INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX learnings_user_idx ON learnings (user_id, updated_at);
CREATE INDEX learnings_type_idx ON learnings (learning_type, user_id);
CREATE INDEX learnings_updated_idx ON learnings (updated_at);

-- +goose Down
DROP TABLE learnings;
