-- Service accounts: non-human principals with a long-lived token, of which
-- only the SHA-256 hash is stored (token_hash, unique: how a request's
-- token is looked up). scopes is a JSON array of strings. Times are Unix
-- seconds; 0 means not set (expires_at: never; revoked_at: not revoked).
-- seq is the rowid alias: insertion order, the tie-break for "newest
-- first".

-- +goose Up
CREATE TABLE service_accounts (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL DEFAULT '',
    principal    TEXT    NOT NULL DEFAULT '',
    user_id      TEXT    NOT NULL DEFAULT '',
    token_prefix TEXT    NOT NULL DEFAULT '',
    token_hash   TEXT    NOT NULL UNIQUE,
    scopes       TEXT    NOT NULL DEFAULT '[]', -- JSON []string
    created_at   INTEGER NOT NULL DEFAULT 0,
    expires_at   INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    revoked_at   INTEGER NOT NULL DEFAULT 0,
    created_by   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX service_accounts_created_at_idx ON service_accounts (created_at);

-- +goose Down
DROP TABLE service_accounts;
