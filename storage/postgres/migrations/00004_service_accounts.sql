-- Service accounts: non-human principals with a long-lived token, of which
-- only the SHA-256 hash is stored (token_hash, unique: how a request's
-- token is looked up). Times are Unix seconds; 0 means not set
-- (expires_at: never; revoked_at: not revoked). seq is an identity column:
-- insertion order, the tie-break for "newest first". Same version and
-- columns as SQLite's 00004, where scopes is a JSON array in text.

-- +goose Up
CREATE TABLE service_accounts (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT   NOT NULL,
    name         TEXT   NOT NULL DEFAULT '',
    principal    TEXT   NOT NULL DEFAULT '',
    user_id      TEXT   NOT NULL DEFAULT '',
    token_prefix TEXT   NOT NULL DEFAULT '',
    token_hash   TEXT   NOT NULL,
    scopes       TEXT[] NOT NULL DEFAULT '{}',
    created_at   BIGINT NOT NULL DEFAULT 0,
    expires_at   BIGINT NOT NULL DEFAULT 0,
    last_used_at BIGINT NOT NULL DEFAULT 0,
    revoked_at   BIGINT NOT NULL DEFAULT 0,
    created_by   TEXT   NOT NULL DEFAULT '',
    -- Named, so that a unique violation tells which of the two it was.
    CONSTRAINT service_accounts_id_key UNIQUE (id),
    CONSTRAINT service_accounts_token_hash_key UNIQUE (token_hash)
);
-- ListServiceAccounts's order (created_at, seq), descending.
CREATE INDEX service_accounts_created_at_idx ON service_accounts (created_at, seq);

-- +goose Down
DROP TABLE service_accounts;
