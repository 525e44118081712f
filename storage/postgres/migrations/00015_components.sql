-- Components (core/component; the same version and columns as SQLite's
-- 00015): agents, teams and workflows kept in the database as versioned
-- configs, AgentOS's agno_components and agno_component_configs.
-- current_version is NULL while no version is current; deleted_at is NULL
-- for a live component (a delete is soft: the id stays taken and the
-- versions readable). Times are Unix seconds; seq is insertion order.

-- +goose Up
CREATE TABLE components (
    seq             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    component_id    TEXT    NOT NULL UNIQUE,
    component_type  TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    current_version INTEGER,
    metadata        JSONB,
    created_at      BIGINT  NOT NULL DEFAULT 0,
    updated_at      BIGINT  NOT NULL DEFAULT 0,
    deleted_at      BIGINT
);
CREATE INDEX components_type_idx ON components (component_type, created_at);

CREATE TABLE component_configs (
    component_id TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    label        TEXT    NOT NULL DEFAULT '',
    stage        TEXT    NOT NULL,
    config       JSONB   NOT NULL DEFAULT '{}',
    notes        TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL DEFAULT 0,
    updated_at   BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (component_id, version)
);

-- +goose Down
DROP TABLE component_configs;
DROP TABLE components;
