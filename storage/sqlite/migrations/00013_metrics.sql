-- Metrics (core/metric): AgentOS's daily aggregates of the stored runs and
-- sessions (agno_metrics), one row per UTC day and aggregation period; the
-- refresh status row, which is also the claim that keeps one refresh
-- running at a time across replicas; and the runs' indexes the aggregate
-- and incremental queries read. day and the times are Unix seconds.

-- +goose Up
CREATE TABLE metrics_days (
    id                      TEXT    NOT NULL UNIQUE,
    day                     INTEGER NOT NULL,
    aggregation_period      TEXT    NOT NULL DEFAULT 'daily',
    agent_runs_count        INTEGER NOT NULL DEFAULT 0,
    agent_sessions_count    INTEGER NOT NULL DEFAULT 0,
    team_runs_count         INTEGER NOT NULL DEFAULT 0,
    team_sessions_count     INTEGER NOT NULL DEFAULT 0,
    workflow_runs_count     INTEGER NOT NULL DEFAULT 0,
    workflow_sessions_count INTEGER NOT NULL DEFAULT 0,
    users_count             INTEGER NOT NULL DEFAULT 0,
    token_metrics           TEXT    NOT NULL DEFAULT '{}', -- JSON metric.MetricsTokens
    model_metrics           TEXT    NOT NULL DEFAULT '[]', -- JSON []metric.MetricsModelCount
    completed               INTEGER NOT NULL DEFAULT 0,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    PRIMARY KEY (day, aggregation_period)
);
CREATE TABLE metrics_refresh (
    id          TEXT    PRIMARY KEY,
    status      TEXT    NOT NULL DEFAULT 'idle',
    token       TEXT    NOT NULL DEFAULT '',
    started_at  INTEGER NOT NULL DEFAULT 0,
    finished_at INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    watermark   INTEGER NOT NULL DEFAULT 0
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
