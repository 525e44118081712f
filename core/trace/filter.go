package trace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/agentgate/agentgate/core"
)

// The filter DSL of POST /traces/search (agno's FilterExpr as JSON):
//
//	{"op": "EQ|NEQ|GT|GTE|LT|LTE|CONTAINS|STARTSWITH", "key": k, "value": v}
//	{"op": "IN", "key": k, "values": [v, ...]}
//	{"op": "AND"|"OR", "conditions": [...]}
//	{"op": "NOT", "condition": {...}}
//
// ParseFilter checks an expression against the fields of Fields (each
// field's operators and value type) and returns its tree, with values
// converted to the field's type: what a store compiles to SQL with bound
// parameters. Nothing of the input but a value ever reaches a store.

// Operators.
const (
	OpEQ         = "EQ"
	OpNEQ        = "NEQ"
	OpGT         = "GT"
	OpGTE        = "GTE"
	OpLT         = "LT"
	OpLTE        = "LTE"
	OpContains   = "CONTAINS"
	OpStartsWith = "STARTSWITH"
	OpIn         = "IN"
	OpAnd        = "AND"
	OpOr         = "OR"
	OpNot        = "NOT"
)

// Field types.
const (
	TypeString   = "string"
	TypeNumber   = "number"
	TypeDatetime = "datetime"
	TypeEnum     = "enum"
)

// Field is one filterable field: AgentOS's FilterFieldSchema.
type Field struct {
	Key       string   `json:"key"`
	Label     string   `json:"label"`
	Type      string   `json:"type" enum:"string,number,datetime,enum"`
	Operators []string `json:"operators"`
	Values    []string `json:"values,omitempty"`
}

// FilterSchema is GET /traces/filter-schema: AgentOS's FilterSchemaResponse.
type FilterSchema struct {
	Fields           []Field  `json:"fields"`
	LogicalOperators []string `json:"logical_operators"`
}

var (
	stringOps = []string{OpEQ, OpNEQ, OpContains, OpStartsWith, OpIn}
	timeOps   = []string{OpGT, OpGTE, OpLT, OpLTE}
)

// Fields are the filterable fields of traces, AgentOS's TRACE_FILTER_SCHEMA
// (the keys are the stored trace's columns).
var Fields = []Field{
	{Key: "status", Label: "Status", Type: TypeEnum, Operators: []string{OpEQ, OpNEQ, OpIn}, Values: []string{StatusOK, StatusError}},
	{Key: "user_id", Label: "User ID", Type: TypeString, Operators: stringOps},
	{Key: "agent_id", Label: "Agent ID", Type: TypeString, Operators: stringOps},
	{Key: "team_id", Label: "Team ID", Type: TypeString, Operators: stringOps},
	{Key: "workflow_id", Label: "Workflow ID", Type: TypeString, Operators: stringOps},
	{Key: "session_id", Label: "Session ID", Type: TypeString, Operators: stringOps},
	{Key: "run_id", Label: "Run ID", Type: TypeString, Operators: stringOps},
	{Key: "name", Label: "Trace Name", Type: TypeString, Operators: []string{OpEQ, OpNEQ, OpContains, OpStartsWith}},
	{Key: "trace_id", Label: "Trace ID", Type: TypeString, Operators: stringOps},
	{Key: "duration_ms", Label: "Duration (ms)", Type: TypeNumber, Operators: []string{OpEQ, OpNEQ, OpGT, OpGTE, OpLT, OpLTE}},
	{Key: "start_time", Label: "Start Time", Type: TypeDatetime, Operators: timeOps},
	{Key: "end_time", Label: "End Time", Type: TypeDatetime, Operators: timeOps},
	{Key: "created_at", Label: "Created At", Type: TypeDatetime, Operators: timeOps},
}

// Schema is the filter schema of traces.
func Schema() FilterSchema {
	return FilterSchema{Fields: slices.Clone(Fields), LogicalOperators: []string{OpAnd, OpOr}}
}

// FieldOf is the field of key (nil for an unknown key).
func FieldOf(key string) *Field {
	for i := range Fields {
		if Fields[i].Key == key {
			return &Fields[i]
		}
	}
	return nil
}

// Expr is a validated filter expression. A comparison has Field, Op and
// Value (IN: Values): a string for string and enum fields, a float64 for
// number fields, a UTC time.Time for datetime fields. AND and OR have
// Conditions (at least one); NOT has exactly one.
type Expr struct {
	Op         string
	Field      *Field
	Value      any
	Values     []any
	Conditions []*Expr
}

// Limits of an expression.
const (
	MaxFilterDepth  = 16
	MaxFilterNodes  = 256
	MaxInValues     = 500
	MaxFilterValue  = 1024 // characters of a string value
	MaxFilterLength = 64 << 10
)

func invalid(format string, args ...any) error {
	return core.Errorf(core.CodeInvalid, "invalid filter: "+format, args...)
}

// ParseFilter parses and validates a JSON filter expression; "null" (or
// nothing) is no filter (nil). A malformed expression, an unknown field,
// an operator the field does not allow or a value of the wrong type is
// core.CodeInvalid (400) naming it; a datetime value that does not parse
// is core.CodeUnprocessable (422).
func ParseFilter(raw []byte) (*Expr, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if len(raw) > MaxFilterLength {
		return nil, invalid("longer than %d bytes", MaxFilterLength)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, invalid("not JSON: %v", err)
	}
	if dec.More() {
		return nil, invalid("trailing data after the expression")
	}
	p := parser{}
	return p.expr(v, 0, "filter")
}

// FilterFrom validates a filter expression already decoded from JSON
// (maps, slices, strings, float64 or json.Number, bools, nil).
func FilterFrom(v any) (*Expr, error) {
	if v == nil {
		return nil, nil
	}
	p := parser{}
	return p.expr(v, 0, "filter")
}

type parser struct{ nodes int }

func (p *parser) expr(v any, depth int, at string) (*Expr, error) {
	p.nodes++
	if p.nodes > MaxFilterNodes {
		return nil, invalid("more than %d expressions", MaxFilterNodes)
	}
	if depth >= MaxFilterDepth {
		return nil, invalid("nested deeper than %d", MaxFilterDepth)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalid("%s: want an object with \"op\", not %s", at, kindOf(v))
	}
	opv, ok := m["op"].(string)
	if !ok {
		return nil, invalid("%s: \"op\" is required (a string)", at)
	}
	op := strings.ToUpper(strings.TrimSpace(opv))
	allowed := func(keys ...string) error {
		for k := range m {
			if k != "op" && !slices.Contains(keys, k) {
				return invalid("%s: %s takes no %q", at, op, k)
			}
		}
		return nil
	}
	switch op {
	case OpAnd, OpOr:
		if err := allowed("conditions"); err != nil {
			return nil, err
		}
		list, ok := m["conditions"].([]any)
		if !ok || len(list) == 0 {
			return nil, invalid("%s: %s needs a non-empty \"conditions\" list", at, op)
		}
		e := &Expr{Op: op}
		for i, c := range list {
			ce, err := p.expr(c, depth+1, fmt.Sprintf("%s.conditions[%d]", at, i))
			if err != nil {
				return nil, err
			}
			e.Conditions = append(e.Conditions, ce)
		}
		return e, nil
	case OpNot:
		if err := allowed("condition"); err != nil {
			return nil, err
		}
		c, ok := m["condition"]
		if !ok || c == nil {
			return nil, invalid("%s: NOT needs a \"condition\"", at)
		}
		ce, err := p.expr(c, depth+1, at+".condition")
		if err != nil {
			return nil, err
		}
		return &Expr{Op: OpNot, Conditions: []*Expr{ce}}, nil
	case OpEQ, OpNEQ, OpGT, OpGTE, OpLT, OpLTE, OpContains, OpStartsWith, OpIn:
	default:
		return nil, invalid("%s: unknown operator %q (want one of EQ, NEQ, GT, GTE, LT, LTE, CONTAINS, STARTSWITH, IN, AND, OR, NOT)", at, opv)
	}
	key, ok := m["key"].(string)
	if !ok {
		return nil, invalid("%s: %s needs a \"key\" (a string)", at, op)
	}
	f := FieldOf(key)
	if f == nil {
		return nil, invalid("%s: unknown field %q", at, clip(key))
	}
	if !slices.Contains(f.Operators, op) {
		return nil, invalid("%s: operator %s is not allowed for field %q (allowed: %s)", at, op, key, strings.Join(f.Operators, ", "))
	}
	e := &Expr{Op: op, Field: f}
	if op == OpIn {
		if err := allowed("key", "values"); err != nil {
			return nil, err
		}
		list, ok := m["values"].([]any)
		if !ok {
			return nil, invalid("%s: IN needs a \"values\" list", at)
		}
		if len(list) > MaxInValues {
			return nil, invalid("%s: IN takes at most %d values", at, MaxInValues)
		}
		for i, x := range list {
			cv, err := convert(f, x, fmt.Sprintf("%s.values[%d]", at, i))
			if err != nil {
				return nil, err
			}
			e.Values = append(e.Values, cv)
		}
		return e, nil
	}
	if err := allowed("key", "value"); err != nil {
		return nil, err
	}
	x, ok := m["value"]
	if !ok {
		return nil, invalid("%s: %s needs a \"value\"", at, op)
	}
	cv, err := convert(f, x, at+".value")
	if err != nil {
		return nil, err
	}
	e.Value = cv
	return e, nil
}

// convert checks a value against f's type and converts it.
func convert(f *Field, v any, at string) (any, error) {
	switch f.Type {
	case TypeString, TypeEnum:
		s, ok := v.(string)
		if !ok {
			return nil, invalid("%s: field %q takes a string, not %s", at, f.Key, kindOf(v))
		}
		if len([]rune(s)) > MaxFilterValue {
			return nil, invalid("%s: longer than %d characters", at, MaxFilterValue)
		}
		if f.Type == TypeEnum {
			u := strings.ToUpper(s)
			if !slices.Contains(f.Values, u) {
				return nil, invalid("%s: field %q takes one of %s, not %q", at, f.Key, strings.Join(f.Values, ", "), clip(s))
			}
			return u, nil
		}
		return s, nil
	case TypeNumber:
		var n float64
		switch x := v.(type) {
		case json.Number:
			fl, err := x.Float64()
			if err != nil {
				return nil, invalid("%s: field %q takes a number, not %s", at, f.Key, clip(x.String()))
			}
			n = fl
		case float64:
			n = x
		case int:
			n = float64(x)
		case int64:
			n = float64(x)
		default:
			return nil, invalid("%s: field %q takes a number, not %s", at, f.Key, kindOf(v))
		}
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, invalid("%s: field %q takes a finite number", at, f.Key)
		}
		return n, nil
	case TypeDatetime:
		s, ok := v.(string)
		if !ok {
			return nil, invalid("%s: field %q takes an ISO 8601 datetime string, not %s", at, f.Key, kindOf(v))
		}
		t, err := ParseTime(s)
		if err != nil {
			return nil, core.Errorf(core.CodeUnprocessable, "invalid filter: %s: field %q: %v", at, f.Key, err)
		}
		return t, nil
	}
	return nil, invalid("%s: field %q has no type", at, f.Key)
}

// ParseTime parses an ISO 8601 datetime (RFC 3339, with or without
// fractional seconds; without a zone it is UTC; a bare date is its
// midnight, UTC) into UTC. An error names the value.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 datetime (e.g. 2025-11-19T10:00:00Z)", clip(s))
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number, float64, int, int64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// clip shortens a value quoted in an error.
func clip(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}

// Cond is the comparison key op value on a known field (values already of
// the field's type); it panics on an unknown key (a programming error).
func Cond(key, op string, value any) *Expr {
	f := FieldOf(key)
	if f == nil {
		panic("trace: unknown filter field " + key)
	}
	return &Expr{Op: op, Field: f, Value: value}
}

// And joins the non-nil expressions with AND (nil for none, the one
// itself for one).
func And(exprs ...*Expr) *Expr {
	var list []*Expr
	for _, e := range exprs {
		if e != nil {
			list = append(list, e)
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	return &Expr{Op: OpAnd, Conditions: list}
}

// String renders e for logs and tests (not SQL).
func (e *Expr) String() string {
	if e == nil {
		return "<nil>"
	}
	switch e.Op {
	case OpAnd, OpOr:
		parts := make([]string, len(e.Conditions))
		for i, c := range e.Conditions {
			parts[i] = c.String()
		}
		return e.Op + "(" + strings.Join(parts, ", ") + ")"
	case OpNot:
		return "NOT(" + e.Conditions[0].String() + ")"
	case OpIn:
		return fmt.Sprintf("%s IN %v", e.Field.Key, e.Values)
	}
	return fmt.Sprintf("%s %s %v", e.Field.Key, e.Op, e.Value)
}
