-- Memories (core/memory): what agents remember about their users
-- (AgentOS's user memories). topics is a JSON array of strings; times are
-- Unix seconds; seq is insertion order and the rowid of the full-text
-- indexes. memories_fts (porter: English stems) and memories_fts_raw
-- (words as written) are FTS5 indexes over memory (external content: the
-- text lives once, in memories), kept in sync by the triggers below; a
-- query's words match as prefixes in either, so "runs" finds "running"
-- and "mornin" finds "morning".

-- +goose Up
CREATE TABLE memories (
    seq        INTEGER PRIMARY KEY,
    memory_id  TEXT    NOT NULL UNIQUE,
    memory     TEXT    NOT NULL,
    topics     TEXT    NOT NULL DEFAULT '[]',
    user_id    TEXT    NOT NULL DEFAULT '',
    agent_id   TEXT    NOT NULL DEFAULT '',
    team_id    TEXT    NOT NULL DEFAULT '',
    input      TEXT    NOT NULL DEFAULT '',
    feedback   TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX memories_user_idx ON memories (user_id, updated_at);
CREATE INDEX memories_agent_idx ON memories (agent_id) WHERE agent_id <> '';
CREATE INDEX memories_team_idx ON memories (team_id) WHERE team_id <> '';

CREATE VIRTUAL TABLE memories_fts USING fts5(
    memory,
    content = 'memories',
    content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE memories_fts_raw USING fts5(
    memory,
    content = 'memories',
    content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- +goose StatementBegin
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, memory) VALUES (new.seq, new.memory);
    INSERT INTO memories_fts_raw (rowid, memory) VALUES (new.seq, new.memory);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, memory) VALUES ('delete', old.seq, old.memory);
    INSERT INTO memories_fts_raw (memories_fts_raw, rowid, memory) VALUES ('delete', old.seq, old.memory);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER memories_fts_update AFTER UPDATE OF memory ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, memory) VALUES ('delete', old.seq, old.memory);
    INSERT INTO memories_fts_raw (memories_fts_raw, rowid, memory) VALUES ('delete', old.seq, old.memory);
    INSERT INTO memories_fts (rowid, memory) VALUES (new.seq, new.memory);
    INSERT INTO memories_fts_raw (rowid, memory) VALUES (new.seq, new.memory);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER memories_fts_update;
DROP TRIGGER memories_fts_delete;
DROP TRIGGER memories_fts_insert;
DROP TABLE memories_fts_raw;
DROP TABLE memories_fts;
DROP TABLE memories;
