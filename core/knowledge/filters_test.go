package knowledge_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core/knowledge"
)

func TestNormalizeFilters(t *testing.T) {
	ok := []struct {
		in   map[string]any
		want map[string]any
	}{
		{map[string]any{"topic": "bees"}, map[string]any{"topic": "bees"}},
		{map[string]any{"op": "EQ", "key": "topic", "value": "bees"}, map[string]any{"topic": "bees"}},
		{map[string]any{"op": "AND", "conditions": []any{
			map[string]any{"op": "EQ", "key": "a", "value": 1.0},
			map[string]any{"op": "and", "conditions": []any{map[string]any{"op": "eq", "key": "b", "value": "x"}}},
		}}, map[string]any{"a": 1.0, "b": "x"}},
		// A metadata key named op is a dict filter.
		{map[string]any{"op": "write"}, map[string]any{"op": "write"}},
	}
	for _, c := range ok {
		got, err := knowledge.NormalizeFilters(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v: %v %v, want %v", c.in, got, err, c.want)
		}
	}
	bad := []map[string]any{
		{"op": "OR", "conditions": []any{}},
		{"op": "GT", "key": "n", "value": 3},
		{"op": "EQ", "key": "n"},
		{"op": "AND", "conditions": "x"},
		{"op": "AND", "conditions": []any{map[string]any{"op": "EQ", "key": "a", "value": 1}, map[string]any{"op": "EQ", "key": "a", "value": 2}}},
	}
	for _, b := range bad {
		if _, err := knowledge.NormalizeFilters(b); err == nil || !strings.Contains(err.Error(), "filters") {
			t.Errorf("%v: %v", b, err)
		}
	}
}

func FuzzNormalizeFilters(f *testing.F) {
	f.Add(`{"topic":"bees"}`)
	f.Add(`{"op":"AND","conditions":[{"op":"EQ","key":"a","value":1},{"op":"AND","conditions":[]}]}`)
	f.Add(`{"op":"NOT","condition":{"op":"EQ","key":"a","value":1}}`)
	f.Fuzz(func(t *testing.T, s string) {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) != nil {
			return
		}
		out, err := knowledge.NormalizeFilters(m)
		if err == nil && out == nil && m != nil {
			t.Fatal("nil filters without an error")
		}
	})
}
