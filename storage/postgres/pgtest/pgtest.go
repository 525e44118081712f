// Package pgtest gives tests a throwaway PostgreSQL schema.
//
// The server is the one named by the environment variable
// TEST_DATABASE_URL (default DefaultURL: a local server with trust
// authentication). Tests that use it never skip: when the server cannot be
// reached the test fails, so a CI run without Postgres fails loudly.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable holding the test server's URL.
const EnvURL = "TEST_DATABASE_URL"

// DefaultURL is the test server used when EnvURL is not set.
const DefaultURL = "postgres://root@127.0.0.1:5432/test?sslmode=disable"

// BaseURL returns the test server's URL: $TEST_DATABASE_URL or DefaultURL.
func BaseURL() string {
	if u := strings.TrimSpace(os.Getenv(EnvURL)); u != "" {
		return u
	}
	return DefaultURL
}

// URL creates a fresh, empty schema on the test server and returns
// BaseURL with search_path set to it, so whatever connects with the URL
// creates and finds its tables there. The schema (and everything in it) is
// dropped when the test ends; close connections with t.Cleanup registered
// after calling URL, so they close first. URL fails the test (never skips)
// if the server cannot be reached.
func URL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	u, drop, err := NewSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Error(err)
		}
	})
	return u
}

// NewSchema is URL without a test: it creates a fresh schema and returns
// the URL that uses it and the function that drops it. The error says
// clearly when the server cannot be reached.
func NewSchema(ctx context.Context) (connURL string, drop func() error, err error) {
	base := BaseURL()
	schema := NewSchemaName()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("pgtest: cannot reach the test PostgreSQL server (set %s; default %s): %w",
			EnvURL, DefaultURL, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("pgtest: create schema %s: %w", schema, err)
	}
	u, err := withParam(base, "search_path", schema)
	if err != nil {
		return "", nil, err
	}
	return u, func() error { return dropSchema(schema) }, nil
}

// NewSchemaName returns a random schema name, unique for practical
// purposes ("agentgate_test_" and 16 hex digits).
func NewSchemaName() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "agentgate_test_" + hex.EncodeToString(b)
}

// Drop drops schema from the test server, with everything in it, if it
// exists. It is what URL's cleanup does; use it after a test that opened
// a store with the schema= parameter.
func Drop(t testing.TB, schema string) {
	t.Helper()
	if err := dropSchema(schema); err != nil {
		t.Error(err)
	}
}

func dropSchema(schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, BaseURL())
	if err != nil {
		return fmt.Errorf("pgtest: drop schema %s: %w", schema, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
		return fmt.Errorf("pgtest: drop schema %s: %w", schema, err)
	}
	return nil
}

// WithParam returns the connection string base with parameter key set to
// value: a query parameter of a URL (percent-encoded), or a key=value pair
// of a keyword/value string.
func WithParam(t testing.TB, base, key, value string) string {
	t.Helper()
	u, err := withParam(base, key, value)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func withParam(base, key, value string) (string, error) {
	if !strings.Contains(base, "://") {
		return base + " " + key + "='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(value) + "'", nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("pgtest: parse %s: %w", EnvURL, err)
	}
	q := u.Query()
	q.Set(key, value)
	// pgx (like libpq) reads '+' literally: spaces must be %20. Encode
	// writes a literal '+' as %2B, so every '+' it writes is a space.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String(), nil
}
