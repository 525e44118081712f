package knowledge

import (
	"encoding/json"
	"math"
	"slices"
	"strings"

	"github.com/agentgate/agentgate/core"
)

// Filter operators: agno's filter expression language (agno/filters.py),
// the same names and JSON shapes.
const (
	OpEQ         = "EQ"         // {"op":"EQ","key":k,"value":v}
	OpNEQ        = "NEQ"        // the key is present and its value is not v
	OpGT         = "GT"         // numbers by value, strings by code point
	OpGTE        = "GTE"        //
	OpLT         = "LT"         //
	OpLTE        = "LTE"        //
	OpIN         = "IN"         // {"op":"IN","key":k,"values":[...]}
	OpCONTAINS   = "CONTAINS"   // a string holding the substring (case-insensitive), or a list holding the value
	OpSTARTSWITH = "STARTSWITH" // a string starting with the prefix (case-insensitive)
	OpAND        = "AND"        // {"op":"AND","conditions":[...]}
	OpOR         = "OR"         // {"op":"OR","conditions":[...]}
	OpNOT        = "NOT"        // {"op":"NOT","condition":{...}}
)

// Filter bounds.
const (
	// MaxFilterDepth bounds an expression's nesting (agno's
	// MAX_FILTER_DEPTH).
	MaxFilterDepth = 10
	// MaxFilterNodes bounds an expression's operators and IN values.
	MaxFilterNodes = 256
	// MaxFilterKey bounds a key's length in bytes.
	MaxFilterKey = 256
	// MaxFilterKeys bounds the keys /knowledge/config lists.
	MaxFilterKeys = 1000
)

// Filter is a normalised metadata filter expression. A leaf (EQ, NEQ, GT,
// GTE, LT, LTE, IN, CONTAINS, STARTSWITH) holds Key and Value (IN: Values);
// values are strings, float64 numbers or booleans. AND and OR hold
// Conditions, NOT holds its one condition as Conditions[0]. A leaf holds
// when the chunk's metadata or its content's satisfies it.
type Filter struct {
	Op         string
	Key        string
	Value      any
	Values     []any
	Conditions []*Filter
}

var filterOps = []string{OpEQ, OpNEQ, OpGT, OpGTE, OpLT, OpLTE, OpIN, OpCONTAINS, OpSTARTSWITH, OpAND, OpOR, OpNOT}

// exprFields are the fields of an expression object.
var exprFields = map[string]bool{"op": true, "key": true, "value": true, "values": true, "conditions": true, "condition": true}

// NormalizeFilters turns a search's filters into an expression (nil when
// there are none). They are either a dict of metadata keys and the values
// they must equal (an AND of EQs), or agno's filter expression, an object
// whose "op" names an operator (see the Op constants). A malformed filter
// is core.CodeInvalid naming the problem.
func NormalizeFilters(f map[string]any) (*Filter, error) {
	if len(f) == 0 {
		return nil, nil
	}
	if isExpr(f) {
		n := 0
		return parseExpr(f, 0, &n)
	}
	if len(f) > MaxFilterNodes {
		return nil, core.Errorf(core.CodeInvalid, "filters: %d keys, at most %d", len(f), MaxFilterNodes)
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	and := &Filter{Op: OpAND}
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, err
		}
		v, err := scalar(f[k])
		if err != nil {
			return nil, core.Errorf(core.CodeInvalid, "filters: %q: %v", k, err)
		}
		and.Conditions = append(and.Conditions, &Filter{Op: OpEQ, Key: k, Value: v})
	}
	return and, nil
}

// isExpr reports whether f is an expression rather than a dict filter: its
// "op" is an operator's name and it has no fields an expression has not (a
// dict filter may have a metadata key named op).
func isExpr(f map[string]any) bool {
	op, ok := f["op"].(string)
	if !ok || !slices.Contains(filterOps, strings.ToUpper(op)) {
		return false
	}
	for k := range f {
		if !exprFields[k] {
			return false
		}
	}
	return true
}

func parseExpr(e map[string]any, depth int, n *int) (*Filter, error) {
	if depth >= MaxFilterDepth {
		return nil, core.Errorf(core.CodeInvalid, "filters: the expression is nested deeper than %d", MaxFilterDepth)
	}
	if *n++; *n > MaxFilterNodes {
		return nil, core.Errorf(core.CodeInvalid, "filters: the expression has more than %d operators and values", MaxFilterNodes)
	}
	raw, ok := e["op"]
	if !ok {
		return nil, core.Errorf(core.CodeInvalid, "filters: a condition has no op")
	}
	opName, ok := raw.(string)
	if !ok {
		return nil, core.Errorf(core.CodeInvalid, "filters: op must be a string (got %s)", typeName(raw))
	}
	op := strings.ToUpper(opName)
	switch op {
	case OpAND, OpOR:
		raw, ok := e["conditions"]
		if !ok {
			return nil, core.Errorf(core.CodeInvalid, "filters: %s needs conditions (a list of expressions)", op)
		}
		list, ok := raw.([]any)
		if !ok {
			return nil, core.Errorf(core.CodeInvalid, "filters: %s conditions must be a list (got %s)", op, typeName(raw))
		}
		out := &Filter{Op: op, Conditions: []*Filter{}}
		for i, c := range list {
			m, ok := c.(map[string]any)
			if !ok {
				return nil, core.Errorf(core.CodeInvalid, "filters: %s condition %d is not an object (got %s)", op, i, typeName(c))
			}
			sub, err := parseExpr(m, depth+1, n)
			if err != nil {
				return nil, err
			}
			out.Conditions = append(out.Conditions, sub)
		}
		return out, nil
	case OpNOT:
		raw, ok := e["condition"]
		if !ok {
			return nil, core.Errorf(core.CodeInvalid, "filters: NOT needs a condition (an expression)")
		}
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, core.Errorf(core.CodeInvalid, "filters: the NOT condition is not an object (got %s)", typeName(raw))
		}
		sub, err := parseExpr(m, depth+1, n)
		if err != nil {
			return nil, err
		}
		return &Filter{Op: OpNOT, Conditions: []*Filter{sub}}, nil
	}
	if !slices.Contains(filterOps, op) {
		return nil, core.Errorf(core.CodeInvalid, "filters: unknown operator %q (%s)", opName, strings.Join(filterOps, ", "))
	}
	rawKey, ok := e["key"]
	if !ok {
		return nil, core.Errorf(core.CodeInvalid, "filters: %s needs a key", op)
	}
	key, ok := rawKey.(string)
	if !ok {
		return nil, core.Errorf(core.CodeInvalid, "filters: %s key must be a string (got %s)", op, typeName(rawKey))
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if op == OpIN {
		raw, ok := e["values"]
		if !ok {
			return nil, core.Errorf(core.CodeInvalid, "filters: IN %q needs values (a list)", key)
		}
		list, ok := raw.([]any)
		if !ok {
			return nil, core.Errorf(core.CodeInvalid, "filters: IN %q values must be a list (got %s)", key, typeName(raw))
		}
		if *n += len(list); *n > MaxFilterNodes {
			return nil, core.Errorf(core.CodeInvalid, "filters: the expression has more than %d operators and values", MaxFilterNodes)
		}
		out := &Filter{Op: OpIN, Key: key, Values: make([]any, 0, len(list))}
		for i, v := range list {
			s, err := scalar(v)
			if err != nil {
				return nil, core.Errorf(core.CodeInvalid, "filters: IN %q value %d: %v", key, i, err)
			}
			out.Values = append(out.Values, s)
		}
		return out, nil
	}
	rawVal, ok := e["value"]
	if !ok {
		return nil, core.Errorf(core.CodeInvalid, "filters: %s %q needs a value", op, key)
	}
	v, err := scalar(rawVal)
	if err != nil {
		return nil, core.Errorf(core.CodeInvalid, "filters: %s %q: %v", op, key, err)
	}
	switch op {
	case OpGT, OpGTE, OpLT, OpLTE:
		if _, isBool := v.(bool); isBool {
			return nil, core.Errorf(core.CodeInvalid, "filters: %s %q compares a number or a string, not a boolean", op, key)
		}
	case OpSTARTSWITH:
		if _, isStr := v.(string); !isStr {
			return nil, core.Errorf(core.CodeInvalid, "filters: STARTSWITH %q needs a string value (got %s)", key, typeName(rawVal))
		}
	}
	return &Filter{Op: op, Key: key, Value: v}, nil
}

func checkKey(k string) error {
	switch {
	case k == "":
		return core.Errorf(core.CodeInvalid, "filters: a key is empty")
	case len(k) > MaxFilterKey:
		return core.Errorf(core.CodeInvalid, "filters: a key is longer than %d bytes", MaxFilterKey)
	case strings.Contains(k, "\x00"):
		return core.Errorf(core.CodeInvalid, "filters: key %q may not hold a NUL", k)
	}
	return nil
}

// scalar is a filter value as a string, float64 or bool.
func scalar(v any) (any, error) {
	switch x := v.(type) {
	case string, bool:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, core.Errorf(core.CodeInvalid, "%v is not a number JSON holds", x)
		}
		return x, nil
	case float32:
		return scalar(float64(x))
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, core.Errorf(core.CodeInvalid, "%v", err)
		}
		return scalar(f)
	}
	return nil, core.Errorf(core.CodeInvalid, "a value must be a string, a number or a boolean (got %s)", typeName(v))
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, float32, int, int64, int32, json.Number:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return "an unsupported value"
}

// Match reports whether metadata (a chunk's, then its content's) satisfies
// f, as the stores evaluate it; nil matches everything. It is the
// reference the stores' SQL is tested against.
func (f *Filter) Match(chunk, content map[string]any) bool {
	if f == nil {
		return true
	}
	switch f.Op {
	case OpAND:
		for _, c := range f.Conditions {
			if !c.Match(chunk, content) {
				return false
			}
		}
		return true
	case OpOR:
		for _, c := range f.Conditions {
			if c.Match(chunk, content) {
				return true
			}
		}
		return false
	case OpNOT:
		return !f.Conditions[0].Match(chunk, content)
	}
	return f.leaf(chunk) || f.leaf(content)
}

func (f *Filter) leaf(md map[string]any) bool {
	got, ok := md[f.Key]
	if !ok {
		return false
	}
	switch f.Op {
	case OpEQ:
		return sameScalar(got, f.Value)
	case OpNEQ:
		return !sameScalar(got, f.Value)
	case OpIN:
		for _, v := range f.Values {
			if sameScalar(got, v) {
				return true
			}
		}
		return false
	case OpGT, OpGTE, OpLT, OpLTE:
		c, ok := compare(got, f.Value)
		if !ok {
			return false
		}
		switch f.Op {
		case OpGT:
			return c > 0
		case OpGTE:
			return c >= 0
		case OpLT:
			return c < 0
		}
		return c <= 0
	case OpSTARTSWITH:
		s, ok := got.(string)
		return ok && strings.HasPrefix(foldASCII(s), foldASCII(f.Value.(string)))
	case OpCONTAINS:
		switch x := got.(type) {
		case string:
			want, ok := f.Value.(string)
			return ok && strings.Contains(foldASCII(x), foldASCII(want))
		case []any:
			for _, el := range x {
				if ws, ok := f.Value.(string); ok {
					if es, ok := el.(string); ok && foldASCII(es) == foldASCII(ws) {
						return true
					}
					continue
				}
				if sameScalar(el, f.Value) {
					return true
				}
			}
		}
		return false
	}
	return false
}

// foldASCII lower-cases ASCII letters only: what SQLite's lower() does, so
// both stores fold case alike.
func foldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

func sameScalar(got, want any) bool {
	switch w := want.(type) {
	case string:
		g, ok := got.(string)
		return ok && g == w
	case bool:
		g, ok := got.(bool)
		return ok && g == w
	case float64:
		g, ok := asNumber(got)
		return ok && g == w
	}
	return false
}

func asNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func compare(got, want any) (int, bool) {
	switch w := want.(type) {
	case string:
		g, ok := got.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(g, w), true
	case float64:
		g, ok := asNumber(got)
		if !ok {
			return 0, false
		}
		switch {
		case g < w:
			return -1, true
		case g > w:
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// Check validates an expression built in code (NormalizeFilters' are
// valid): known operators, keys, value types, bounds. A stores' compiler
// calls it before writing SQL.
func (f *Filter) Check() error {
	n := 0
	return f.check(0, &n)
}

func (f *Filter) check(depth int, n *int) error {
	if f == nil {
		return core.Errorf(core.CodeInvalid, "filters: a condition is missing")
	}
	if depth >= MaxFilterDepth {
		return core.Errorf(core.CodeInvalid, "filters: the expression is nested deeper than %d", MaxFilterDepth)
	}
	if *n += 1 + len(f.Values); *n > MaxFilterNodes {
		return core.Errorf(core.CodeInvalid, "filters: the expression has more than %d operators and values", MaxFilterNodes)
	}
	switch f.Op {
	case OpAND, OpOR:
		for _, c := range f.Conditions {
			if err := c.check(depth+1, n); err != nil {
				return err
			}
		}
		return nil
	case OpNOT:
		if len(f.Conditions) != 1 {
			return core.Errorf(core.CodeInvalid, "filters: NOT needs exactly one condition")
		}
		return f.Conditions[0].check(depth+1, n)
	case OpEQ, OpNEQ, OpGT, OpGTE, OpLT, OpLTE, OpIN, OpCONTAINS, OpSTARTSWITH:
	default:
		return core.Errorf(core.CodeInvalid, "filters: unknown operator %q (%s)", f.Op, strings.Join(filterOps, ", "))
	}
	if err := checkKey(f.Key); err != nil {
		return err
	}
	vals := f.Values
	if f.Op != OpIN {
		vals = []any{f.Value}
	}
	for _, v := range vals {
		switch x := v.(type) {
		case string:
		case bool:
			if f.Op == OpGT || f.Op == OpGTE || f.Op == OpLT || f.Op == OpLTE {
				return core.Errorf(core.CodeInvalid, "filters: %s %q compares a number or a string, not a boolean", f.Op, f.Key)
			}
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return core.Errorf(core.CodeInvalid, "filters: %s %q: %v is not a number JSON holds", f.Op, f.Key, x)
			}
		default:
			return core.Errorf(core.CodeInvalid, "filters: %s %q: a value must be a string, a float64 or a boolean (got %T)", f.Op, f.Key, v)
		}
		if _, isStr := v.(string); f.Op == OpSTARTSWITH && !isStr {
			return core.Errorf(core.CodeInvalid, "filters: STARTSWITH %q needs a string value", f.Key)
		}
	}
	return nil
}

// FoldASCII lower-cases ASCII letters only, as CONTAINS and STARTSWITH
// compare (what SQLite's lower() does, so every store folds alike).
func FoldASCII(s string) string { return foldASCII(s) }
