-- Metrics (core/metric; the same version and columns as SQLite's 00013):
-- AgentOS's daily aggregates of the stored runs and sessions (agno_metrics), one row per UTC day and aggregation period; the
-- refresh status row, which is also the claim that keeps one refresh
-- running at a time across replicas; and the runs' indexes the aggregate
-- and incremental queries read. day and the times are Unix seconds.

-- +goose Up
CREATE TABLE metrics_days (
    id                      TEXT    NOT NULL UNIQUE,
    day                     BIGINT  NOT NULL,
    aggregation_period      TEXT    NOT NULL DEFAULT 'daily',
    agent_runs_count        BIGINT  NOT NULL DEFAULT 0,
    agent_sessions_count    BIGINT  NOT NULL DEFAULT 0,
    team_runs_count         BIGINT  NOT NULL DEFAULT 0,
    team_sessions_count     BIGINT  NOT NULL DEFAULT 0,
    workflow_runs_count     BIGINT  NOT NULL DEFAULT 0,
    workflow_sessions_count BIGINT  NOT NULL DEFAULT 0,
    users_count             BIGINT  NOT NULL DEFAULT 0,
    token_metrics           JSONB   NOT NULL DEFAULT '{}', -- metric.MetricsTokens
    model_metrics           JSONB   NOT NULL DEFAULT '[]', -- []metric.MetricsModelCount
    completed               BOOLEAN NOT NULL DEFAULT false,
    created_at              BIGINT  NOT NULL,
    updated_at              BIGINT  NOT NULL,
    PRIMARY KEY (day, aggregation_period)
);
CREATE TABLE metrics_refresh (
    id          TEXT    PRIMARY KEY,
    status      TEXT    NOT NULL DEFAULT 'idle',
    token       TEXT    NOT NULL DEFAULT '',
    started_at  BIGINT  NOT NULL DEFAULT 0,
    finished_at BIGINT  NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    watermark   BIGINT  NOT NULL DEFAULT 0
);
INSERT INTO metrics_refresh (id) VALUES ('daily');
CREATE INDEX runs_created_at_idx ON runs (created_at);
CREATE INDEX runs_updated_at_idx ON runs (updated_at);
CREATE INDEX sessions_updated_at_idx ON sessions (updated_at);

-- +goose Down
DROP INDEX sessions_updated_at_idx;
DROP INDEX runs_updated_at_idx;
DROP INDEX runs_created_at_idx;
DROP TABLE metrics_refresh;
DROP TABLE metrics_days;
