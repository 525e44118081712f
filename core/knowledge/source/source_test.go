package source

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
)

func keys(files []knowledge.RemoteFile) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Key
	}
	return out
}

func readOpen(t *testing.T, src knowledge.Source, key string) (string, knowledge.RemoteFile) {
	t.Helper()
	rc, f, err := src.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), f
}

// fakeS3 serves gofakes3 on loopback with a bucket holding objects.
func fakeS3(t *testing.T, bucket string, objects map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	src, err := NewS3(t.Context(), S3Config{Bucket: bucket, Endpoint: srv.URL, PathStyle: true, AccessKeyID: "AK", SecretAccessKey: "SK"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	for k, v := range objects {
		if _, err := src.client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k),
			Body: strings.NewReader(v)}); err != nil {
			t.Fatalf("PutObject(%s): %v", k, err)
		}
	}
	return srv.URL
}

func TestS3(t *testing.T) {
	objects := map[string]string{
		"docs/a.md": "# A", "docs/b.txt": "bee", "docs/c.pdf": "%PDF-", "docs/guides/one.md": "one", "docs/guides/two.md": "two",
		"other/x.txt": "outside the root",
	}
	url := fakeS3(t, "kbase", objects)
	src, err := NewS3(t.Context(), S3Config{Bucket: "kbase", Prefix: "docs/", Endpoint: url, PathStyle: true, AccessKeyID: "AK", SecretAccessKey: "SK"})
	if err != nil {
		t.Fatal(err)
	}
	if src.ID() != "s3-kbase" || src.Type() != "s3" || src.Prefix() != "docs/" || src.Name() != "kbase" {
		t.Fatalf("source = %s %s %s %s", src.ID(), src.Type(), src.Prefix(), src.Name())
	}
	folders, files, total, err := src.List(t.Context(), "", "/", 2, 1)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if !slices.Equal(folders, []string{"docs/guides/"}) || total != 3 || !slices.Equal(keys(files), []string{"docs/a.md", "docs/b.txt"}) {
		t.Fatalf("List(/, 2, 1) = %v %v %d", folders, keys(files), total)
	}
	if files[1].Size != 3 || files[1].Name != "b.txt" || files[1].LastModified == "" || files[0].ContentType != "text/markdown" {
		t.Errorf("file = %+v", files[1])
	}
	_, files, _, _ = src.List(t.Context(), "", "/", 2, 2)
	if !slices.Equal(keys(files), []string{"docs/c.pdf"}) {
		t.Errorf("page 2 = %v", keys(files))
	}
	_, files, total, _ = src.List(t.Context(), "guides/", "/", 0, 0)
	if total != 2 || !slices.Equal(keys(files), []string{"docs/guides/one.md", "docs/guides/two.md"}) {
		t.Errorf("List(guides/) = %v (%d)", keys(files), total)
	}
	folders, _, total, _ = src.List(t.Context(), "", "", 100, 1)
	if total != 5 || len(folders) != 0 {
		t.Errorf("List with no delimiter = %d files, folders %v; want every file below the root", total, folders)
	}

	body, f := readOpen(t, src, "docs/guides/one.md")
	if body != "one" || f.Size != 3 || f.Name != "one.md" || f.ContentType == "" {
		t.Errorf("Open = %q %+v", body, f)
	}
	for _, k := range []string{"docs/missing.md", "other/x.txt", "docs/../other/x.txt", ""} {
		if _, _, err := src.Open(t.Context(), k); core.CodeOf(err) != core.CodeNotFound {
			t.Errorf("Open(%q) = %v, want not found", k, err)
		}
	}
	missing, _ := NewS3(t.Context(), S3Config{Bucket: "nope", Endpoint: url, PathStyle: true, AccessKeyID: "AK", SecretAccessKey: "SK"})
	if _, _, _, err := missing.List(t.Context(), "", "/", 10, 1); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("List of a missing bucket = %v, want not found", err)
	}
	down, _ := NewS3(t.Context(), S3Config{Bucket: "kbase", Endpoint: "http://127.0.0.1:1", PathStyle: true, AccessKeyID: "AK", SecretAccessKey: "SK"})
	ctx, cancel := context.WithTimeout(t.Context(), 5e9)
	defer cancel()
	if _, _, _, err := down.List(ctx, "", "/", 10, 1); err == nil || core.CodeOf(err) == core.CodeNotFound {
		t.Errorf("List of an unreachable endpoint = %v", err)
	}
	if _, err := NewS3(t.Context(), S3Config{}); core.CodeOf(err) != core.CodeInvalid {
		t.Errorf("NewS3 without a bucket: %v", err)
	}
	if _, err := NewS3(t.Context(), S3Config{Bucket: "b", AccessKeyID: "only"}); core.CodeOf(err) != core.CodeInvalid {
		t.Errorf("NewS3 with half the credentials: %v", err)
	}
}

// fakeGitHub is a loopback fake of the GitHub REST API's repository,
// trees and contents endpoints, refusing calls without the token.
func fakeGitHub(t *testing.T, token string, files map[string]string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/acme/kb", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"default_branch": "main"})
	})
	mux.HandleFunc("GET /repos/acme/kb/git/trees/{ref}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("ref") != "main" || r.URL.Query().Get("recursive") != "1" {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
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
	mux.HandleFunc("GET /repos/acme/kb/contents/{path...}", func(w http.ResponseWriter, r *http.Request) {
		c, ok := files[r.PathValue("path")]
		if !ok || r.URL.Query().Get("ref") != "main" || r.Header.Get("Accept") != "application/vnd.github.raw+json" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"Not Found"}`)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.github.raw+json")
		io.WriteString(w, c)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer "+token || r.Header.Get("X-GitHub-Api-Version") == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"message":"Bad credentials"}`)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestGitHub(t *testing.T) {
	files := map[string]string{"README.md": "top", "docs/a.md": "# A", "docs/b.txt": "bee", "docs/guides/one.md": "one",
		"docs/guides/two words.md": "two"}
	srv, calls := fakeGitHub(t, "tok", files)
	src, err := NewGitHub(GitHubConfig{Repo: "acme/kb", Path: "/docs/", Token: "tok", BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if src.ID() != "github-acme-kb" || src.Type() != "github" || src.Prefix() != "docs/" || src.Name() != "acme/kb" {
		t.Fatalf("source = %s %s %s %s", src.ID(), src.Type(), src.Prefix(), src.Name())
	}
	folders, got, total, err := src.List(t.Context(), "", "/", 1, 2)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if !slices.Equal(folders, []string{"docs/guides/"}) || total != 2 || !slices.Equal(keys(got), []string{"docs/b.txt"}) || got[0].Size != 3 {
		t.Fatalf("List(/, 1, 2) = %v %v %d", folders, got, total)
	}
	_, got, total, _ = src.List(t.Context(), "guides/", "/", 10, 1)
	if total != 2 || !slices.Equal(keys(got), []string{"docs/guides/one.md", "docs/guides/two words.md"}) {
		t.Errorf("List(guides/) = %v", keys(got))
	}
	_, got, total, _ = src.List(t.Context(), "", "", 10, 1)
	if total != 4 {
		t.Errorf("List without a delimiter = %v, want the 4 files under docs/", keys(got))
	}
	body, f := readOpen(t, src, "docs/guides/two words.md")
	if body != "two" || f.Name != "two words.md" || f.ContentType != "text/markdown" {
		t.Errorf("Open = %q %+v", body, f)
	}
	for _, k := range []string{"docs/missing.md", "README.md", "docs/../README.md"} {
		if _, _, err := src.Open(t.Context(), k); core.CodeOf(err) != core.CodeNotFound {
			t.Errorf("Open(%q) = %v, want not found", k, err)
		}
	}
	if calls.Load() == 0 {
		t.Fatal("no call reached the fake")
	}

	// A pinned branch skips the repository call; a bad one is not found.
	pinned, _ := NewGitHub(GitHubConfig{Repo: "acme/kb", Branch: "dev", Token: "tok", BaseURL: srv.URL})
	if _, _, _, err := pinned.List(t.Context(), "", "/", 10, 1); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("List of a missing branch = %v, want not found", err)
	}
	// A wrong token: forbidden, with GitHub's message.
	bad, _ := NewGitHub(GitHubConfig{Repo: "acme/kb", Token: "wrong", BaseURL: srv.URL})
	_, _, _, err = bad.List(t.Context(), "", "/", 10, 1)
	if core.CodeOf(err) != core.CodeForbidden || !strings.Contains(err.Error(), "Bad credentials") {
		t.Errorf("List with a wrong token = %v, want forbidden naming GitHub's message", err)
	}
	for _, c := range []GitHubConfig{{Repo: "acme"}, {Repo: "a/b/c"}, {Repo: "a/b", BaseURL: "ftp://x"}, {Repo: "a/b", Path: "x/../y"}} {
		if _, err := NewGitHub(c); core.CodeOf(err) != core.CodeInvalid {
			t.Errorf("NewGitHub(%+v) = %v, want invalid", c, err)
		}
	}
}
