-- Approvals: one row per approval record (core.Approval). The fields the
-- list filters on are columns; the rest of the record is JSON text (NULL
-- when the Go value is nil, so nil and empty stay apart). Times are Unix
-- seconds; expires_at and resolved_at are NULL when not set. An approval
-- refers to its run and session by id only; DeleteSessions deletes a
-- session's approvals with its runs.

-- +goose Up
CREATE TABLE approvals (
    id              TEXT    PRIMARY KEY,
    run_id          TEXT    NOT NULL DEFAULT '',
    session_id      TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL,
    source_type     TEXT    NOT NULL DEFAULT '',
    approval_type   TEXT    NOT NULL DEFAULT '',
    pause_type      TEXT    NOT NULL DEFAULT '',
    tool_name       TEXT    NOT NULL DEFAULT '',
    tool_args       TEXT,                          -- JSON object
    tool_call_ids   TEXT,                          -- JSON []string
    agent_id        TEXT    NOT NULL DEFAULT '',
    team_id         TEXT    NOT NULL DEFAULT '',
    workflow_id     TEXT    NOT NULL DEFAULT '',
    user_id         TEXT    NOT NULL DEFAULT '',
    schedule_id     TEXT    NOT NULL DEFAULT '',
    schedule_run_id TEXT    NOT NULL DEFAULT '',
    source_name     TEXT    NOT NULL DEFAULT '',
    requirements    TEXT,                          -- JSON []core.RunRequirement
    context         TEXT,                          -- JSON object
    resolution_data TEXT,                          -- JSON object
    resolved_by     TEXT    NOT NULL DEFAULT '',
    auto_continue   INTEGER NOT NULL DEFAULT 0,
    expires_at      INTEGER,                       -- Unix seconds or NULL
    resolved_at     INTEGER,                       -- Unix seconds or NULL
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL DEFAULT 0
);
-- ListApprovals's order is (created_at, id) descending; the pending list
-- is the one the UI polls.
CREATE INDEX approvals_status_created_at_idx ON approvals (status, created_at, id);
CREATE INDEX approvals_created_at_idx ON approvals (created_at, id);
CREATE INDEX approvals_run_id_idx ON approvals (run_id);
CREATE INDEX approvals_session_id_idx ON approvals (session_id);
CREATE INDEX approvals_user_id_created_at_idx ON approvals (user_id, created_at, id);
-- The expiry sweep: pending approvals with a deadline.
CREATE INDEX approvals_pending_expires_at_idx ON approvals (expires_at) WHERE status = 'pending' AND expires_at IS NOT NULL;

-- +goose Down
DROP TABLE approvals;
