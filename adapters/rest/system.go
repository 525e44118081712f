package rest

import (
	"context"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
)

// The system routes AgentOS serves besides /health and /config: the API's
// root, its public info, the agents' models, and the schema migrations of
// the databases (shared with `agentgate migrate`: both drive the store's
// own Migrator).

// Migrator moves a database's schema; the state stores implement it.
type Migrator interface {
	// Version is the schema version the database is at.
	Version(ctx context.Context) (int64, error)
	// Migrate moves to target: -1 the latest, 0 no tables, else a version.
	Migrate(ctx context.Context, target int64) error
}

// RootBody answers GET /.
type RootBody struct {
	Name    string            `json:"name"`
	ID      string            `json:"id"`
	Version string            `json:"version"`
	Links   map[string]string `json:"links" doc:"Where the documentation, health, info and configuration are served."`
}

// InfoBody answers GET /info (AgentOS's public info).
type InfoBody struct {
	OSID          string  `json:"os_id"`
	Name          string  `json:"name"`
	Version       string  `json:"version"`
	AgentCount    int     `json:"agent_count"`
	TeamCount     int     `json:"team_count"`
	WorkflowCount int     `json:"workflow_count"`
	MCP           MCPInfo `json:"mcp"`
	AuthMode      string  `json:"auth_mode" enum:"none,security_key,jwt"`
}

// MCPInfo says whether and where the MCP server is served.
type MCPInfo struct {
	Enabled bool   `json:"enabled"`
	Path    string `json:"path,omitempty"`
}

// MigrateResult is the outcome of one database's migration.
type MigrateResult struct {
	DBID        string `json:"db_id"`
	FromVersion int64  `json:"from_version"`
	ToVersion   int64  `json:"to_version"`
	// Error says why the database did not reach the target.
	Error string `json:"error,omitempty"`
}

// MigrateAllBody answers POST /databases/all/migrate.
type MigrateAllBody struct {
	Results []MigrateResult `json:"results"`
}

type migrateQuery struct {
	TargetVersion string `query:"target_version" doc:"A schema version (0 removes every table) or latest (default): up or down."`
}

// authModes are AgentOS's names of the auth modes.
var authModes = map[string]string{auth.ModeKey: "security_key", auth.ModeJWT: "jwt"}

func (h *Handler) systemRoutes() []Route {
	tags := []string{"Core"}
	migrate := adminOnly(scoped(auth.ResourceConfig, auth.ActionWrite, ""))
	return []Route{
		{Operation: huma.Operation{OperationID: "get-root", Method: http.MethodGet, Path: "/", Summary: "API root: name, id, version and links", Tags: tags},
			Access: public(),
			Handle: typed(func(ctx context.Context, _ *struct{}) (*struct{ Body RootBody }, error) {
				return &struct{ Body RootBody }{RootBody{Name: h.cfg.Name, ID: h.cfg.Name, Version: h.cfg.Version, Links: map[string]string{
					"docs": "/docs", "openapi": "/openapi.json", "health": "/health", "info": "/info", "config": "/config",
				}}}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-info", Method: http.MethodGet, Path: "/info", Summary: "Public information: id, name, version, counts, auth mode, MCP", Tags: tags},
			Access: public(),
			Handle: typed(func(ctx context.Context, _ *struct{}) (*struct{ Body InfoBody }, error) {
				mode := authModes[h.cfg.Docs.AuthMode]
				if mode == "" {
					mode = "none"
				}
				b := InfoBody{OSID: h.cfg.Name, Name: h.cfg.Name, Version: h.cfg.Version, AgentCount: len(h.eng.Agents()),
					TeamCount: len(h.eng.Runnables(core.KindTeam)), WorkflowCount: len(h.eng.Runnables(core.KindWorkflow)),
					MCP: MCPInfo{Enabled: h.cfg.MCPPath != "", Path: h.cfg.MCPPath}, AuthMode: mode}
				return &struct{ Body InfoBody }{b}, nil
			})},
		{Operation: huma.Operation{OperationID: "list-models", Method: http.MethodGet, Path: "/models", Summary: "The models of the agents (each once)", Tags: tags},
			Access: scoped(auth.ResourceConfig, auth.ActionRead, ""),
			Handle: typed(func(ctx context.Context, _ *struct{}) (*struct{ Body []SummaryModel }, error) {
				out := []SummaryModel{}
				seen := map[SummaryModel]bool{}
				for _, a := range h.eng.Agents() {
					if m := summaryModel(a.Info().Model); m != nil && !seen[*m] {
						seen[*m] = true
						out = append(out, *m)
					}
				}
				return &struct{ Body []SummaryModel }{out}, nil
			})},
		// Before /databases/{db_id}/migrate: fiber matches in order.
		{Operation: huma.Operation{OperationID: "migrate-all-databases", Method: http.MethodPost, Path: "/databases/all/migrate", Summary: "Migrate every database's schema (207 when some failed)", Tags: tags,
			Responses: map[string]*huma.Response{"207": {Description: "Some databases failed: see each result's error."}}},
			Access: migrate, Errors: []int{400},
			Handle: typed(func(ctx context.Context, in *migrateQuery) (*struct {
				Status int
				Body   MigrateAllBody
			}, error) {
				target, err := targetVersion(in.TargetVersion)
				if err != nil {
					return nil, toAPIError(err)
				}
				out := struct {
					Status int
					Body   MigrateAllBody
				}{Status: http.StatusOK, Body: MigrateAllBody{Results: []MigrateResult{}}}
				for _, d := range h.cfg.Databases {
					r, err := h.migrate(ctx, d, target)
					if err != nil {
						r.Error = core.MessageOf(err)
						out.Status = http.StatusMultiStatus
					}
					out.Body.Results = append(out.Body.Results, r)
				}
				return &out, nil
			})},
		{Operation: huma.Operation{OperationID: "migrate-database", Method: http.MethodPost, Path: "/databases/{db_id}/migrate", Summary: "Migrate a database's schema up or down", Tags: tags},
			Access: migrate, Errors: []int{400, 404},
			Handle: typed(func(ctx context.Context, in *struct {
				DBID          string `path:"db_id"`
				TargetVersion string `query:"target_version" doc:"A schema version (0 removes every table) or latest (default): up or down."`
			}) (*struct{ Body MigrateResult }, error) {
				target, err := targetVersion(in.TargetVersion)
				if err != nil {
					return nil, toAPIError(err)
				}
				d, ok := h.database(in.DBID)
				if !ok {
					return nil, toAPIError(core.Errorf(core.CodeNotFound, "database %q not found", in.DBID))
				}
				r, err := h.migrate(ctx, d, target)
				if err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body MigrateResult }{r}, nil
			})},
	}
}

// targetVersion parses target_version: "" and latest are the latest.
func targetVersion(s string) (int64, error) {
	if s == "" || s == "latest" {
		return -1, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, core.Errorf(core.CodeInvalid, "target_version must be a version number >= 0 or latest, not %q", s)
	}
	return v, nil
}

// database returns the configured database with this id.
func (h *Handler) database(id string) (DatabaseInfo, bool) {
	for _, d := range h.cfg.Databases {
		if d.ID == id {
			return d, true
		}
	}
	return DatabaseInfo{}, false
}

func (h *Handler) migrate(ctx context.Context, d DatabaseInfo, target int64) (MigrateResult, error) {
	r := MigrateResult{DBID: d.ID}
	if d.Migrator == nil {
		return r, core.Errorf(core.CodeNotImpl, "database %q cannot be migrated from the API", d.ID)
	}
	var err error
	if r.FromVersion, err = d.Migrator.Version(ctx); err != nil {
		return r, err
	}
	r.ToVersion = r.FromVersion
	if err := d.Migrator.Migrate(ctx, target); err != nil {
		return r, err
	}
	r.ToVersion, err = d.Migrator.Version(ctx)
	return r, err
}
