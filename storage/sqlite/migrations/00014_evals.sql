-- Evals (core/eval): eval runs, AgentOS's agno_eval_runs, with the owner,
-- status and verdict agentgate adds. eval_data and eval_input are JSON
-- objects, run_ids the JSON list of the engine runs evaluated; passed is
-- NULL until the eval run completes. Times are Unix seconds. seq is
-- insertion order.

-- +goose Up
CREATE TABLE eval_runs (
    seq                      INTEGER PRIMARY KEY,
    id                       TEXT    NOT NULL UNIQUE,
    agent_id                 TEXT    NOT NULL DEFAULT '',
    team_id                  TEXT    NOT NULL DEFAULT '',
    workflow_id              TEXT    NOT NULL DEFAULT '',
    model_id                 TEXT    NOT NULL DEFAULT '',
    model_provider           TEXT    NOT NULL DEFAULT '',
    name                     TEXT    NOT NULL DEFAULT '',
    evaluated_component_name TEXT    NOT NULL DEFAULT '',
    eval_type                TEXT    NOT NULL,
    eval_data                TEXT    NOT NULL DEFAULT '{}',
    eval_input               TEXT,
    user_id                  TEXT    NOT NULL DEFAULT '',
    status                   TEXT    NOT NULL DEFAULT 'running',
    passed                   INTEGER,
    error                    TEXT    NOT NULL DEFAULT '',
    run_ids                  TEXT    NOT NULL DEFAULT '[]',
    created_at               INTEGER NOT NULL DEFAULT 0,
    updated_at               INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX eval_runs_user_idx ON eval_runs (user_id, created_at);
CREATE INDEX eval_runs_created_idx ON eval_runs (created_at);

-- +goose Down
DROP TABLE eval_runs;
