package agentgate

import (
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
)

func TestMemoryConfigValidate(t *testing.T) {
	t.Parallel()
	models := map[string]ModelConfig{"summarizer": {Provider: "scripted"}}
	for model, want := range map[string]string{
		"":                  "",
		"summarizer":        "",
		"openai:gpt-4o":     "",
		"scripted:x":        "",
		"other":             "neither declared",
		"openai:":           "neither declared",
		":gpt-4o":           "neither declared",
		"google:gemini-2.0": "provider must be",
	} {
		err := MemoryConfig{Model: model}.Validate(models)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("memory.model %q: %v, want %q", model, err, want)
		}
	}
	// Through the config file, the same check.
	bad, err := ParseConfig([]byte("memory: {model: nope}"))
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "memory.model") {
		t.Errorf("memory.model nope: %v", err)
	}
	cfg, err := ParseConfig([]byte("models: {s: {provider: scripted}}\nmemory: {model: s, enabled: false}"))
	if err != nil || cfg.Memory.Model != "s" || cfg.Memory.On() {
		t.Errorf("memory block: %+v, %v", cfg.Memory, err)
	}
}

func TestMemoryModels(t *testing.T) {
	t.Parallel()
	g := &Gateway{cfg: &Config{Models: map[string]ModelConfig{"s": {Provider: "scripted", Model: "summarizer-1"}}}}
	resolve := g.memoryModels()
	ctx := t.Context()
	m, err := resolve(ctx, "s")
	if err != nil || m.Provider() != "scripted" || m.ID() != "summarizer-1" {
		t.Fatalf("declared model: %v, %v", m, err)
	}
	if again, _ := resolve(ctx, "s"); again != m {
		t.Errorf("a declared model is built once")
	}
	if m, err := resolve(ctx, "scripted:adhoc"); err != nil || m.ID() != "adhoc" {
		t.Fatalf("provider:model_id: %v, %v", m, err)
	}
	for _, name := range []string{"nope", "google:gemini", "openai:"} {
		if _, err := resolve(ctx, name); core.CodeOf(err) != core.CodeInvalid {
			t.Errorf("resolve %q: %v, want invalid", name, err)
		}
	}
}
