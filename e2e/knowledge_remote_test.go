package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Knowledge remote content through the binary: an S3 bucket (gofakes3 on
// loopback, reached by the binary through the AWS SDK) and a GitHub
// repository (a loopback fake of its REST API that checks the token):
// sources and files listed, a file and a folder added and ingested on the
// durable queue, found by keyword, identical bytes not added twice, a
// missing file failed with the reason, an unknown source 404.

func remoteS3(t *testing.T, objects map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AK", "SK", "")})
	ctx := testCtx(t, 30*time.Second)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("kbase")}); err != nil {
		t.Fatal(err)
	}
	for k, v := range objects {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("kbase"), Key: aws.String(k), Body: strings.NewReader(v)}); err != nil {
			t.Fatal(err)
		}
	}
	return srv.URL
}

func remoteGitHub(t *testing.T, token string, files map[string]string) (string, *atomic.Int32) {
	t.Helper()
	var refused atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/acme/handbook", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"default_branch": "main"})
	})
	mux.HandleFunc("GET /repos/acme/handbook/git/trees/{ref}", func(w http.ResponseWriter, r *http.Request) {
		var tree []map[string]any
		dirs := map[string]bool{}
		for p, c := range files {
			tree = append(tree, map[string]any{"path": p, "type": "blob", "size": len(c)})
			if i := strings.LastIndex(p, "/"); i > 0 && !dirs[p[:i]] {
				dirs[p[:i]] = true
				tree = append(tree, map[string]any{"path": p[:i], "type": "tree"})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"tree": tree, "truncated": false})
	})
	mux.HandleFunc("GET /repos/acme/handbook/contents/{path...}", func(w http.ResponseWriter, r *http.Request) {
		c, ok := files[r.PathValue("path")]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"Not Found"}`)
			return
		}
		io.WriteString(w, c)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			refused.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"message":"Bad credentials"}`)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &refused
}

func remoteConfig(s3URL, ghURL string) string {
	return `
models:
  plain: {provider: scripted, model: plain-1, script: [{reply: ok}]}
agents:
  - {id: helper, model: plain}
knowledge:
  - id: docs
    sources:
      - id: bucket
        name: Docs bucket
        s3: {bucket: kbase, prefix: docs/, endpoint: "` + s3URL + `", path_style: true, access_key_id: AK, secret_access_key: SK}
      - id: handbook
        github: {repo: acme/handbook, token: ghp-remote-secret, api_url: "` + ghURL + `"}
`
}

func TestKnowledgeRemote(t *testing.T) {
	t.Parallel()
	s3URL := remoteS3(t, map[string]string{
		"docs/otters.md":          "# Otters\n\nSea otters hold hands while they sleep so they do not drift apart.\n",
		"docs/guides/glaciers.md": "# Glaciers\n\nGlaciers carve fjords as they grind toward the sea.\n",
		"docs/guides/volcano.txt": "Basalt columns form when lava cools slowly and cracks into hexagons.\n",
		"other/hidden.txt":        "outside the root",
	})
	ghURL, refused := remoteGitHub(t, "ghp-remote-secret", map[string]string{
		"README.md":         "# Handbook\n\nThe onboarding checklist mentions the quokka mascot.\n",
		"policies/leave.md": "# Leave\n\nSabbaticals are granted after five years of service.\n",
	})
	cfg := remoteConfig(s3URL, ghURL)
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		checkKnowledgeRemote(t, startGateway(t, cfg))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		b := newBackends(t, "")
		checkKnowledgeRemote(t, startReplica(t, "pg", cfg, "AGENTGATE_DATABASE_URL="+b.DatabaseURL).gateway)
	})
	if refused.Load() != 0 {
		t.Errorf("the fake GitHub refused %d calls without the token", refused.Load())
	}
}

// agno os/routers/knowledge/schemas.py RemoteContentSourceSchema.
var remoteSourceShape = &shape{Name: "RemoteContentSourceSchema", Source: "os/routers/knowledge/schemas.py", Fields: []field{
	req("id", "string"), req("name", "string"), req("type", "string"), opt("metadata", "object|null"), opt("prefix", "string|null"),
}}

// SourceFileSchema, SourceFolderSchema and SourceFilesResponseSchema.
var sourceFileShape = &shape{Name: "SourceFileSchema", Source: "os/routers/knowledge/schemas.py", Fields: []field{
	req("key", "string"), req("name", "string"), opt("size", "integer|null"), opt("last_modified", datetime+"|null"),
	opt("content_type", "string|null"),
}}

var sourceFolderShape = &shape{Name: "SourceFolderSchema", Source: "os/routers/knowledge/schemas.py", Fields: []field{
	req("prefix", "string"), req("name", "string"), opt("is_empty", "boolean"),
}}

var sourceFilesShape = &shape{Name: "SourceFilesResponseSchema", Source: "os/routers/knowledge/schemas.py", Fields: []field{
	req("source_id", "string"), req("source_name", "string"), opt("prefix", "string|null"),
	opt("folders", "array").of(sourceFolderShape), opt("files", "array").of(sourceFileShape),
	req("meta", "object").of(paginationShape),
}}

// ConfigResponseSchema of /knowledge/config.
var knowledgeConfigShape = &shape{Name: "ConfigResponseSchema", Source: "os/routers/knowledge/schemas.py", Fields: []field{
	opt("readers", "object|null"), opt("readersForType", "object|null"), opt("chunkers", "object|null"),
	opt("filters", "array|null").items("string"), opt("vector_dbs", "array|null"),
	opt("remote_content_sources", "array|null").of(remoteSourceShape),
}}

func checkKnowledgeRemote(t *testing.T, g *gateway) {
	ctx := testCtx(t, 120*time.Second)
	b := expectStatus(t, g.get(t, ctx, "/knowledge/docs/sources"), http.StatusOK)
	conformList(t, "GET /knowledge/{id}/sources", remoteSourceShape, b)
	var srcs []map[string]any
	decode(t, b, &srcs)
	if len(srcs) != 2 || srcs[0]["id"] != "bucket" || srcs[0]["type"] != "s3" || !strings.HasPrefix(fmt.Sprint(srcs[0]["prefix"]), "docs") || srcs[1]["type"] != "github" || strings.Contains(string(b), "ghp-") || strings.Contains(string(b), "SK") {
		t.Fatalf("sources: %s", b)
	}
	kc := expectStatus(t, g.get(t, ctx, "/knowledge/config?knowledge_id=docs"), http.StatusOK)
	conform(t, "GET /knowledge/config", knowledgeConfigShape, kc)
	if !strings.Contains(string(kc), `"remote_content_sources":[{"id":"bucket"`) {
		t.Errorf("/knowledge/config: %s", kc)
	}
	expectStatus(t, g.get(t, ctx, "/knowledge/nope/sources"), http.StatusNotFound)
	expectStatus(t, g.get(t, ctx, "/knowledge/docs/sources/nope/files"), http.StatusNotFound)
	expectStatus(t, g.get(t, ctx, "/knowledge/docs/sources/bucket/files?limit=0"), http.StatusUnprocessableEntity)

	var files struct {
		Folders []map[string]any `json:"folders"`
		Files   []map[string]any `json:"files"`
		Meta    map[string]any   `json:"meta"`
	}
	b = expectStatus(t, g.get(t, ctx, "/knowledge/docs/sources/bucket/files"), http.StatusOK)
	conform(t, "GET /knowledge/{id}/sources/{source_id}/files", sourceFilesShape, b)
	decode(t, b, &files)
	if len(files.Folders) != 1 || files.Folders[0]["is_empty"] != false || files.Files[0]["size"] == nil || files.Folders[0]["prefix"] != "docs/guides/" || len(files.Files) != 1 || files.Files[0]["key"] != "docs/otters.md" {
		t.Fatalf("bucket files: %+v", files)
	}
	decode(t, expectStatus(t, g.get(t, ctx, "/knowledge/docs/sources/handbook/files?prefix=policies/"), http.StatusOK), &files)
	if len(files.Files) != 1 || files.Files[0]["key"] != "policies/leave.md" {
		t.Fatalf("handbook files: %+v", files)
	}

	add := func(fields map[string]string, status int) map[string]any {
		t.Helper()
		b := expectStatus(t, g.uploadFile(t, ctx, "/knowledge/remote-content?knowledge_id=docs", fields, "", "", nil), status)
		if status == http.StatusAccepted {
			conform(t, "POST /knowledge/remote-content", contentShape, b)
		}
		var out map[string]any
		decode(t, b, &out)
		return out
	}
	ids := func(r map[string]any) []string {
		var out []string
		for _, id := range r["content_ids"].([]any) {
			out = append(out, id.(string))
		}
		return out
	}
	one := add(map[string]string{"config_id": "bucket", "path": "docs/otters.md"}, http.StatusAccepted)
	folder := add(map[string]string{"config_id": "bucket", "path": "docs/guides/"}, http.StatusAccepted)
	gh := add(map[string]string{"config_id": "handbook", "path": "README.md"}, http.StatusAccepted)
	ghFolder := add(map[string]string{"config_id": "handbook", "path": "policies"}, http.StatusAccepted)
	if one["status"] != "processing" || one["name"] != "docs/otters.md" || len(ids(folder)) != 2 || len(ids(ghFolder)) != 1 {
		t.Fatalf("added %v %v %v", one, folder, ghFolder)
	}
	for _, r := range []map[string]any{one, folder, gh, ghFolder} {
		for _, id := range ids(r) {
			g.waitContent(t, ctx, id, "completed")
		}
	}
	for q, want := range map[string]string{"otters sleep": ids(one)[0], "quokka mascot": ids(gh)[0], "sabbaticals granted": ids(ghFolder)[0]} {
		hits, b := g.kbSearch(t, ctx, map[string]any{"query": q, "knowledge_id": "docs", "search_type": "keyword"}, http.StatusOK)
		if len(hits) == 0 || hits[0].ContentID != want {
			t.Errorf("search %q: %s", q, b)
		}
	}
	again := add(map[string]string{"config_id": "bucket", "path": "docs/otters.md"}, http.StatusAccepted)
	if ids(again)[0] != ids(one)[0] {
		t.Errorf("identical bytes added twice: %v then %v", one, again)
	}
	missing := add(map[string]string{"config_id": "handbook", "path": "missing.md"}, http.StatusAccepted)
	st := g.waitContent(t, ctx, ids(missing)[0], "failed")
	if !strings.Contains(st["status_message"].(string), "missing.md") {
		t.Errorf("missing file: %v", st)
	}
	add(map[string]string{"config_id": "nope", "path": "x.md"}, http.StatusBadRequest) // as AgentOS
	add(map[string]string{"config_id": "bucket"}, http.StatusBadRequest)
	add(map[string]string{"path": "x.md"}, http.StatusBadRequest)
	add(map[string]string{"config_id": "bucket", "path": "docs/../other/hidden.txt"}, http.StatusBadRequest)
}

var _ = context.Background
