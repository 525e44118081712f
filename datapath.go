package agentgate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentgate/agentgate/storage"
)

// DefaultDatabaseURL is the state store when database_url is not set: a
// SQLite file in the user's data directory, $XDG_DATA_HOME/agentgate/
// agentgate.db (~/.local/share/agentgate/agentgate.db without it). It does
// not depend on the working directory, so `agentgate serve` and an
// `agentgate mcp --stdio` launched by an IDE from elsewhere share it.
// Without a home directory it is ./agentgate.db.
func DefaultDatabaseURL() string {
	dir := os.Getenv("XDG_DATA_HOME")
	if !filepath.IsAbs(dir) { // unset, or relative: ignored, as the spec says
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			return "sqlite://agentgate.db"
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return "sqlite://" + filepath.Join(dir, "agentgate", "agentgate.db")
}

// sqliteDir creates the directory of a SQLite database file (the default
// one's may not exist yet) and returns the file's absolute path; "" when
// url is not a SQLite file.
func sqliteDir(url string) (string, error) {
	f := sqliteFile(url)
	if f == "" {
		return "", nil
	}
	abs, err := filepath.Abs(f)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return "", fmt.Errorf("cannot create the directory of the state store %s: %w", abs, err)
	}
	return abs, nil
}

// sqliteFile returns the file of a SQLite database URL, "" for anything
// else (Postgres, an in-memory database, a file: URI).
func sqliteFile(url string) string {
	if storage.Kind(url) != storage.SQLite {
		return ""
	}
	p := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
	p, _, _ = strings.Cut(p, "?")
	if p == "" || p == ":memory:" || strings.HasPrefix(p, "file:") {
		return ""
	}
	return p
}
