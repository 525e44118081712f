-- Knowledge (core/knowledge; the same version and columns as SQLite's
-- 00011): the contents ingested into knowledge bases and their chunks.
-- Keyword search is the generated tsvector (english) with its GIN index,
-- ranked by ts_rank_cd. Vectors are not here: this schema needs no
-- extension, so keyword search works on a server without pgvector. The
-- store creates, when a base first writes embeddings, the pgvector
-- extension and one table per dimension, knowledge_vectors_<N> (chunk_seq
-- referencing knowledge_chunks.seq ON DELETE CASCADE, knowledge_id,
-- embedding vector(N), HNSW index with vector_cosine_ops); Down drops them.
-- Only chunks of completed contents are ever found: searches join the
-- content's status. hash is unique per base among processing and
-- completed contents. Times are Unix seconds; seq is insertion order.

-- +goose Up
CREATE TABLE knowledge_contents (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    knowledge_id   TEXT    NOT NULL,
    name           TEXT    NOT NULL DEFAULT '',
    description    TEXT    NOT NULL DEFAULT '',
    type           TEXT    NOT NULL DEFAULT '',
    size           BIGINT  NOT NULL DEFAULT 0,
    linked_to      TEXT    NOT NULL DEFAULT '',
    metadata       JSONB,
    access_count   BIGINT  NOT NULL DEFAULT 0,
    status         TEXT    NOT NULL,
    status_message TEXT    NOT NULL DEFAULT '',
    created_at     BIGINT  NOT NULL DEFAULT 0,
    updated_at     BIGINT  NOT NULL DEFAULT 0,
    hash           TEXT    NOT NULL DEFAULT '',
    source         TEXT    NOT NULL DEFAULT '',
    source_ref     TEXT    NOT NULL DEFAULT '',
    reader_id      TEXT    NOT NULL DEFAULT '',
    chunker        TEXT    NOT NULL DEFAULT '',
    chunk_size     BIGINT  NOT NULL DEFAULT 0,
    chunk_overlap  BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX knowledge_contents_base_idx ON knowledge_contents (knowledge_id, seq);
CREATE UNIQUE INDEX knowledge_contents_hash_key ON knowledge_contents (knowledge_id, hash)
    WHERE hash <> '' AND status IN ('processing', 'completed');

CREATE TABLE knowledge_chunks (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    content_id   TEXT    NOT NULL,
    knowledge_id TEXT    NOT NULL,
    idx          BIGINT  NOT NULL DEFAULT 0,
    name         TEXT    NOT NULL DEFAULT '',
    text         TEXT    NOT NULL DEFAULT '',
    metadata     JSONB,
    tsv          tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
);
CREATE INDEX knowledge_chunks_content_idx ON knowledge_chunks (content_id, idx);
CREATE INDEX knowledge_chunks_base_idx ON knowledge_chunks (knowledge_id, seq);
CREATE INDEX knowledge_chunks_tsv_idx ON knowledge_chunks USING gin (tsv);

-- The raw bytes of uploaded contents, by content id, kept until their
-- ingestion is done (any replica's job reads them); deleted with the content.
CREATE TABLE knowledge_blobs (
    key        TEXT    PRIMARY KEY,
    data       BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL DEFAULT 0
);

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT tablename FROM pg_tables
             WHERE schemaname = current_schema() AND tablename LIKE 'knowledge\_vectors\_%'
    LOOP
        EXECUTE format('DROP TABLE %I', t);
    END LOOP;
END
$$;
-- +goose StatementEnd
DROP TABLE knowledge_blobs;
DROP TABLE knowledge_chunks;
DROP TABLE knowledge_contents;
