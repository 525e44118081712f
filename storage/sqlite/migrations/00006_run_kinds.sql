-- Teams, workflows and child runs: the runnable's ids (a team run has a
-- team_id and no agent_id, a workflow run a workflow_id), the parent of a
-- child run (a team member's, a workflow step's execution), and the rest of
-- their fields as JSON (runextra.Extra; NULL for agent runs).

-- +goose Up
ALTER TABLE runs ADD COLUMN team_id TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN workflow_id TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN parent_run_id TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN extra TEXT;
CREATE INDEX runs_parent_run_id_idx ON runs (parent_run_id) WHERE parent_run_id <> '';

-- +goose Down
DROP INDEX runs_parent_run_id_idx;
ALTER TABLE runs DROP COLUMN extra;
ALTER TABLE runs DROP COLUMN parent_run_id;
ALTER TABLE runs DROP COLUMN workflow_id;
ALTER TABLE runs DROP COLUMN team_id;
