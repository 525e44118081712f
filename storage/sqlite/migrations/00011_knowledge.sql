-- Knowledge (core/knowledge): the contents ingested into knowledge bases
-- and their chunks, searched by keyword (FTS5, BM25) and by vector (in
-- process: embedding is the chunk's vector as float32 little-endian, NULL
-- when the base has no embedder). Only chunks of completed contents are
-- ever found: searches join the content's status. hash is unique per base
-- among processing and completed contents (re-uploads are found by it).
-- metadata columns are JSON objects; times are Unix seconds; seq is
-- insertion order (and the chunks' rowid, which the FTS5 index refers to).

-- +goose Up
CREATE TABLE knowledge_contents (
    seq            INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    knowledge_id   TEXT    NOT NULL,
    name           TEXT    NOT NULL DEFAULT '',
    description    TEXT    NOT NULL DEFAULT '',
    type           TEXT    NOT NULL DEFAULT '',
    size           INTEGER NOT NULL DEFAULT 0,
    linked_to      TEXT    NOT NULL DEFAULT '',
    metadata       TEXT,
    access_count   INTEGER NOT NULL DEFAULT 0,
    status         TEXT    NOT NULL,
    status_message TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL DEFAULT 0,
    updated_at     INTEGER NOT NULL DEFAULT 0,
    hash           TEXT    NOT NULL DEFAULT '',
    source         TEXT    NOT NULL DEFAULT '',
    source_ref     TEXT    NOT NULL DEFAULT '',
    reader_id      TEXT    NOT NULL DEFAULT '',
    chunker        TEXT    NOT NULL DEFAULT '',
    chunk_size     INTEGER NOT NULL DEFAULT 0,
    chunk_overlap  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX knowledge_contents_base_idx ON knowledge_contents (knowledge_id, seq);
CREATE UNIQUE INDEX knowledge_contents_hash_key ON knowledge_contents (knowledge_id, hash)
    WHERE hash <> '' AND status IN ('processing', 'completed');

CREATE TABLE knowledge_chunks (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    content_id   TEXT    NOT NULL,
    knowledge_id TEXT    NOT NULL,
    idx          INTEGER NOT NULL DEFAULT 0,
    name         TEXT    NOT NULL DEFAULT '',
    text         TEXT    NOT NULL DEFAULT '',
    metadata     TEXT,
    embedding    BLOB
);
CREATE INDEX knowledge_chunks_content_idx ON knowledge_chunks (content_id, idx);
CREATE INDEX knowledge_chunks_base_idx ON knowledge_chunks (knowledge_id, seq);

-- The keyword index: external content (the text stays in knowledge_chunks
-- only), kept in step by the triggers.
CREATE VIRTUAL TABLE knowledge_chunks_fts USING fts5(
    text, content = 'knowledge_chunks', content_rowid = 'seq', tokenize = 'porter unicode61 remove_diacritics 2'
);
-- +goose StatementBegin
CREATE TRIGGER knowledge_chunks_fts_insert AFTER INSERT ON knowledge_chunks BEGIN
    INSERT INTO knowledge_chunks_fts (rowid, text) VALUES (new.seq, new.text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER knowledge_chunks_fts_delete AFTER DELETE ON knowledge_chunks BEGIN
    INSERT INTO knowledge_chunks_fts (knowledge_chunks_fts, rowid, text) VALUES ('delete', old.seq, old.text);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER knowledge_chunks_fts_update AFTER UPDATE OF text ON knowledge_chunks BEGIN
    INSERT INTO knowledge_chunks_fts (knowledge_chunks_fts, rowid, text) VALUES ('delete', old.seq, old.text);
    INSERT INTO knowledge_chunks_fts (rowid, text) VALUES (new.seq, new.text);
END;
-- +goose StatementEnd

-- The raw bytes of uploaded contents, by content id, kept until their
-- ingestion is done (any replica's job reads them); deleted with the content.
CREATE TABLE knowledge_blobs (
    key        TEXT    PRIMARY KEY,
    data       BLOB    NOT NULL,
    created_at INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TRIGGER knowledge_chunks_fts_update;
DROP TRIGGER knowledge_chunks_fts_delete;
DROP TRIGGER knowledge_chunks_fts_insert;
DROP TABLE knowledge_chunks_fts;
DROP TABLE knowledge_blobs;
DROP TABLE knowledge_chunks;
DROP TABLE knowledge_contents;
