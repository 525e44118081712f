-- Memories (core/memory; the same version and columns as SQLite's 00009):
-- what agents remember about their users (AgentOS's user memories). topics
-- is a JSON array of strings; times are Unix seconds; seq is insertion
-- order. search_tsv is the memory's tsvector twice, English (stemmed) and
-- simple (words as written), generated from memory and GIN-indexed; a
-- query's words match as prefixes in either, so "runs" finds "running"
-- and "mornin" finds "morning". (pg_trgm is not used: an extension lives
-- in one schema of a database, and a store may own only its schema.)

-- +goose Up
CREATE TABLE memories (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    memory_id  TEXT   NOT NULL UNIQUE,
    memory     TEXT   NOT NULL,
    topics     JSONB  NOT NULL DEFAULT '[]',
    user_id    TEXT   NOT NULL DEFAULT '',
    agent_id   TEXT   NOT NULL DEFAULT '',
    team_id    TEXT   NOT NULL DEFAULT '',
    input      TEXT   NOT NULL DEFAULT '',
    feedback   TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL DEFAULT 0,
    search_tsv tsvector GENERATED ALWAYS AS (
        to_tsvector('english'::regconfig, memory) || to_tsvector('simple'::regconfig, memory)) STORED
);
CREATE INDEX memories_user_idx ON memories (user_id, updated_at);
CREATE INDEX memories_agent_idx ON memories (agent_id) WHERE agent_id <> '';
CREATE INDEX memories_team_idx ON memories (team_id) WHERE team_id <> '';
CREATE INDEX memories_search_idx ON memories USING GIN (search_tsv);

-- +goose Down
DROP TABLE memories;
