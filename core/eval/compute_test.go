package eval

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
)

// The statistics match Python's statistics module (the values below are
// what it prints).
func TestStatisticsMatchPython(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	for _, c := range []struct {
		xs                []float64
		mean, std, med, p float64
	}{
		{[]float64{0.000812668, 0.001306738, 0.003046471, 0.003253375, 0.004126087}, 0.0025090678, 0.001394714641953579, 0.003046471, 0.0039515446},
		{[]float64{1, 2}, 1.5, 0.7071067811865476, 1.5, 1.95},
		{[]float64{5, 1, 3, 2, 4, 10, 7}, 4.571428571428571, 3.101458950082625, 4, 9.1},
		{[]float64{1, 2, 3, 4, 10}, 4, 3.5355339059327378, 3, 8.8},
		{[]float64{7}, 7, 0, 7, 0},
	} {
		s := summarize(c.xs)
		if !near(s.avg, c.mean) || !near(s.std, c.std) || !near(s.median, c.med) || !near(s.p95, c.p) {
			t.Errorf("summarize(%v) = %+v, want mean %v std %v median %v p95 %v", c.xs, s, c.mean, c.std, c.med, c.p)
		}
		if s.p95 > s.max {
			t.Errorf("p95 %v above max %v", s.p95, s.max)
		}
	}
	if s := summarize(nil); s != (summary{}) {
		t.Errorf("summarize(nil) = %+v", s)
	}
}

// A judge's answer is read robustly: the first JSON object anywhere, a
// numeric string, "/10", keys in another case, PASS/FAIL; anything else is
// an error that quotes the answer.
func TestParseVerdict(t *testing.T) {
	acc := func(s string) (verdict, error) {
		return parseVerdict(s, true, false, []string{"accuracy_score", "score"}, []string{"accuracy_reason", "reason"})
	}
	bin := func(s string) (verdict, error) {
		return parseVerdict(s, false, true, []string{"score"}, []string{"reason"})
	}
	for answer, want := range map[string]int{
		`{"accuracy_score": 9, "accuracy_reason": "r"}`:                       9,
		"Sure.\n```json\n{\"accuracy_score\": \"7\", \"reason\": \"r\"}\n```": 7,
		`{"Accuracy_Score": 8.0}`:                                             8,
		`{"score": "10/10"}`:                                                  10,
		`{ not json } then {"score": 2}`:                                      2,
		`{"accuracy_score": 1, "nested": {"a": [1, 2]}}`:                      1,
	} {
		v, err := acc(answer)
		if err != nil || v.Score == nil || *v.Score != want {
			t.Errorf("acc(%q) = %+v, %v; want score %d", answer, v, err, want)
		}
	}
	if v, _ := acc(`{"accuracy_score": 9, "accuracy_reason": "because"}`); v.Reason != "because" {
		t.Errorf("reason = %q", v.Reason)
	}
	for answer, want := range map[string]string{
		"Looks fine to me.":                   "no JSON object",
		`{"accuracy_reason": "no score"}`:     "no accuracy_score",
		`{"accuracy_score": 11}`:              "not a whole number from 1 to 10",
		`{"accuracy_score": 0}`:               "not a whole number from 1 to 10",
		`{"accuracy_score": 7.5}`:             "not a whole number from 1 to 10",
		`{"accuracy_score": "high"}`:          "not a whole number from 1 to 10",
		`{"accuracy_score": [9]}`:             "not a whole number from 1 to 10",
		strings.Repeat("x", 500) + " no json": "…",
	} {
		if _, err := acc(answer); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("acc(%q) = %v, want an error with %q", answer, err, want)
		}
	}
	for answer, want := range map[string]bool{
		`{"passed": true, "reason": "ok"}`: true, `{"passed": false}`: false, `{"passed": "PASS"}`: true,
		`{"passed": "fail"}`: false, `{"result": "yes"}`: true,
	} {
		v, err := bin(answer)
		if err != nil || v.Passed == nil || *v.Passed != want {
			t.Errorf("bin(%q) = %+v, %v; want %v", answer, v, err, want)
		}
	}
	for _, answer := range []string{`{"passed": "maybe"}`, `{"reason": "x"}`, `{"passed": 1}`} {
		if _, err := bin(answer); err == nil {
			t.Errorf("bin(%q) accepted", answer)
		}
	}
}

func calls(specs ...string) []core.ToolExecution {
	var out []core.ToolExecution
	for _, s := range specs {
		name, args, _ := strings.Cut(s, " ")
		out = append(out, core.ToolExecution{ToolName: name, ToolArgs: json.RawMessage(args)})
	}
	return out
}

func TestCheckTools(t *testing.T) {
	for _, c := range []struct {
		name             string
		calls            []core.ToolExecution
		expected         []string
		args             map[string]map[string]any
		extra            bool
		passed, failed   []string
		reasonsSubstring string
	}{
		{"all made", calls(`a {}`, `b {"x":1}`), []string{"a", "b"}, nil, false, []string{"a", "b"}, nil, ""},
		{"missing", calls(`a {}`), []string{"a", "b"}, nil, false, []string{"a"}, []string{"b"}, "b was expected but not called"},
		{"none made", nil, []string{"a"}, nil, false, nil, []string{"a"}, "a was expected"},
		{"extra refused", calls(`a {}`, `c {}`), []string{"a"}, nil, false, []string{"a"}, []string{"c"}, "c was called but not expected"},
		{"extra allowed", calls(`a {}`, `c {}`), []string{"a"}, nil, true, []string{"a", "c"}, nil, ""},
		{"args match (subset, numbers)", calls(`a {"x": 1, "y": "z"}`), []string{"a"}, map[string]map[string]any{"a": {"x": 1.0}}, false, []string{"a"}, nil, ""},
		{"args match one of two calls", calls(`a {"x": 2}`, `a {"x": 1}`), []string{"a"}, map[string]map[string]any{"a": {"x": 1}}, false, []string{"a", "a"}, nil, ""},
		{"args differ", calls(`a {"x": 2}`), []string{"a"}, map[string]map[string]any{"a": {"x": 1}}, false, nil, []string{"a"}, `not with the expected arguments {"x":1}`},
		{"args nested", calls(`a {"o": {"k": [1, 2]}}`), []string{"a"}, map[string]map[string]any{"a": {"o": map[string]any{"k": []any{1, 2}}}}, false, []string{"a"}, nil, ""},
		{"args unreadable", calls(`a not-json`), []string{"a"}, map[string]map[string]any{"a": {"x": 1}}, false, nil, []string{"a"}, "expected arguments"},
	} {
		got := checkTools(c.calls, c.expected, c.args, c.extra)
		if !slices.Equal(got.passed, c.passed) || !slices.Equal(got.failed, c.failed) ||
			(c.reasonsSubstring == "") != (len(got.reasons) == 0) || !strings.Contains(strings.Join(got.reasons, "; "), c.reasonsSubstring) {
			t.Errorf("%s: passed %v failed %v reasons %v; want passed %v failed %v reasons with %q",
				c.name, got.passed, got.failed, got.reasons, c.passed, c.failed, c.reasonsSubstring)
		}
	}
}

// FuzzParseVerdict: a judge's answer is untrusted model output; reading it
// never panics, and a verdict it accepts is in range.
func FuzzParseVerdict(f *testing.F) {
	for _, s := range []string{`{"accuracy_score": 9}`, "```json\n{\"score\": \"7/10\"}\n```", `{"passed": "PASS"}`, `{{{`, `{"score": 1e400}`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := parseVerdict(s, true, false, []string{"accuracy_score", "score"}, []string{"reason"}); err == nil && (*v.Score < 1 || *v.Score > 10) {
			t.Fatalf("score %d out of range from %q", *v.Score, s)
		}
		if v, err := parseVerdict(s, false, true, []string{"score"}, []string{"reason"}); err == nil && v.Passed == nil {
			t.Fatalf("no passed from %q", s)
		}
	})
}
