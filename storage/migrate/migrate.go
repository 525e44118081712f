// Package migrate moves a state database to a target schema version with
// goose's Provider API (no goose global state). Every SQL backend embeds its
// own versioned migrations and drives them through a Migrator, so
// `agentgate migrate --to VERSION` and `POST /databases/{id}/migrate` behave
// the same on SQLite and Postgres.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/agentgate/agentgate/core"
	"github.com/pressly/goose/v3"
)

// Latest is the target version that means "every embedded migration".
const Latest int64 = -1

// Table is the table in which applied versions are recorded.
const Table = "agentgate_db_version"

// Migrator applies one backend's embedded migrations to one database.
// It is safe for concurrent use; operations are serialised.
type Migrator struct {
	p        *goose.Provider
	versions []int64
}

// New returns a Migrator for db. fsys holds the migration files at its root
// (use fs.Sub on an embed.FS), named NNNNN_name.sql with goose Up and Down
// sections.
func New(dialect goose.Dialect, db *sql.DB, fsys fs.FS) (*Migrator, error) {
	p, err := goose.NewProvider(dialect, db, fsys,
		goose.WithTableName(Table),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	m := &Migrator{p: p}
	for _, s := range p.ListSources() {
		m.versions = append(m.versions, s.Version)
	}
	return m, nil
}

// Versions returns the embedded migration versions, ascending.
func (m *Migrator) Versions() []int64 { return slices.Clone(m.versions) }

// LatestVersion returns the highest embedded version.
func (m *Migrator) LatestVersion() int64 { return m.versions[len(m.versions)-1] }

// Version returns the version the database is at (0: no migration applied).
// It creates the version table if it does not exist yet.
func (m *Migrator) Version(ctx context.Context) (int64, error) {
	v, err := m.p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: read version: %w", err)
	}
	return v, nil
}

// To moves the database up or down to target: Latest (-1) applies every
// migration, 0 rolls every migration back, any other value must be one of
// Versions. An unknown target is an error wrapping core.ErrInvalid.
func (m *Migrator) To(ctx context.Context, target int64) error {
	switch {
	case target == Latest:
		target = m.LatestVersion()
	case target == 0:
	case target < 0 || !slices.Contains(m.versions, target):
		return fmt.Errorf("migrate: unknown target version %d (known: 0, %v, or %d for latest): %w",
			target, m.versions, Latest, core.ErrInvalid)
	}
	cur, err := m.Version(ctx)
	if err != nil {
		return err
	}
	switch {
	case cur < target:
		if _, err := m.p.UpTo(ctx, target); err != nil && !errors.Is(err, goose.ErrNoNextVersion) {
			return fmt.Errorf("migrate: up from %d to %d: %w", cur, target, err)
		}
	case cur > target:
		if _, err := m.p.DownTo(ctx, target); err != nil && !errors.Is(err, goose.ErrNoNextVersion) {
			return fmt.Errorf("migrate: down from %d to %d: %w", cur, target, err)
		}
	}
	return nil
}
