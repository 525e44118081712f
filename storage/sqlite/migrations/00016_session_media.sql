-- Session media (core.SessionMediaStore): which session carries which
-- medium of the media store (core/media), written when a run's media are
-- stored. media_id is the SHA-256 of the bytes (hex), the store's key: a
-- medium is stored once however many sessions carry it, and deleting a
-- session deletes the stored bytes no other session references. user_id
-- '' means none; created_at is Unix seconds.

-- +goose Up
CREATE TABLE session_media (
    session_id TEXT    NOT NULL,
    media_id   TEXT    NOT NULL,
    user_id    TEXT    NOT NULL DEFAULT '',
    kind       TEXT    NOT NULL DEFAULT '',
    mime_type  TEXT    NOT NULL DEFAULT '',
    name       TEXT    NOT NULL DEFAULT '',
    size       INTEGER NOT NULL DEFAULT 0,
    width      INTEGER NOT NULL DEFAULT 0,
    height     INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, media_id)
);
CREATE INDEX session_media_media_idx ON session_media (media_id);

-- +goose Down
DROP TABLE session_media;
