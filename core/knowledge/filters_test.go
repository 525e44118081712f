package knowledge_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core/knowledge"
)

func TestNormalizeFilters(t *testing.T) {
	eq := func(k string, v any) *knowledge.Filter {
		return &knowledge.Filter{Op: knowledge.OpEQ, Key: k, Value: v}
	}
	ok := []struct {
		in   string
		want *knowledge.Filter
	}{
		{`{}`, nil},
		{`{"topic":"bees"}`, &knowledge.Filter{Op: "AND", Conditions: []*knowledge.Filter{eq("topic", "bees")}}},
		{`{"b":2,"a":true}`, &knowledge.Filter{Op: "AND", Conditions: []*knowledge.Filter{eq("a", true), eq("b", 2.0)}}},
		// A metadata key named op is a dict filter, as is an object with
		// fields an expression has not.
		{`{"op":"write"}`, &knowledge.Filter{Op: "AND", Conditions: []*knowledge.Filter{eq("op", "write")}}},
		{`{"op":"EQ","user":"x"}`, &knowledge.Filter{Op: "AND", Conditions: []*knowledge.Filter{eq("op", "EQ"), eq("user", "x")}}},
		{`{"op":"EQ","key":"topic","value":"bees"}`, eq("topic", "bees")},
		{`{"op":"eq","key":"n","value":3}`, eq("n", 3.0)},
		{`{"op":"NEQ","key":"s","value":"archived"}`, &knowledge.Filter{Op: "NEQ", Key: "s", Value: "archived"}},
		{`{"op":"GT","key":"n","value":1.5}`, &knowledge.Filter{Op: "GT", Key: "n", Value: 1.5}},
		{`{"op":"GTE","key":"d","value":"2025-01-01"}`, &knowledge.Filter{Op: "GTE", Key: "d", Value: "2025-01-01"}},
		{`{"op":"LT","key":"n","value":0}`, &knowledge.Filter{Op: "LT", Key: "n", Value: 0.0}},
		{`{"op":"LTE","key":"n","value":-1}`, &knowledge.Filter{Op: "LTE", Key: "n", Value: -1.0}},
		{`{"op":"IN","key":"c","values":["a",1,false]}`, &knowledge.Filter{Op: "IN", Key: "c", Values: []any{"a", 1.0, false}}},
		{`{"op":"IN","key":"c","values":[]}`, &knowledge.Filter{Op: "IN", Key: "c", Values: []any{}}},
		{`{"op":"CONTAINS","key":"t","value":"Go"}`, &knowledge.Filter{Op: "CONTAINS", Key: "t", Value: "Go"}},
		{`{"op":"CONTAINS","key":"t","value":7}`, &knowledge.Filter{Op: "CONTAINS", Key: "t", Value: 7.0}},
		{`{"op":"STARTSWITH","key":"n","value":"Ag"}`, &knowledge.Filter{Op: "STARTSWITH", Key: "n", Value: "Ag"}},
		{`{"op":"NOT","condition":{"op":"EQ","key":"a","value":1}}`, &knowledge.Filter{Op: "NOT", Conditions: []*knowledge.Filter{eq("a", 1.0)}}},
		{`{"op":"OR","conditions":[{"op":"EQ","key":"a","value":1},{"op":"AND","conditions":[]}]}`,
			&knowledge.Filter{Op: "OR", Conditions: []*knowledge.Filter{eq("a", 1.0), {Op: "AND", Conditions: []*knowledge.Filter{}}}}},
		// Contradictory equalities are a valid filter that selects nothing.
		{`{"op":"AND","conditions":[{"op":"EQ","key":"a","value":1},{"op":"EQ","key":"a","value":2}]}`,
			&knowledge.Filter{Op: "AND", Conditions: []*knowledge.Filter{eq("a", 1.0), eq("a", 2.0)}}},
	}
	for _, c := range ok {
		var m map[string]any
		if err := json.Unmarshal([]byte(c.in), &m); err != nil {
			t.Fatal(err)
		}
		got, err := knowledge.NormalizeFilters(m)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v %v, want %+v", c.in, got, err, c.want)
		}
	}
	deep := `{"op":"EQ","key":"a","value":1}`
	for range knowledge.MaxFilterDepth {
		deep = `{"op":"NOT","condition":` + deep + `}`
	}
	many := make([]string, knowledge.MaxFilterNodes+1)
	for i := range many {
		many[i] = "1"
	}
	bad := map[string]string{
		`{"op":"OR","conditions":"x"}`:                                     "OR conditions must be a list",
		`{"op":"OR"}`:                                                      "OR needs conditions",
		`{"op":"AND","conditions":[1]}`:                                    "AND condition 0 is not an object",
		`{"op":"AND","conditions":[{"key":"a","value":1}]}`:                "a condition has no op",
		`{"op":"AND","conditions":[{"op":"LIKE","key":"a"}]}`:              `unknown operator "LIKE"`,
		`{"op":"AND","conditions":[{"op":7}]}`:                             "op must be a string (got a number)",
		`{"op":"NOT"}`:                                                     "NOT needs a condition",
		`{"op":"NOT","condition":[]}`:                                      "the NOT condition is not an object (got a list)",
		`{"op":"EQ","key":"n"}`:                                            `EQ "n" needs a value`,
		`{"op":"EQ","value":1}`:                                            "EQ needs a key",
		`{"op":"EQ","key":5,"value":1}`:                                    "EQ key must be a string (got a number)",
		`{"op":"EQ","key":"","value":1}`:                                   "a key is empty",
		`{"op":"EQ","key":"a\u0000","value":1}`:                            "may not hold a NUL",
		`{"op":"EQ","key":"a","value":null}`:                               "got null",
		`{"op":"EQ","key":"a","value":{"x":1}}`:                            "got an object",
		`{"op":"GT","key":"a","value":true}`:                               "not a boolean",
		`{"op":"STARTSWITH","key":"a","value":1}`:                          "STARTSWITH \"a\" needs a string value",
		`{"op":"IN","key":"a","value":1}`:                                  "IN \"a\" needs values",
		`{"op":"IN","key":"a","values":"x"}`:                               "values must be a list (got a string)",
		`{"op":"IN","key":"a","values":[[1]]}`:                             "IN \"a\" value 0",
		`{"op":"IN","key":"a","values":[` + strings.Join(many, ",") + `]}`: "more than 256",
		deep:                   "nested deeper than 10",
		`{"lang":["en","de"]}`: `"lang": a value must be a string, a number or a boolean (got a list)`,
		`{"lang":null}`:        `"lang"`,
		`{"":"x"}`:             "a key is empty",
	}
	for in, want := range bad {
		var m map[string]any
		if err := json.Unmarshal([]byte(in), &m); err != nil {
			t.Fatal(in, err)
		}
		_, err := knowledge.NormalizeFilters(m)
		if err == nil || !strings.Contains(err.Error(), "filters") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", in, err, want)
		}
	}
}

// TestFilterMatch is the reference semantics the stores are tested
// against: agno's matches_filter_expr, with a leaf holding when the
// chunk's or the content's metadata satisfies it.
func TestFilterMatch(t *testing.T) {
	chunk := map[string]any{"n": 2.0, "s": "Hello World", "tags": []any{"Go", 3.0, true}, "b": false, "z": nil}
	content := map[string]any{"team": "red", "n": 7.0}
	cases := map[string]bool{
		`{"n":2}`: true, `{"n":7}`: true, `{"n":"2"}`: false, `{"team":"red","n":2}`: true, `{"b":false}`: true,
		`{"op":"NEQ","key":"n","value":2}`:                               true, // the content's 7
		`{"op":"NEQ","key":"missing","value":2}`:                         false,
		`{"op":"NEQ","key":"z","value":2}`:                               true,
		`{"op":"NOT","condition":{"op":"EQ","key":"missing","value":2}}`: true,
		`{"op":"GT","key":"n","value":6}`:                                true,
		`{"op":"GT","key":"n","value":7}`:                                false,
		`{"op":"GTE","key":"n","value":7}`:                               true,
		`{"op":"LT","key":"n","value":2}`:                                false,
		`{"op":"LTE","key":"n","value":2}`:                               true,
		`{"op":"GT","key":"s","value":"Hello"}`:                          true,
		`{"op":"LT","key":"s","value":"hello"}`:                          true, // code point order
		`{"op":"GT","key":"s","value":1}`:                                false,
		`{"op":"IN","key":"team","values":["blue","red"]}`:               true,
		`{"op":"IN","key":"team","values":[]}`:                           false,
		`{"op":"CONTAINS","key":"s","value":"o w"}`:                      true,
		`{"op":"CONTAINS","key":"tags","value":"go"}`:                    true,
		`{"op":"CONTAINS","key":"tags","value":"g"}`:                     false,
		`{"op":"CONTAINS","key":"tags","value":3}`:                       true,
		`{"op":"CONTAINS","key":"tags","value":true}`:                    true,
		`{"op":"CONTAINS","key":"n","value":2}`:                          false,
		`{"op":"STARTSWITH","key":"s","value":"hELLO"}`:                  true,
		`{"op":"STARTSWITH","key":"s","value":"World"}`:                  false,
		`{"op":"AND","conditions":[]}`:                                   true,
		`{"op":"OR","conditions":[]}`:                                    false,
		`{"op":"OR","conditions":[{"op":"EQ","key":"n","value":9},{"op":"EQ","key":"team","value":"red"}]}`:  true,
		`{"op":"AND","conditions":[{"op":"EQ","key":"n","value":9},{"op":"EQ","key":"team","value":"red"}]}`: false,
	}
	for in, want := range cases {
		var m map[string]any
		if err := json.Unmarshal([]byte(in), &m); err != nil {
			t.Fatal(in, err)
		}
		f, err := knowledge.NormalizeFilters(m)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := f.Match(chunk, content); got != want {
			t.Errorf("%s: Match %v, want %v", in, got, want)
		}
	}
	if !(*knowledge.Filter)(nil).Match(chunk, content) {
		t.Error("no filter matches everything")
	}
}

// FuzzNormalizeFilters: any JSON object is a filter or a clear error; a
// filter is one the stores accept (Check), and normalising is idempotent
// through the expression's JSON form.
func FuzzNormalizeFilters(f *testing.F) {
	f.Add(`{"topic":"bees"}`)
	f.Add(`{"op":"AND","conditions":[{"op":"EQ","key":"a","value":1},{"op":"AND","conditions":[]}]}`)
	f.Add(`{"op":"NOT","condition":{"op":"EQ","key":"a","value":1}}`)
	f.Add(`{"op":"OR","conditions":[{"op":"IN","key":"a","values":[1,"x",true]},{"op":"CONTAINS","key":"t","value":"Go"}]}`)
	f.Add(`{"op":"STARTSWITH","key":"k\"') OR 1=1 --","value":"%_\\"}`)
	f.Add(`{"op":"GTE","key":"d","value":"2025"}`)
	f.Fuzz(func(t *testing.T, s string) {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) != nil {
			return
		}
		out, err := knowledge.NormalizeFilters(m)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "filters: ") {
				t.Fatalf("%s: an error not naming filters: %v", s, err)
			}
			return
		}
		if out == nil {
			if len(m) != 0 {
				t.Fatal("nil filters without an error")
			}
			return
		}
		if err := out.Check(); err != nil {
			t.Fatalf("%s: normalised to %+v, which Check refuses: %v", s, out, err)
		}
		again, err := knowledge.NormalizeFilters(toJSON(t, out))
		if err != nil || !reflect.DeepEqual(again, out) {
			t.Fatalf("%s: %+v, again %+v %v", s, out, again, err)
		}
		out.Match(m, nil) // never panics
	})
}

// toJSON is f in agno's JSON form (as decoded by encoding/json).
func toJSON(t *testing.T, f *knowledge.Filter) map[string]any {
	var m map[string]any
	switch f.Op {
	case knowledge.OpAND, knowledge.OpOR:
		cs := []any{}
		for _, c := range f.Conditions {
			cs = append(cs, toJSON(t, c))
		}
		m = map[string]any{"op": f.Op, "conditions": cs}
	case knowledge.OpNOT:
		m = map[string]any{"op": f.Op, "condition": toJSON(t, f.Conditions[0])}
	case knowledge.OpIN:
		m = map[string]any{"op": f.Op, "key": f.Key, "values": f.Values}
	default:
		m = map[string]any{"op": f.Op, "key": f.Key, "value": f.Value}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
