package e2e

// AgentOS's /metrics: daily aggregates computed by the refresh from the
// stored runs and sessions. The days are real UTC days: runs are made
// through the API (today), then some are moved to earlier days by
// updating their created_at (and their sessions') directly in the test's
// Postgres schema — the binary has no clock hook. The expected counts are
// the ones the test made; tokens and per-model counts are recomputed in Go
// from the stored rows, an implementation independent of the store's SQL.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func metricsConfig(interval string) string {
	return `
observability:
  metrics_refresh_interval: ` + interval + `
models:
  plain:
    provider: scripted
    model: plain-1
    chunks: 1
    script:
      - reply: "You said: {{input}}"
  other:
    provider: scripted
    model: other-1
    chunks: 1
    script:
      - reply: "Other: {{input}} and some more words"
agents:
  - id: assistant
    name: Assistant
    model: plain
  - id: helper
    name: Helper
    model: other
teams:
  - id: crew
    name: Crew
    mode: broadcast
    members: [assistant]
workflows:
  - id: flow
    name: Flow
    steps:
      - {name: answer, agent: helper}
`
}

// dayMetrics is AgentOS's DayAggregatedMetrics as the test reads it.
type dayMetrics struct {
	ID                    string           `json:"id"`
	AgentRunsCount        int64            `json:"agent_runs_count"`
	AgentSessionsCount    int64            `json:"agent_sessions_count"`
	TeamRunsCount         int64            `json:"team_runs_count"`
	TeamSessionsCount     int64            `json:"team_sessions_count"`
	WorkflowRunsCount     int64            `json:"workflow_runs_count"`
	WorkflowSessionsCount int64            `json:"workflow_sessions_count"`
	UsersCount            int64            `json:"users_count"`
	TokenMetrics          map[string]int64 `json:"token_metrics"`
	ModelMetrics          []modelCount     `json:"model_metrics"`
	Date                  time.Time        `json:"date"`
	CreatedAt             time.Time        `json:"created_at"`
	UpdatedAt             time.Time        `json:"updated_at"`
}

type modelCount struct {
	ModelID       string `json:"model_id"`
	ModelProvider string `json:"model_provider"`
	Count         int64  `json:"count"`
}

type metricsResponse struct {
	Metrics   []dayMetrics `json:"metrics"`
	UpdatedAt *time.Time   `json:"updated_at"`
}

type refreshStatus struct {
	Status     string     `json:"status"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Error      *string    `json:"error"`
}

// schemaConn connects to the test's schema.
func schemaConn(t *testing.T, be *backends) *pgx.Conn {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	u, err := url.Parse(be.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("schema")
	u.RawQuery = q.Encode()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "SET search_path TO "+pgx.Identifier{be.Schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return conn
}

// postRun runs a runnable (agents, teams, workflows) with stream=false and
// returns its run and session ids.
func postRun(t *testing.T, g *gateway, kind, id string, form url.Values) (string, string) {
	t.Helper()
	f := url.Values{"message": {"hello there"}, "stream": {"false"}}
	for k, v := range form {
		f[k] = v
	}
	var r fullRun
	decode(t, want(t, g, "", http.MethodPost, "/"+kind+"/"+id+"/runs", formBody(f), http.StatusOK), &r)
	if r.Status != "COMPLETED" {
		t.Fatalf("run of %s %s: %+v", kind, id, r)
	}
	return r.RunID, r.SessionID
}

// waitRefreshDone waits until a refresh has ended and none runs (the
// periodic job runs one at start).
func waitRefreshDone(t *testing.T, g *gateway) refreshStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st refreshStatus
		decode(t, want(t, g, "", http.MethodGet, "/metrics/refresh/status", nil, http.StatusOK), &st)
		if st.Status == "completed" || st.Status == "failed" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("a metrics refresh is still running after 30s: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// refreshSync runs a synchronous refresh (retrying while the periodic one
// runs) and returns the refreshed days.
func refreshSync(t *testing.T, g *gateway) []dayMetrics {
	t.Helper()
	for i := 0; ; i++ {
		b := want(t, g, "", http.MethodPost, "/metrics/refresh", nil, http.StatusOK)
		if strings.HasPrefix(strings.TrimSpace(string(b)), "[") {
			var days []dayMetrics
			decode(t, b, &days)
			return days
		}
		if !strings.Contains(string(b), "already_running") || i > 100 {
			t.Fatalf("POST /metrics/refresh: %s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func getMetrics(t *testing.T, g *gateway, query string) metricsResponse {
	t.Helper()
	var m metricsResponse
	decode(t, want(t, g, "", http.MethodGet, "/metrics?"+query, nil, http.StatusOK), &m)
	return m
}

// expectedUsage recomputes a day's token sums and per-model counts from
// the stored runs.
func expectedUsage(t *testing.T, conn *pgx.Conn, day time.Time) (map[string]int64, []modelCount) {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	from := day.Unix()
	rows, err := conn.Query(ctx, `SELECT model, model_provider, COALESCE(metrics::text, '') FROM runs WHERE created_at >= $1 AND created_at < $2`, from, from+86400)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	tokens := map[string]int64{}
	models := map[modelCount]int64{}
	for rows.Next() {
		var model, provider, m string
		if err := rows.Scan(&model, &provider, &m); err != nil {
			t.Fatal(err)
		}
		if m != "" {
			var counters map[string]any
			if err := json.Unmarshal([]byte(m), &counters); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"input_tokens", "output_tokens", "total_tokens"} {
				if v, ok := counters[k].(float64); ok {
					tokens[k] += int64(v)
				}
			}
		}
		if model != "" {
			models[modelCount{ModelID: model, ModelProvider: provider}]++
		}
	}
	var out []modelCount
	for k, n := range models {
		k.Count = n
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b modelCount) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(a.ModelID+"\x00"+a.ModelProvider, b.ModelID+"\x00"+b.ModelProvider)
	})
	return tokens, out
}

func checkUsage(t *testing.T, conn *pgx.Conn, d dayMetrics) {
	t.Helper()
	tokens, models := expectedUsage(t, conn, d.Date)
	for _, k := range []string{"input_tokens", "output_tokens", "total_tokens"} {
		if d.TokenMetrics[k] != tokens[k] {
			t.Errorf("day %s %s = %d, want %d (from the stored runs)", d.ID, k, d.TokenMetrics[k], tokens[k])
		}
	}
	for _, k := range []string{"audio_total_tokens", "audio_input_tokens", "audio_output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"} {
		if v, ok := d.TokenMetrics[k]; !ok || v != 0 {
			t.Errorf("day %s token_metrics[%s] = %d (present %v), want 0", d.ID, k, v, ok)
		}
	}
	if tokens["total_tokens"] == 0 {
		t.Errorf("day %s: the stored runs used no tokens: the check proves nothing", d.ID)
	}
	if fmt.Sprint(d.ModelMetrics) != fmt.Sprint(models) {
		t.Errorf("day %s model_metrics = %v, want %v", d.ID, d.ModelMetrics, models)
	}
}

func byDate(days []dayMetrics) map[string]dayMetrics {
	out := map[string]dayMetrics{}
	for _, d := range days {
		out[d.Date.UTC().Format("2006-01-02")] = d
	}
	return out
}

// TestMetricsDays checks /metrics against runs made in the test across
// several days, the incremental refresh, and the bad inputs.
func TestMetricsDays(t *testing.T) {
	t.Parallel()
	be := newBackends(t, "")
	g := startReplica(t, "A", metricsConfig("1h"), be.Env()...).gateway
	conn := schemaConn(t, be)
	ctx := testCtx(t, time.Minute)
	if st := waitRefreshDone(t, g); st.Status != "completed" {
		t.Fatalf("the refresh at start: %+v", st)
	}

	now := time.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	dayX := today.AddDate(0, 0, -3)
	dayY := today.AddDate(0, 0, -2)
	date := func(d time.Time) string { return d.Format("2006-01-02") }

	// To be moved to day X: two runs of u-old in one session, one of
	// u-old2 in another, on two models.
	_, oldSess := postRun(t, g, "agents", "assistant", url.Values{"user_id": {"u-old"}})
	postRun(t, g, "agents", "assistant", url.Values{"user_id": {"u-old"}, "session_id": {oldSess}})
	_, oldSess2 := postRun(t, g, "agents", "helper", url.Values{"user_id": {"u-old2"}})
	// Today: an agent run, a team run (its member's run is a child run), a
	// workflow run (its step's run is a child run).
	newRun, _ := postRun(t, g, "agents", "assistant", url.Values{"user_id": {"u-new"}})
	postRun(t, g, "teams", "crew", url.Values{"user_id": {"u-new"}})
	postRun(t, g, "workflows", "flow", url.Values{"user_id": {"u-wf"}})

	shift := int64(3 * 86400)
	for _, s := range []string{oldSess, oldSess2} {
		if _, err := conn.Exec(ctx, `UPDATE runs SET created_at = created_at - $1, updated_at = $2 WHERE session_id = $3`, shift, time.Now().Unix(), s); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `UPDATE sessions SET created_at = created_at - $1 WHERE session_id = $2`, shift, s); err != nil {
			t.Fatal(err)
		}
	}

	time.Sleep(1100 * time.Millisecond) // the watermark is in seconds: the next refresh starts after these updates
	refreshed := byDate(refreshSync(t, g))
	if _, ok := refreshed[date(dayX)]; !ok || len(refreshed) != 2 {
		t.Fatalf("refreshed days %v, want %s and today", keys(refreshed), date(dayX))
	}
	m := getMetrics(t, g, "starting_date="+date(dayX.AddDate(0, 0, -1))+"&ending_date="+date(today))
	days := byDate(m.Metrics)
	if len(m.Metrics) != 2 || m.UpdatedAt == nil {
		t.Fatalf("GET /metrics: %+v", m)
	}
	x, tod := days[date(dayX)], days[date(today)]
	if x.AgentRunsCount != 3 || x.AgentSessionsCount != 2 || x.UsersCount != 2 || x.TeamRunsCount != 0 || x.WorkflowRunsCount != 0 ||
		x.TeamSessionsCount != 0 || x.WorkflowSessionsCount != 0 || x.ID != date(dayX)+"_daily" {
		t.Errorf("day X: %+v", x)
	}
	if len(x.ModelMetrics) != 2 || x.ModelMetrics[0] != (modelCount{"plain-1", "scripted", 2}) || x.ModelMetrics[1] != (modelCount{"other-1", "scripted", 1}) {
		t.Errorf("day X model_metrics: %+v", x.ModelMetrics)
	}
	checkUsage(t, conn, x)
	if tod.AgentRunsCount != 1 || tod.TeamRunsCount != 1 || tod.WorkflowRunsCount != 1 || tod.AgentSessionsCount != 1 ||
		tod.TeamSessionsCount != 1 || tod.WorkflowSessionsCount != 1 || tod.UsersCount != 2 {
		t.Errorf("today: %+v", tod)
	}
	checkUsage(t, conn, tod)
	if got := getMetrics(t, g, "starting_date="+date(dayX)+"&ending_date="+date(dayX)); len(got.Metrics) != 1 || got.Metrics[0].ID != x.ID {
		t.Errorf("one day: %+v", got)
	}
	if got := getMetrics(t, g, ""); len(got.Metrics) != 2 {
		t.Errorf("no bounds: %+v", got)
	}
	if got := getMetrics(t, g, "starting_date="+date(today.AddDate(0, 0, 1))); len(got.Metrics) != 0 || got.UpdatedAt != nil {
		t.Errorf("from tomorrow: %+v", got)
	}

	// Incremental: today's agent run moves to day Y (its session stays
	// today). Only day Y and today are recomputed; day X keeps its row.
	if _, err := conn.Exec(ctx, `UPDATE runs SET created_at = created_at - $1, updated_at = $2 WHERE run_id = $3`, int64(2*86400), time.Now().Unix()+1, newRun); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the watermark is in seconds
	refreshed = byDate(refreshSync(t, g))
	if _, ok := refreshed[date(dayY)]; !ok || len(refreshed) != 2 {
		t.Fatalf("incremental refresh: days %v, want %s and today", keys(refreshed), date(dayY))
	}
	days = byDate(getMetrics(t, g, "starting_date="+date(dayX)+"&ending_date="+date(today)).Metrics)
	if y := days[date(dayY)]; y.AgentRunsCount != 1 || y.AgentSessionsCount != 0 || y.UsersCount != 1 {
		t.Errorf("day Y: %+v", y)
	}
	if tod := days[date(today)]; tod.AgentRunsCount != 0 || tod.TeamRunsCount != 1 || tod.UsersCount != 2 {
		t.Errorf("today after the move: %+v", tod)
	}
	if again := days[date(dayX)]; !again.UpdatedAt.Equal(x.UpdatedAt) || again.AgentRunsCount != 3 {
		t.Errorf("day X was recomputed or changed: %+v, was %+v", again, x)
	}

	// Bad input.
	for _, c := range []struct {
		query  string
		status int
		detail string
	}{
		{"starting_date=yesterday", http.StatusUnprocessableEntity, "starting_date"},
		{"ending_date=2026-13-01", http.StatusUnprocessableEntity, "ending_date"},
		{"starting_date=2026-01-01T00:00:00Z", http.StatusUnprocessableEntity, "YYYY-MM-DD"},
		{"starting_date=2026-02-02&ending_date=2026-02-01", http.StatusBadRequest, "after ending_date"},
		{"db_id=nope", http.StatusNotFound, ""},
	} {
		resp, b := call(t, g, "", http.MethodGet, "/metrics?"+c.query, nil)
		if resp.StatusCode != c.status || !strings.Contains(string(b), c.detail) || !strings.Contains(string(b), `"detail"`) {
			t.Errorf("GET /metrics?%s: %d %s, want %d with %q", c.query, resp.StatusCode, b, c.status, c.detail)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestMetricsRefreshOnceAcrossReplicas: two replicas on one Postgres and
// Redis; a refresh long enough to overlap (1500 days of runs inserted in
// the database) is started from both at once: one starts, every other
// request is told already_running, and both replicas report the same
// status.
func TestMetricsRefreshOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	be := newBackends(t, "")
	a := startReplica(t, "A", metricsConfig("1h"), be.Env()...)
	b := startReplica(t, "B", metricsConfig("1h"), be.Env()...)
	conn := schemaConn(t, be)
	ctx := testCtx(t, 2*time.Minute)
	// The periodic job's refresh at start, on one replica; the next is an
	// hour away.
	waitRefreshDone(t, a.gateway)

	const bulkDays = 1500
	nowS := time.Now().Unix()
	if _, err := conn.Exec(ctx, `INSERT INTO runs (run_id, session_id, agent_id, user_id, status, model, model_provider, metrics, created_at, updated_at)
		SELECT 'bulk-' || g, 'bulk-s-' || g, 'assistant', 'bulk-user', 'COMPLETED', 'plain-1', 'scripted',
		       '{"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}'::jsonb, $1::bigint - g * 86400, $1::bigint + 60
		FROM generate_series(1, $2::int) g`, nowS, bulkDays); err != nil {
		t.Fatal(err)
	}

	type answer struct {
		replica string
		status  int
		body    string
	}
	var (
		mu      sync.Mutex
		answers []answer
		wg      sync.WaitGroup
	)
	start := make(chan struct{})
	for i := 0; i < 6; i++ {
		r := a
		if i%2 == 1 {
			r = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, body := call(t, r.gateway, "", http.MethodPost, "/metrics/refresh?background=true", nil)
			mu.Lock()
			answers = append(answers, answer{r.Name, resp.StatusCode, string(body)})
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	started := 0
	for _, an := range answers {
		switch {
		case an.status == http.StatusAccepted && strings.Contains(an.body, `"started"`):
			started++
		case an.status == http.StatusAccepted && strings.Contains(an.body, `"already_running"`):
		default:
			t.Errorf("replica %s: %d %s", an.replica, an.status, an.body)
		}
	}
	if started != 1 {
		t.Fatalf("%d refreshes started at once: %+v", started, answers)
	}
	var sa, sb refreshStatus
	decode(t, want(t, a.gateway, "", http.MethodGet, "/metrics/refresh/status", nil, http.StatusOK), &sa)
	decode(t, want(t, b.gateway, "", http.MethodGet, "/metrics/refresh/status", nil, http.StatusOK), &sb)
	if sa.Status != "running" || sb.Status != "running" || sa.StartedAt == nil || sb.StartedAt == nil || !sa.StartedAt.Equal(*sb.StartedAt) {
		t.Fatalf("status while refreshing: A %+v, B %+v (answers %+v)", sa, sb, answers)
	}
	// A synchronous refresh meanwhile is refused too.
	if body := want(t, b.gateway, "", http.MethodPost, "/metrics/refresh", nil, http.StatusOK); !strings.Contains(string(body), "already_running") {
		t.Fatalf("sync refresh during a background one: %s", body)
	}
	end := waitRefreshDone(t, b.gateway)
	if end.Status != "completed" || end.FinishedAt == nil || end.Error != nil {
		t.Fatalf("after the refresh: %+v", end)
	}
	t.Logf("refresh of %d days took %v", bulkDays, end.FinishedAt.Sub(*end.StartedAt))
	m := getMetrics(t, b.gateway, "")
	if len(m.Metrics) < bulkDays {
		t.Fatalf("GET /metrics lists %d days, want %d or more", len(m.Metrics), bulkDays)
	}
	first := m.Metrics[0]
	if first.AgentRunsCount != 1 || first.UsersCount != 1 || first.TokenMetrics["total_tokens"] != 7 || first.AgentSessionsCount != 0 {
		t.Errorf("oldest bulk day: %+v", first)
	}
}

// TestMetricsPeriodicRefresh: the periodic job (every second here) counts
// a new run with no refresh asked.
func TestMetricsPeriodicRefresh(t *testing.T) {
	t.Parallel()
	g := startGateway(t, metricsConfig("1s"))
	postRun(t, g, "agents", "helper", url.Values{"user_id": {"periodic-user"}})
	deadline := time.Now().Add(30 * time.Second)
	for {
		today := time.Now().UTC().Format("2006-01-02")
		days := byDate(getMetrics(t, g, "starting_date="+today).Metrics)
		if d, ok := days[today]; ok && d.AgentRunsCount == 1 && d.UsersCount == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the periodic refresh did not count today's run within 30s: %+v", days)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// agno's metrics schemas (libs/agno/agno/os/routers/metrics/schemas.py).
var (
	dayAggregatedMetricsShape = &shape{Name: "DayAggregatedMetrics", Source: "os/routers/metrics/schemas.py", Fields: []field{
		req("id", "string"),
		req("agent_runs_count", "integer"), req("agent_sessions_count", "integer"),
		req("team_runs_count", "integer"), req("team_sessions_count", "integer"),
		req("workflow_runs_count", "integer"), req("workflow_sessions_count", "integer"),
		req("users_count", "integer"),
		req("token_metrics", "object"), req("model_metrics", "array").of(&shape{Name: "model_metrics item", Source: "db/.../utils.py calculate_date_metrics",
			Fields: []field{req("model_id", "string"), req("model_provider", "string"), req("count", "integer")}}),
		req("date", datetime), req("created_at", datetime), req("updated_at", datetime),
	}}
	metricsResponseShape = &shape{Name: "MetricsResponse", Source: "os/routers/metrics/schemas.py", Fields: []field{
		req("metrics", "array").of(dayAggregatedMetricsShape), opt("updated_at", datetime+"|null"),
	}}
	metricsRefreshResponseShape = &shape{Name: "MetricsRefreshResponse", Source: "os/routers/metrics/schemas.py", Fields: []field{
		req("status", "string").enum("started", "already_running"), opt("message", "string|null"),
	}}
	metricsRefreshStatusShape = &shape{Name: "MetricsRefreshStatusResponse", Source: "os/routers/metrics/schemas.py", Fields: []field{
		req("status", "string").enum("idle", "running", "completed", "failed"),
		opt("started_at", datetime+"|null"), opt("finished_at", datetime+"|null"), opt("error", "string|null"),
	}}
)

// TestMetricsContract checks the metrics routes' answers against agno's
// schemas, on SQLite (the other tests run on Postgres).
func TestMetricsContract(t *testing.T) {
	t.Parallel()
	g := startGateway(t, metricsConfig("1h"))
	waitRefreshDone(t, g)
	postRun(t, g, "agents", "assistant", url.Values{"user_id": {"contract-user"}})
	days := conformList(t, "POST /metrics/refresh", dayAggregatedMetricsShape, want(t, g, "", http.MethodPost, "/metrics/refresh", nil, http.StatusOK))
	if len(days) != 1 {
		t.Fatalf("POST /metrics/refresh: %d days, want today", len(days))
	}
	m := conform(t, "GET /metrics", metricsResponseShape, want(t, g, "", http.MethodGet, "/metrics", nil, http.StatusOK))
	list, _ := m["metrics"].([]any)
	if len(list) != 1 {
		t.Fatalf("GET /metrics: %v", m)
	}
	day := list[0].(map[string]any)
	tm, _ := day["token_metrics"].(map[string]any)
	for _, k := range []string{"input_tokens", "output_tokens", "total_tokens", "audio_total_tokens", "audio_input_tokens",
		"audio_output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"} {
		if _, ok := tm[k].(json.Number); !ok {
			t.Errorf("token_metrics has no %s: %v", k, tm)
		}
	}
	if d, _ := day["date"].(string); !strings.HasSuffix(d, "T00:00:00Z") {
		t.Errorf("date %v, want midnight UTC", day["date"])
	}
	conform(t, "POST /metrics/refresh?background=true", metricsRefreshResponseShape,
		want(t, g, "", http.MethodPost, "/metrics/refresh?background=true", nil, http.StatusAccepted))
	st := conform(t, "GET /metrics/refresh/status", metricsRefreshStatusShape, want(t, g, "", http.MethodGet, "/metrics/refresh/status", nil, http.StatusOK))
	if st["status"] != "running" && st["status"] != "completed" {
		t.Errorf("status after a background refresh: %v", st)
	}
	cfg := decodeAny(t, want(t, g, "", http.MethodGet, "/config", nil, http.StatusOK)).(map[string]any)
	if md, _ := cfg["metrics"].(map[string]any); md == nil || len(md["dbs"].([]any)) != 1 {
		t.Errorf("GET /config metrics: %v", cfg["metrics"])
	}
}

// TestMetricsIsolation: the aggregates count every user's activity, so
// under user isolation (on by default with auth) only an admin reads or
// refreshes them; a user with metrics:read is refused (403).
func TestMetricsIsolation(t *testing.T) {
	t.Parallel()
	g := startGateway(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n"))
	admin := mint(t, "metrics-admin", "agent_os:admin")
	user := mint(t, "metrics-user", "metrics:read", "metrics:write")
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/metrics"}, {http.MethodPost, "/metrics/refresh"}, {http.MethodGet, "/metrics/refresh/status"},
	} {
		resp, b := call(t, g, user, c.method, c.path, nil)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "user isolation") {
			t.Errorf("%s %s as a user: %d %s, want 403", c.method, c.path, resp.StatusCode, b)
		}
	}
	want(t, g, admin, http.MethodGet, "/metrics", nil, http.StatusOK)
	want(t, g, admin, http.MethodGet, "/metrics/refresh/status", nil, http.StatusOK)
	want(t, g, "", http.MethodGet, "/metrics", nil, http.StatusUnauthorized)
}
