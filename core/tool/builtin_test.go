package tool

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestEvaluate(t *testing.T) {
	t.Parallel()
	cases := map[string]float64{
		"1+2*3": 7, "(1+2)*3": 9, "2^3^2": 512, "-3+5": 2, "10/4": 2.5, "7%4": 3,
		" 1 + 1 ": 2, "--2": 2, "1_000+1": 1001, "2*(3+(4-1))": 12,
	}
	for in, want := range cases {
		got, err := Evaluate(in)
		if err != nil || got != want {
			t.Errorf("Evaluate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1+", "(1", "1/0", "abc", "1 2", "9^9^9^9", strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200), "1.2.3"} {
		if _, err := Evaluate(bad); err == nil {
			t.Errorf("Evaluate(%q): want error", bad)
		}
	}
}

func TestCalculatorAndTimeTools(t *testing.T) {
	t.Parallel()
	out, err := Calculator().Call(context.Background(), json.RawMessage(`{"expression":"6*7"}`))
	if err != nil || out != "42" {
		t.Fatalf("calculator = %q, %v", out, err)
	}
	if _, err := Calculator().Call(context.Background(), json.RawMessage(`{"expression":`)); err == nil {
		t.Fatal("want error for malformed arguments")
	}
	out, err = CurrentTime().Call(context.Background(), json.RawMessage(`{"timezone":"UTC"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.RFC3339, out); err != nil {
		t.Fatalf("current_time returned %q: %v", out, err)
	}
	if _, err := CurrentTime().Call(context.Background(), json.RawMessage(`{"timezone":"Mars/Base"}`)); err == nil {
		t.Fatal("want error for unknown zone")
	}
}

func FuzzEvaluate(f *testing.F) {
	for _, s := range []string{"1+2", "(3*4)^2", "-(-1)", "1/0", "((((", "2^1024"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = Evaluate(s) // must not panic or hang
	})
}
