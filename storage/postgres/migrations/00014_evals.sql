-- Evals (core/eval; the same version and columns as SQLite's 00014): eval
-- runs, AgentOS's agno_eval_runs, with the owner, status and verdict
-- agentgate adds. eval_data and eval_input are JSON objects, run_ids the
-- engine runs evaluated; passed is NULL until the eval run completes.
-- Times are Unix seconds. seq is insertion order.

-- +goose Up
CREATE TABLE eval_runs (
    seq                      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                       TEXT    NOT NULL UNIQUE,
    agent_id                 TEXT    NOT NULL DEFAULT '',
    team_id                  TEXT    NOT NULL DEFAULT '',
    workflow_id              TEXT    NOT NULL DEFAULT '',
    model_id                 TEXT    NOT NULL DEFAULT '',
    model_provider           TEXT    NOT NULL DEFAULT '',
    name                     TEXT    NOT NULL DEFAULT '',
    evaluated_component_name TEXT    NOT NULL DEFAULT '',
    eval_type                TEXT    NOT NULL,
    eval_data                JSONB   NOT NULL DEFAULT '{}',
    eval_input               JSONB,
    user_id                  TEXT    NOT NULL DEFAULT '',
    status                   TEXT    NOT NULL DEFAULT 'running',
    passed                   BOOLEAN,
    error                    TEXT    NOT NULL DEFAULT '',
    run_ids                  TEXT[]  NOT NULL DEFAULT '{}',
    created_at               BIGINT  NOT NULL DEFAULT 0,
    updated_at               BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX eval_runs_user_idx ON eval_runs (user_id, created_at);
CREATE INDEX eval_runs_created_idx ON eval_runs (created_at);

-- +goose Down
DROP TABLE eval_runs;
