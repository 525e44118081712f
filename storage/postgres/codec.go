package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/sqlstore"
	"github.com/jackc/pgx/v5/pgconn"
)

// scanner is a pgx.Row or pgx.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// txt returns s as PostgreSQL can store it: NUL characters and invalid
// UTF-8 bytes become U+FFFD (see the package documentation).
func txt(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// txts applies txt to every element.
func txts(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = txt(s)
	}
	return out
}

// jsonColumn encodes v for a nullable JSONB column: a nil slice, map or
// pointer is NULL; anything else (including an empty slice or map) is its
// JSON text, so nil and empty survive a round trip distinctly (see
// sqlstore.EncodeJSON, which also replaces the \u0000 escapes JSONB
// refuses).
func jsonColumn(name string, v any) (any, error) { return sqlstore.EncodeJSON(dialect, name, v) }

// decodeJSON decodes a nullable JSONB column into dst; NULL leaves dst
// untouched (nil).
func decodeJSON(name string, col []byte, dst any) error {
	if col == nil {
		return nil
	}
	if err := json.Unmarshal(col, dst); err != nil {
		return fmt.Errorf("postgres: decode %s: %w", name, err)
	}
	return nil
}

// placeholders returns "$from, $from+1, ..." for n values.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(from + i))
	}
	return b.String()
}

// unavailableMessage is what users see of a connection failure.
const unavailableMessage = "the state database is unavailable"

// unavailable wraps err as a core.CodeUnavailable error.
func unavailable(err error) error {
	return &core.Error{Code: core.CodeUnavailable, Message: unavailableMessage, Err: err}
}

// dbErr classifies an error from pgx: a failure to reach the server becomes
// core.CodeUnavailable, a value the server cannot store core.CodeInvalid;
// anything else is returned as it is (an internal error).
func dbErr(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case isUnavailable(ctx, err):
		return unavailable(err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "54000", // program_limit_exceeded: e.g. an id too long for its index
			"22001", // string_data_right_truncation
			"22021", // character_not_in_repertoire
			"22P05": // untranslatable_character
			return &core.Error{Code: core.CodeInvalid, Message: "value cannot be stored: " + pe.Message, Err: err}
		}
	}
	return err
}

// isUnavailable reports whether err means the server could not be reached
// or dropped the connection (rather than refusing the statement). The
// caller's own cancellation is not a backend outage.
func isUnavailable(ctx context.Context, err error) bool {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection_exception
			pe.Code == "57P01", // admin_shutdown
			pe.Code == "57P02", // crash_shutdown
			pe.Code == "57P03", // cannot_connect_now
			pe.Code == "53300", // too_many_connections
			pe.Code == "25006" && strings.Contains(pe.Message, "read-only"): // a standby after failover
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "closed pool")
}
