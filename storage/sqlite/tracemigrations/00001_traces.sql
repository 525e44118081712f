-- The traces' database (a file of its own next to the state database):
-- stored spans and the traces they form, AgentOS's agno_traces and
-- agno_spans; the state database's migrations 00012 and 00018 as one. A
-- trace row is the summary of its spans, kept up to date by every write of
-- spans (root name, status, first start, last end, counts, identity), and
-- remembers its root span (id, parent and start time) so a batch of spans
-- updates the summary incrementally. Times are Unix nanoseconds (UTC);
-- identity columns are '' when absent; attributes and events are JSON.

-- +goose Up
CREATE TABLE traces (
    trace_id       TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL DEFAULT '',
    status         TEXT    NOT NULL DEFAULT 'OK',
    start_time     INTEGER NOT NULL DEFAULT 0,
    end_time       INTEGER NOT NULL DEFAULT 0,
    duration_ms    INTEGER NOT NULL DEFAULT 0,
    total_spans    INTEGER NOT NULL DEFAULT 0,
    error_count    INTEGER NOT NULL DEFAULT 0,
    input          TEXT    NOT NULL DEFAULT '',
    run_id         TEXT    NOT NULL DEFAULT '',
    session_id     TEXT    NOT NULL DEFAULT '',
    user_id        TEXT    NOT NULL DEFAULT '',
    agent_id       TEXT    NOT NULL DEFAULT '',
    team_id        TEXT    NOT NULL DEFAULT '',
    workflow_id    TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL DEFAULT 0,
    root_span_id   TEXT    NOT NULL DEFAULT '',
    root_parent_id TEXT    NOT NULL DEFAULT '',
    root_start     INTEGER NOT NULL DEFAULT 0
);
-- The indexes are those the store's queries use (storage/sqlstore/traces.go;
-- every one is written with each new trace): start_time for the default
-- list (latest first), its time filters and the retention pass (which
-- bounds start_time as well as end_time: a trace ends no earlier than it
-- starts, so there is no index on end_time); user_id for the lists under
-- user isolation; session_id, run_id, agent_id, team_id, workflow_id and
-- status for the list's equality filters (and their counts). The tables
-- keep their rowids: WITHOUT ROWID, every secondary index would carry the
-- 32-character trace id instead of an integer rowid, and the writes
-- measured slower (BenchmarkWriteSpansRuns).
CREATE INDEX traces_start_idx ON traces (start_time);
CREATE INDEX traces_user_idx ON traces (user_id, start_time);
CREATE INDEX traces_session_idx ON traces (session_id, created_at);
CREATE INDEX traces_run_idx ON traces (run_id);
CREATE INDEX traces_agent_idx ON traces (agent_id, start_time);
CREATE INDEX traces_team_idx ON traces (team_id, start_time);
CREATE INDEX traces_workflow_idx ON traces (workflow_id, start_time);
CREATE INDEX traces_status_idx ON traces (status, start_time);

CREATE TABLE spans (
    span_id        TEXT    PRIMARY KEY,
    trace_id       TEXT    NOT NULL,
    parent_span_id TEXT    NOT NULL DEFAULT '',
    name           TEXT    NOT NULL DEFAULT '',
    span_kind      TEXT    NOT NULL DEFAULT '',
    status_code    TEXT    NOT NULL DEFAULT '',
    status_message TEXT    NOT NULL DEFAULT '',
    start_time     INTEGER NOT NULL DEFAULT 0,
    end_time       INTEGER NOT NULL DEFAULT 0,
    duration_ms    INTEGER NOT NULL DEFAULT 0,
    attributes     TEXT,
    events         TEXT,
    run_id         TEXT    NOT NULL DEFAULT '',
    session_id     TEXT    NOT NULL DEFAULT '',
    user_id        TEXT    NOT NULL DEFAULT '',
    agent_id       TEXT    NOT NULL DEFAULT '',
    team_id        TEXT    NOT NULL DEFAULT '',
    workflow_id    TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX spans_trace_idx ON spans (trace_id, start_time, span_id);

-- +goose Down
DROP TABLE spans;
DROP TABLE traces;
