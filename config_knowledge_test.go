package agentgate

import (
	"strings"
	"testing"
)

func TestKnowledgeConfigValidation(t *testing.T) {
	const head = "models:\n  m: {provider: scripted}\nagents:\n  - {id: a, model: m}\n"
	ok := head + `
embedders:
  local: {base_url: "http://127.0.0.1:11434/v1", model: nomic-embed-text, dimensions: 768}
knowledge:
  - {id: docs, embedder: local, chunker: markdown, chunk_size: 800, chunk_overlap: 80, max_upload_size: 8MiB, search_type: hybrid}
  - {id: notes}
`
	cfg, err := ParseConfig([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	if len(cfg.Knowledge) != 2 || cfg.Embedders["local"].Dimensions != 768 {
		t.Fatalf("decoded %+v", cfg.Knowledge)
	}
	bad := []struct{ yaml, want string }{
		{"embedders:\n  e: {model: m}\n", "embedders.e: dimensions is required"},
		{"embedders:\n  e: {dimensions: 3}\n", "embedders.e: model is required"},
		{"embedders:\n  e: {provider: cohere, model: m, dimensions: 3}\n", "provider must be openai"},
		{"embedders:\n  e: {model: m, dimensions: 3, batch_size: 9999}\n", "batch_size"},
		{"knowledge:\n  - {name: x}\n", "knowledge[0]: id is required"},
		{"knowledge:\n  - {id: k}\n  - {id: k}\n", "id is used twice"},
		{"knowledge:\n  - {id: k, embedder: nope}\n", `embedder "nope" is not declared`},
		{"knowledge:\n  - {id: k, chunker: semantic}\n", "chunker"},
		{"knowledge:\n  - {id: k, chunk_size: 10, chunk_overlap: 10}\n", "chunk_overlap below it"},
		{"knowledge:\n  - {id: k, max_upload_size: lots}\n", "max_upload_size"},
		{"knowledge:\n  - {id: k, search_type: vector}\n", "needs an embedder"},
		{"knowledge:\n  - {id: k, search_type: fuzzy}\n", "search_type must be"},
		{"knowledge:\n  - {id: k, sources: [{s3: {bucket: b}}]}\n", "knowledge[0] (k).sources[0]: id is required"},
		{"knowledge:\n  - {id: k, sources: [{id: a, s3: {bucket: b}}, {id: a, s3: {bucket: c}}]}\n", "sources[1] (a): id is used twice"},
		{"knowledge:\n  - {id: k, sources: [{id: a/b, s3: {bucket: b}}]}\n", "id must not contain"},
		{"knowledge:\n  - {id: k, sources: [{id: a}]}\n", "exactly one of s3 and github"},
		{"knowledge:\n  - {id: k, sources: [{id: a, s3: {bucket: b}, github: {repo: o/r}}]}\n", "exactly one of s3 and github"},
		{"knowledge:\n  - {id: k, sources: [{id: a, s3: {prefix: p}}]}\n", "s3.bucket is required"},
		{"knowledge:\n  - {id: k, sources: [{id: a, s3: {bucket: b, access_key_id: x}}]}\n", "go together"},
		{"knowledge:\n  - {id: k, sources: [{id: a, s3: {bucket: b, endpoint: \"ftp://x\"}}]}\n", "s3.endpoint must be"},
		{"knowledge:\n  - {id: k, sources: [{id: a, github: {repo: nope}}]}\n", "github.repo must be owner/name"},
		{"knowledge:\n  - {id: k, sources: [{id: a, github: {repo: o/r, api_url: \"x\"}}]}\n", "github.api_url must be"},
		{"knowledge:\n  - {id: k, sources: [{id: a, gitlab: {repo: o/r}}]}\n", "gitlab"},
	}
	for _, b := range bad {
		cfg, err := ParseConfig([]byte(head + b.yaml))
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%q: %v, want %q", b.yaml, err, b.want)
		}
	}
}

func TestKnowledgeEmbedderKeyIsASecret(t *testing.T) {
	cfg, err := ParseConfig([]byte("embedders:\n  e: {model: m, dimensions: 3, api_key: sk-embed-secret}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range cfg.secrets() {
		if s == "sk-embed-secret" {
			return
		}
	}
	t.Fatal("the embedder's api_key is not among the secrets the logger masks")
}

func TestKnowledgeSourcesConfig(t *testing.T) {
	const y = `knowledge:
  - id: docs
    sources:
      - id: bucket
        name: Docs bucket
        s3: {bucket: b, prefix: docs/, region: eu-west-1, endpoint: "http://127.0.0.1:9000", path_style: true, access_key_id: AKID, secret_access_key: s3-very-secret, session_token: s3-session-tok}
      - id: repo
        github: {repo: acme/handbook, branch: main, path: docs, token: ghp-very-secret, api_url: "http://127.0.0.1:8080"}
`
	cfg, err := ParseConfig([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid sources refused: %v", err)
	}
	srcs := cfg.Knowledge[0].Sources
	if len(srcs) != 2 || srcs[0].Type() != "s3" || srcs[1].Type() != "github" || !srcs[0].S3.PathStyle ||
		srcs[0].S3.Prefix != "docs/" || srcs[1].GitHub.Branch != "main" || srcs[1].GitHub.APIURL != "http://127.0.0.1:8080" {
		t.Fatalf("decoded %+v", srcs)
	}
	want := map[string]bool{"s3-very-secret": false, "s3-session-tok": false, "ghp-very-secret": false}
	for _, s := range cfg.secrets() {
		if _, ok := want[s]; ok {
			want[s] = true
		}
	}
	for s, found := range want {
		if !found {
			t.Errorf("%s is not among the secrets the logger masks", s)
		}
	}
}
