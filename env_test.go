package agentgate

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestUnknownEnvIsWarned: a misspelt AGENTGATE_* variable is reported with
// the name it was probably meant to be, and New logs it as a warning; the
// variables something reads are not.
func TestUnknownEnvIsWarned(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AGENTGATE_DATABSE_URL", "sqlite://elsewhere.db")
	t.Setenv("AGENTGATE_DATABASE_URL", "sqlite://"+filepath.Join(dir, "s.db"))
	t.Setenv("AGENTGATE_HTTP_HEARTBEAT", "5s")
	t.Setenv("AGENTGATE_TOKEN", "x")
	t.Setenv("AGENTGATE_SLACK_APPS_OPS_BOT_TOKEN", "xoxb-1")
	t.Setenv("AGENTGATE_MY_SECRET", "referenced by the file")
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("description: ${AGENTGATE_MY_SECRET}\nmodels: {m: {provider: scripted}}\nagents: [{id: a, model: m}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.UnsetEnvRefs(); len(got) != 0 {
		t.Errorf("unset references = %v, want none", got)
	}
	got := cfg.EnvWarnings()
	if len(got) != 1 || got[0].Name != "AGENTGATE_DATABSE_URL" || got[0].Closest != "AGENTGATE_DATABASE_URL" {
		t.Fatalf("warnings = %+v, want exactly AGENTGATE_DATABSE_URL (closest AGENTGATE_DATABASE_URL)", got)
	}

	var logs bytes.Buffer
	g, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	line := ""
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, "AGENTGATE_DATABSE_URL") {
			line = l
		}
	}
	if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "did_you_mean=AGENTGATE_DATABASE_URL") {
		t.Fatalf("New should log a warning naming the variable and the closest name; logs:\n%s", logs.String())
	}
}

func TestEnvNames(t *testing.T) {
	t.Parallel()
	names := EnvNames()
	for _, want := range []string{"AGENTGATE_DATABASE_URL", "AGENTGATE_HTTP_BODY_LIMIT", "AGENTGATE_AUTH_RATE_LIMIT_RPS", "AGENTGATE_AUTH_CORS_ORIGINS"} {
		if !slices.Contains(names, want) {
			t.Errorf("EnvNames lacks %s", want)
		}
	}
	if d := editDistance("AGENTGATE_DATABSE_URL", "AGENTGATE_DATABASE_URL"); d != 1 {
		t.Errorf("edit distance = %d, want 1", d)
	}
}

// TestDefaultDatabaseURL: the default SQLite file is in the user's data
// directory, whatever the working directory.
func TestDefaultDatabaseURL(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", "")
	if got, want := DefaultDatabaseURL(), "sqlite://"+filepath.Join(home, ".local/share/agentgate/agentgate.db"); got != want {
		t.Errorf("default = %s, want %s", got, want)
	}
	t.Setenv("XDG_DATA_HOME", "/srv/data")
	if got := DefaultDatabaseURL(); got != "sqlite:///srv/data/agentgate/agentgate.db" {
		t.Errorf("with XDG_DATA_HOME: %s", got)
	}
	t.Setenv("XDG_DATA_HOME", "relative/dir") // ignored, as the XDG spec says
	if got := DefaultDatabaseURL(); !strings.HasPrefix(got, "sqlite://"+home) {
		t.Errorf("a relative XDG_DATA_HOME should be ignored: %s", got)
	}
	cfg, err := LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if f := sqliteFile(cfg.DatabaseURL); !filepath.IsAbs(f) {
		t.Errorf("the embedded config's database %q is not an absolute file", cfg.DatabaseURL)
	}
}

// TestUnsetEnvRefs: a ${NAME} of the config file whose variable is unset
// is reported, once, with its name (New logs it), so the empty setting it
// leaves can be traced to it.
func TestUnsetEnvRefs(t *testing.T) {
	t.Setenv("AG_TEST_SET", "x")
	path := filepath.Join(t.TempDir(), "c.yaml")
	yaml := "name: ${AG_TEST_SET}\ndescription: ${AG_TEST_UNSET_1} ${AG_TEST_UNSET_1}\nmodels: {m: {provider: scripted}}\nagents: [{id: a, model: m}]\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.UnsetEnvRefs(); !slices.Equal(got, []string{"AG_TEST_UNSET_1"}) {
		t.Fatalf("unset references = %v, want [AG_TEST_UNSET_1]", got)
	}
	cfg.DatabaseURL = "sqlite://" + filepath.Join(t.TempDir(), "s.db")
	var logs bytes.Buffer
	g, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	if !regexp.MustCompile(`level=WARN .*not set.* name=AG_TEST_UNSET_1`).MatchString(logs.String()) {
		t.Errorf("New should warn about AG_TEST_UNSET_1:\n%s", logs.String())
	}
}
