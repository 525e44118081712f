package trace_test

import (
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/trace"
	"github.com/agentgate/agentgate/storage/sqlstore"
)

func TestParseFilterErrors(t *testing.T) {
	deep := strings.Repeat(`{"op":"NOT","condition":`, 20) + `{"op":"EQ","key":"name","value":"x"}` + strings.Repeat(`}`, 20)
	for _, c := range []struct {
		name, in string
		code     core.ErrorCode
		contains string
	}{
		{"not JSON", `{"op":`, core.CodeInvalid, "not JSON"},
		{"not an object", `[1]`, core.CodeInvalid, "want an object"},
		{"no op", `{"key":"name","value":"x"}`, core.CodeInvalid, `"op" is required`},
		{"unknown op", `{"op":"LIKE","key":"name","value":"x"}`, core.CodeInvalid, `unknown operator "LIKE"`},
		{"unknown field", `{"op":"EQ","key":"password","value":"x"}`, core.CodeInvalid, `unknown field "password"`},
		{"operator not allowed", `{"op":"GT","key":"name","value":"x"}`, core.CodeInvalid, `operator GT is not allowed for field "name"`},
		{"CONTAINS on a time", `{"op":"CONTAINS","key":"start_time","value":"2025"}`, core.CodeInvalid, `operator CONTAINS is not allowed for field "start_time"`},
		{"IN on name", `{"op":"IN","key":"name","values":["x"]}`, core.CodeInvalid, `operator IN is not allowed for field "name"`},
		{"number for a string", `{"op":"EQ","key":"run_id","value":5}`, core.CodeInvalid, `field "run_id" takes a string, not a number`},
		{"string for a number", `{"op":"GT","key":"duration_ms","value":"5"}`, core.CodeInvalid, `field "duration_ms" takes a number, not a string`},
		{"number for a time", `{"op":"GT","key":"start_time","value":17}`, core.CodeInvalid, `field "start_time" takes an ISO 8601 datetime string`},
		{"unknown status", `{"op":"EQ","key":"status","value":"MAYBE"}`, core.CodeInvalid, `takes one of OK, ERROR`},
		{"IN without values", `{"op":"IN","key":"run_id","value":"x"}`, core.CodeInvalid, `IN takes no "value"`},
		{"IN value of the wrong type", `{"op":"IN","key":"run_id","values":["a",{"x":1}]}`, core.CodeInvalid, `filter.values[1]: field "run_id" takes a string, not an object`},
		{"no value", `{"op":"EQ","key":"run_id"}`, core.CodeInvalid, `EQ needs a "value"`},
		{"null value", `{"op":"EQ","key":"run_id","value":null}`, core.CodeInvalid, `takes a string, not null`},
		{"AND empty", `{"op":"AND","conditions":[]}`, core.CodeInvalid, `AND needs a non-empty "conditions"`},
		{"OR not a list", `{"op":"OR","conditions":{}}`, core.CodeInvalid, `OR needs a non-empty "conditions"`},
		{"nested error named by path", `{"op":"AND","conditions":[{"op":"EQ","key":"name","value":"x"},{"op":"EQ","key":"nope","value":"x"}]}`, core.CodeInvalid, `filter.conditions[1]: unknown field "nope"`},
		{"NOT without condition", `{"op":"NOT"}`, core.CodeInvalid, `NOT needs a "condition"`},
		{"extra key", `{"op":"EQ","key":"name","value":"x","values":[]}`, core.CodeInvalid, `EQ takes no "values"`},
		{"too deep", deep, core.CodeInvalid, "nested deeper than"},
		{"trailing data", `{"op":"EQ","key":"name","value":"x"} {}`, core.CodeInvalid, "trailing data"},
		{"date that does not parse", `{"op":"GT","key":"start_time","value":"yesterday"}`, core.CodeUnprocessable, `field "start_time": "yesterday" is not an ISO 8601 datetime`},
		{"date in IN-less time field", `{"op":"LT","key":"created_at","value":"2025-13-45T99:00:00Z"}`, core.CodeUnprocessable, `"created_at"`},
	} {
		_, err := trace.ParseFilter([]byte(c.in))
		if err == nil || core.CodeOf(err) != c.code || !strings.Contains(err.Error(), c.contains) {
			t.Errorf("%s: ParseFilter(%s) = %v (code %s), want %s containing %q", c.name, c.in, err, core.CodeOf(err), c.code, c.contains)
		}
	}
}

func TestParseFilterValues(t *testing.T) {
	e, err := trace.ParseFilter([]byte(`{"op":"and","conditions":[{"op":"eq","key":"status","value":"error"},
		{"op":"GTE","key":"duration_ms","value":5000},{"op":"LT","key":"start_time","value":"2025-11-19T15:30:00+05:30"},
		{"op":"IN","key":"agent_id","values":["a","b"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.Op != trace.OpAnd || len(e.Conditions) != 4 {
		t.Fatalf("expr %v", e)
	}
	if c := e.Conditions[0]; c.Op != trace.OpEQ || c.Value != "ERROR" {
		t.Errorf("enum normalised: %v", c)
	}
	if c := e.Conditions[1]; c.Value != float64(5000) {
		t.Errorf("number: %#v", c.Value)
	}
	if c := e.Conditions[2]; !c.Value.(time.Time).Equal(time.Date(2025, 11, 19, 10, 0, 0, 0, time.UTC)) || c.Value.(time.Time).Location() != time.UTC {
		t.Errorf("time in UTC: %v", c.Value)
	}
	if got := e.String(); got != "AND(status EQ ERROR, duration_ms GTE 5000, start_time LT 2025-11-19 10:00:00 +0000 UTC, agent_id IN [a b])" {
		t.Errorf("String() = %s", got)
	}
	for _, in := range []string{"", "null", "  "} {
		if e, err := trace.ParseFilter([]byte(in)); e != nil || err != nil {
			t.Errorf("ParseFilter(%q) = %v, %v; want no filter", in, e, err)
		}
	}
}

func TestSchemaIsAgentOS(t *testing.T) {
	s := trace.Schema()
	if len(s.Fields) != 13 || strings.Join(s.LogicalOperators, ",") != "AND,OR" {
		t.Fatalf("schema %+v", s)
	}
	for _, f := range s.Fields {
		if f.Type == trace.TypeDatetime && strings.Join(f.Operators, ",") != "GT,GTE,LT,LTE" {
			t.Errorf("time field %s: %v", f.Key, f.Operators)
		}
	}
	if f := trace.FieldOf("status"); f == nil || f.Type != trace.TypeEnum || strings.Join(f.Values, ",") != "OK,ERROR" {
		t.Errorf("status %+v", f)
	}
}

// neutral is e with every value replaced by one of the same type.
func neutral(e *trace.Expr) *trace.Expr {
	if e == nil {
		return nil
	}
	n := *e
	v := func(x any) any {
		switch x.(type) {
		case string:
			if e.Field.Type == trace.TypeEnum {
				return trace.StatusOK
			}
			return "v"
		case float64:
			return float64(1)
		case time.Time:
			return time.Unix(0, 0).UTC()
		}
		return x
	}
	if e.Value != nil {
		n.Value = v(e.Value)
	}
	n.Values = nil
	for _, x := range e.Values {
		n.Values = append(n.Values, v(x))
	}
	n.Conditions = nil
	for _, c := range e.Conditions {
		n.Conditions = append(n.Conditions, neutral(c))
	}
	return &n
}

var dialects = []sqlstore.Dialect{{Name: "sqlite", Engine: sqlstore.SQLite}, {Name: "postgres", Engine: sqlstore.Postgres}}

// compileBoth compiles e for both engines and checks that its values only
// ever reach the SQL as bound parameters: the statement is the one of the
// same expression with other values.
func compileBoth(t *testing.T, e *trace.Expr) {
	for _, d := range dialects {
		s := sqlstore.NewTraces(sqlstore.New(d, nil))
		got, args, err := s.CompileTraceFilter(e)
		if err != nil {
			t.Fatalf("%s: compile %v: %v", d.Name, e, err)
		}
		want, _, err := s.CompileTraceFilter(neutral(e))
		if err != nil {
			t.Fatalf("%s: compile neutral: %v", d.Name, err)
		}
		if got != want {
			t.Fatalf("%s: the values of %v changed the SQL:\n%s\nvs\n%s", d.Name, e, got, want)
		}
		if strings.Count(got, "?") != len(args) {
			t.Fatalf("%s: %d placeholders, %d args: %s", d.Name, strings.Count(got, "?"), len(args), got)
		}
	}
}

func TestHostileValuesDoNotChangeTheSQL(t *testing.T) {
	for _, v := range []string{`x' OR '1'='1`, `'); DROP TABLE traces; --`, `%`, `_`, `\`, `"`, "a\x00b", `$1`, `?`, `) OR (1=1`} {
		for _, op := range []string{"EQ", "NEQ", "CONTAINS", "STARTSWITH"} {
			e, err := trace.ParseFilter([]byte(`{"op":"` + op + `","key":"name","value":` + quote(v) + `}`))
			if err != nil {
				t.Fatal(err)
			}
			compileBoth(t, e)
		}
		e, err := trace.ParseFilter([]byte(`{"op":"NOT","condition":{"op":"IN","key":"user_id","values":[` + quote(v) + `,"b"]}}`))
		if err != nil {
			t.Fatal(err)
		}
		compileBoth(t, e)
	}
	// The exact statements, for the record.
	e, _ := trace.ParseFilter([]byte(`{"op":"OR","conditions":[{"op":"CONTAINS","key":"name","value":"x' --"},{"op":"GT","key":"duration_ms","value":5}]}`))
	got, args, _ := sqlstore.NewTraces(sqlstore.New(dialects[0], nil)).CompileTraceFilter(e)
	if got != "((instr(lower(name), lower(?)) > 0) OR (duration_ms > CAST(? AS DOUBLE PRECISION)))" || len(args) != 2 || args[0] != "x' --" {
		t.Errorf("sqlite SQL %s %v", got, args)
	}
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\x00", `\u0000`)
	return `"` + r.Replace(s) + `"`
}

// FuzzParseFilter: any input is parsed or refused with a coded error (never
// a panic), and what parses compiles on both engines to SQL its values do
// not change. The seed corpus is in testdata/fuzz/FuzzParseFilter too.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`{"op":"EQ","key":"status","value":"OK"}`,
		`{"op":"AND","conditions":[{"op":"EQ","key":"status","value":"ERROR"},{"op":"GT","key":"duration_ms","value":5000}]}`,
		`{"op":"NOT","condition":{"op":"IN","key":"agent_id","values":["a","b"]}}`,
		`{"op":"OR","conditions":[{"op":"CONTAINS","key":"name","value":"x' OR 1=1"},{"op":"STARTSWITH","key":"run_id","value":"%"}]}`,
		`{"op":"GTE","key":"start_time","value":"2025-11-19T10:00:00Z"}`,
		`{"op":"LT","key":"created_at","value":"nope"}`,
		`{"op":"EQ","key":"duration_ms","value":1e400}`,
		`null`, `[]`, `{"op":null}`, `{"op":"IN","key":"trace_id","values":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := trace.ParseFilter(b)
		if err != nil {
			if c := core.CodeOf(err); c != core.CodeInvalid && c != core.CodeUnprocessable {
				t.Fatalf("ParseFilter(%q): error of code %s: %v", b, c, err)
			}
			return
		}
		_ = e.String()
		if e != nil {
			compileBoth(t, e)
		}
	})
}
