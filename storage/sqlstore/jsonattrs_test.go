package sqlstore

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestEncodeAttributesAsEncodingJSON: the attributes' JSON is byte for byte
// encoding/json's (as EncodeJSON writes it), for every kind of value a span
// carries, tricky strings and floats, random bytes, and values only
// encoding/json knows.
func TestEncodeAttributesAsEncodingJSON(t *testing.T) {
	sqlite := Dialect{Name: "sqlite", Engine: SQLite}
	check := func(t *testing.T, m map[string]any) {
		t.Helper()
		want, wantErr := EncodeJSON(sqlite, "attributes", m)
		got, err := EncodeAttributes(sqlite, "attributes", m)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%v: error %v, encoding/json's %v", m, err, wantErr)
		}
		if got != want {
			t.Fatalf("%#v:\n got %v\nwant %v", m, got, want)
		}
	}
	strs := []string{"", "plain", `quo"te`, `back\slash`, "<b>&amp;</b>", "tab\tnew\nline\rcr", "\b\f\x00\x01\x1f\x7f",
		"é ü 中文 🎉", "\u2028\u2029", "bad \xff\xfe utf8", "\xc3", "trailing \xe2\x82", strings.Repeat("x", 5000)}
	floats := []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 123.456, 1e-6, 9.99e-7, 1e-7, 1.5e-9, 1e20, 1e21, -1e21, 1.7976931348623157e308, 5e-324}
	for i, s := range strs {
		check(t, map[string]any{"s": s, s: i})
	}
	for _, f := range floats {
		check(t, map[string]any{"f": f, "fs": []float64{f, -f}})
	}
	check(t, map[string]any{
		"int64": int64(-1 << 63), "int": 42, "bool": true, "no": false, "nil": nil,
		"strings": []string{"a", "<b>"}, "bools": []bool{true, false}, "ints": []int64{1, -2, 3},
		"nil list": []string(nil), "empty list": []int64{}, "nested": map[string]any{"k": []any{1, "two", 3.5}},
		"uint": uint8(7), "float32": float32(0.1),
	})
	check(t, map[string]any{})
	check(t, nil)
	check(t, map[string]any{"nan": math.NaN()})
	check(t, map[string]any{"inf": []float64{math.Inf(1)}})

	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		m := map[string]any{}
		for range r.IntN(6) {
			b := make([]byte, r.IntN(24))
			for j := range b {
				b[j] = byte(r.IntN(256))
			}
			switch r.IntN(3) {
			case 0:
				m[string(b)] = string(b)
			case 1:
				m[string(b)] = math.Float64frombits(r.Uint64())
			default:
				m[string(b)] = r.Int64() - r.Int64()
			}
		}
		check(t, m)
	}

	// The text decodes to what was encoded, on PostgreSQL with NUL
	// escapes replaced as EncodeJSON does.
	pg := Dialect{Name: "postgres", Engine: Postgres}
	m := map[string]any{"nul": "a\x00b"}
	want, _ := EncodeJSON(pg, "attributes", m)
	got, err := EncodeAttributes(pg, "attributes", m)
	if err != nil || got != want {
		t.Fatalf("postgres: %v %v, want %v", got, err, want)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(got.(string)), &back); err != nil || back["nul"] != "a\ufffdb" {
		t.Fatalf("postgres text %v decodes to %v (%v)", got, back, err)
	}
}
