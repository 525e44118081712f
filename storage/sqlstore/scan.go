package sqlstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// Columns is a table's column list, in the order a group scans and binds
// them: declare it once per table and use it in every statement.
type Columns []string

// String is the list as SQL: "a, b, c".
func (c Columns) String() string { return strings.Join(c, ", ") }

// Placeholders is one ? per column.
func (c Columns) Placeholders() string { return Placeholders(len(c)) }

// Fields collects the destinations of one row's scan, in column order, and
// the decoding that follows it (JSON, lists): the typed scan helper of a
// group's store.
//
//	var f sqlstore.Fields
//	f.Add(&s.ID, &s.Name)
//	f.JSON(d, "state", &s.State)
//	if err := f.Scan(row); err != nil { ... }
type Fields struct {
	dest  []any
	after []func() error
}

// Add appends plain destinations (strings, integers, bools: both drivers
// scan them alike).
func (f *Fields) Add(dest ...any) { f.dest = append(f.dest, dest...) }

// JSON appends a nullable JSON column decoded into dst (a pointer): NULL
// leaves dst as it is (nil for a nil map or slice), anything else is
// decoded, so nil and empty come back distinctly (see EncodeJSON).
func (f *Fields) JSON(d Dialect, name string, dst any) {
	var col []byte
	f.dest = append(f.dest, &col)
	f.after = append(f.after, func() error {
		if col == nil {
			return nil
		}
		if err := json.Unmarshal(col, dst); err != nil {
			return fmt.Errorf("%s: decode %s: %w", d.Name, name, err)
		}
		return nil
	})
}

// Strings appends a NOT NULL list-of-strings column (JSON text on SQLite,
// text[] on PostgreSQL); it always comes back non-nil (empty for none).
func (f *Fields) Strings(d Dialect, name string, dst *[]string) {
	if d.Engine == Postgres {
		f.dest = append(f.dest, dst)
	} else {
		var col string
		f.dest = append(f.dest, &col)
		f.after = append(f.after, func() error {
			if err := json.Unmarshal([]byte(col), dst); err != nil {
				return fmt.Errorf("%s: decode %s: %w", d.Name, name, err)
			}
			return nil
		})
	}
	f.after = append(f.after, func() error {
		if *dst == nil { // none stored, or a JSON "null"
			*dst = []string{}
		}
		return nil
	})
}

// Scan scans row into the destinations, then decodes. Its error wraps
// sql.ErrNoRows when there is no row.
func (f *Fields) Scan(row Row, extra ...any) error {
	dest := f.dest
	if len(extra) > 0 {
		dest = append(dest[:len(dest):len(dest)], extra...)
	}
	if err := row.Scan(dest...); err != nil {
		return err
	}
	for _, a := range f.after {
		if err := a(); err != nil {
			return err
		}
	}
	return nil
}

// EncodeJSON encodes v for a nullable JSON column (TEXT on SQLite, JSONB on
// PostgreSQL): a nil slice, map or pointer is NULL; anything else, an
// empty slice or map included, is its JSON text (an untyped nil is the
// JSON null), so nil and empty survive a round trip distinctly. On
// PostgreSQL a \u0000 escape, which JSONB refuses, becomes \ufffd (U+FFFD,
// as the backend stores NUL in text).
func EncodeJSON(d Dialect, name string, v any) (any, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
	}
	// Encoded into a pooled buffer, then copied once into the string: a
	// run write encodes several columns, and json.Marshal (or an encoder
	// of its own per call) would allocate a buffer and copy it each time.
	jb := jsonBufs.Get().(*jsonBuf)
	defer jb.put()
	if err := jb.enc.Encode(v); err != nil {
		return nil, fmt.Errorf("%s: encode %s: %w", d.Name, name, err)
	}
	b := bytes.TrimSuffix(jb.buf.Bytes(), []byte{'\n'})
	if d.Engine == Postgres && bytes.Contains(b, []byte(nulEscape)) {
		return NoNULEscapes(string(b)), nil
	}
	return string(b), nil
}

// jsonBuf is a reusable encoding buffer of EncodeJSON, with an encoder
// writing into it (escaping HTML as json.Marshal does).
type jsonBuf struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// maxPooledJSON bounds the buffers kept for reuse: a rare large value
// (a long conversation) must not pin its buffer in the pool.
const maxPooledJSON = 64 << 10

var jsonBufs = sync.Pool{New: func() any {
	jb := new(jsonBuf)
	jb.enc = json.NewEncoder(&jb.buf)
	return jb
}}

// put returns jb to the pool, emptied, unless it grew too large.
func (jb *jsonBuf) put() {
	if jb.buf.Cap() > maxPooledJSON {
		return
	}
	jb.buf.Reset()
	jsonBufs.Put(jb)
}

// EncodeStrings encodes a list for a Strings column: JSON text on SQLite
// ("[]" for none), the list itself on PostgreSQL (an empty one for none).
func EncodeStrings(d Dialect, name string, v []string) (any, error) {
	if d.Engine == Postgres {
		if v == nil {
			return []string{}, nil
		}
		return v, nil
	}
	if len(v) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: encode %s: %w", d.Name, name, err)
	}
	return string(b), nil
}

// nulEscape is how encoding/json writes a NUL character.
const nulEscape = `\u0000`

// NoNULEscapes replaces every \u0000 escape in the JSON text s by \ufffd.
// encoding/json writes a NUL character only as \u0000 and never leaves
// invalid UTF-8, so nothing else needs fixing for JSONB.
func NoNULEscapes(s string) string {
	const nul, repl = nulEscape, `\ufffd`
	if !strings.Contains(s, nul) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		// An escape: \u0000 is replaced, any other (\\ included) is
		// copied whole so its second byte is never read as a backslash.
		if strings.HasPrefix(s[i:], nul) {
			b.WriteString(repl)
			i += len(nul) - 1
			continue
		}
		b.WriteByte(s[i])
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}
