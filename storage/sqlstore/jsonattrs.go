package sqlstore

// EncodeAttributes: the JSON of a span's attributes without encoding/json's
// reflection over the map (which allocates for every key and value: about
// a hundred allocations per traced run). The values spans carry (strings,
// numbers, booleans and lists of them, what OpenTelemetry's attribute
// values are) are written directly, byte for byte as encoding/json writes
// them; any other value goes through encoding/json.

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// EncodeAttributes is EncodeJSON(d, name, m) for a map of attributes, with
// the same text (keys sorted, HTML escaped) and the same NULL for a nil
// map.
func EncodeAttributes(d Dialect, name string, m map[string]any) (any, error) {
	if m == nil {
		return nil, nil
	}
	jb := jsonBufs.Get().(*jsonBuf)
	defer jb.put()
	b := jb.raw[:0]
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendJSONValue(b, m[k]); err != nil {
			return nil, fmt.Errorf("%s: encode %s: %w", d.Name, name, err)
		}
	}
	b = append(b, '}')
	jb.raw = b // the grown buffer goes back to the pool with jb
	if d.Engine == Postgres && bytes.Contains(b, []byte(nulEscape)) {
		return NoNULEscapes(string(b)), nil
	}
	return string(b), nil
}

// appendJSONValue appends v's JSON.
func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case float64:
		return appendJSONFloat(b, x)
	case []string:
		return appendJSONList(b, x, func(b []byte, s string) ([]byte, error) { return appendJSONString(b, s), nil })
	case []bool:
		return appendJSONList(b, x, func(b []byte, v bool) ([]byte, error) { return strconv.AppendBool(b, v), nil })
	case []int64:
		return appendJSONList(b, x, func(b []byte, v int64) ([]byte, error) { return strconv.AppendInt(b, v, 10), nil })
	case []float64:
		return appendJSONList(b, x, appendJSONFloat)
	}
	// Anything else: encoding/json, into a pooled buffer of its own.
	other := jsonBufs.Get().(*jsonBuf)
	defer other.put()
	if err := other.enc.Encode(v); err != nil {
		return b, err
	}
	return append(b, bytes.TrimSuffix(other.buf.Bytes(), []byte{'\n'})...), nil
}

// appendJSONList appends a JSON array (null for a nil list, as
// encoding/json).
func appendJSONList[T any](b []byte, xs []T, each func([]byte, T) ([]byte, error)) ([]byte, error) {
	if xs == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = each(b, x); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

// appendJSONFloat appends f as encoding/json does (an error for NaN and
// the infinities, which JSON cannot hold).
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 → e-9, as encoding/json
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string as encoding/json writes it
// with HTML escaping: <, > and & as \u003c..., control characters
// escaped, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
