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
