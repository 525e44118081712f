package e2e

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `agentgate eval FILE` through the binary: in-process on the config's
// agents and against a running gateway (--url): one line per eval, the
// summary, exit status 1 when one fails or cannot run (0 when all pass),
// and the JUnit XML report.

const evalSuiteMixed = `
evals:
  - name: capital
    agent_id: geo
    eval_type: accuracy
    input: What is the capital of France?
    expected_output: Paris
    model_id: judge
    num_iterations: 2
  - name: clock uses the clock
    agent_id: clock
    eval_type: reliability
    input: compute 6*7
    expected_tool_calls: [current_time]
  - name: speed
    agent_id: geo
    eval_type: performance
    input: France
    num_iterations: 3
    warmup_runs: 1
  - name: broken judge
    agent_id: geo
    eval_type: accuracy
    input: France
    expected_output: Paris
    model_id: broken
  - name: nobody
    agent_id: nobody
    eval_type: performance
    input: x
`

const evalSuitePassing = `
evals:
  - name: polite
    team_id: geo-team
    eval_type: agent_as_judge
    input: What is the capital of France?
    criteria: Names the city
    scoring_strategy: binary
    model_id: judge
  - name: clock
    agent_id: clock
    eval_type: reliability
    input: what time is it
    expected_tool_calls: [current_time]
`

type junitDoc struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Suites   []struct {
		Name  string `xml:"name,attr"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			ClassName string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// runEvalCLI runs `agentgate eval` with args in dir and returns its
// output and exit status.
func runEvalCLI(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"eval"}, args...)...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		switch {
		case err == nil:
			return out.String(), 0
		case errors.As(err, &ee):
			return out.String(), ee.ExitCode()
		}
		t.Fatalf("agentgate eval: %v\n%s", err, out.String())
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("agentgate eval did not end in 60s:\n%s", out.String())
	}
	return "", -1
}

func TestEvalCLI(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, dir string, target ...string) {
		mixed := writeFile(t, dir, "mixed.yaml", evalSuiteMixed)
		report := filepath.Join(dir, "report.xml")
		out, code := runEvalCLI(t, dir, append([]string{mixed, "--junit", report}, target...)...)
		if code != 1 {
			t.Fatalf("exit status %d, want 1 (an eval failed):\n%s", code, out)
		}
		for _, line := range []string{"PASS  capital (accuracy)", "avg_score 9.00", "FAIL  clock uses the clock (reliability)",
			"current_time was expected but not called", "PASS  speed (performance)", "ERROR broken judge (accuracy)", "the judge is down",
			"ERROR nobody (performance)", `unknown agent "nobody"`, "5 evals: 2 passed, 1 failed, 2 errors", "3 of 5 evals did not pass"} {
			if !strings.Contains(out, line) {
				t.Errorf("output lacks %q:\n%s", line, out)
			}
		}
		b, err := os.ReadFile(report)
		if err != nil {
			t.Fatalf("JUnit report: %v\n%s", err, out)
		}
		var doc junitDoc
		if err := xml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("JUnit report is not XML: %v\n%s", err, b)
		}
		if doc.Tests != 5 || doc.Failures != 1 || doc.Errors != 2 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 5 {
			t.Fatalf("JUnit report: %+v\n%s", doc, b)
		}
		cs := doc.Suites[0].Cases
		if cs[0].Name != "capital" || cs[0].ClassName != "eval.accuracy" || cs[0].Failure != nil || cs[0].Error != nil ||
			!strings.Contains(cs[0].SystemOut, "eval_run_id: ") || !strings.Contains(cs[0].SystemOut, `"avg_score": 9`) {
			t.Errorf("case 0 = %+v", cs[0])
		}
		if cs[1].Failure == nil || !strings.Contains(cs[1].Failure.Message, "FAILED") || cs[1].Error != nil {
			t.Errorf("case 1 (failing reliability) = %+v", cs[1])
		}
		if cs[2].Failure != nil || cs[2].Error != nil || !strings.Contains(cs[2].SystemOut, "p95_run_time") {
			t.Errorf("case 2 (performance) = %+v", cs[2])
		}
		if cs[3].Error == nil || !strings.Contains(cs[3].Error.Message, "the judge is down") {
			t.Errorf("case 3 (broken judge) = %+v", cs[3])
		}
		if cs[4].Error == nil || !strings.Contains(cs[4].Error.Message, "unknown agent") {
			t.Errorf("case 4 (unknown agent) = %+v", cs[4])
		}

		passing := writeFile(t, dir, "passing.yaml", evalSuitePassing)
		out, code = runEvalCLI(t, dir, append([]string{passing}, target...)...)
		if code != 0 || !strings.Contains(out, "2 evals: 2 passed, 0 failed, 0 errors") {
			t.Errorf("passing suite: exit %d, want 0:\n%s", code, out)
		}
	}
	t.Run("in-process", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cfg := writeFile(t, dir, "agentgate.yaml", evalsConfig)
		check(t, dir, "--config", cfg)
		if _, err := os.Stat(filepath.Join(dir, "agentgate.db")); err == nil {
			t.Errorf("the in-process run wrote agentgate.db (it must use a private in-memory database)")
		}
	})
	t.Run("url", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, evalsConfig)
		check(t, t.TempDir(), "--url", g.URL)
	})
	t.Run("bad suite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		for name, c := range map[string]struct{ suite, want string }{
			"unknown key": {"evals:\n  - agent_id: geo\n    eval_tipe: accuracy\n", "eval_tipe"},
			"empty":       {"evals: []\n", "no evals"},
		} {
			out, code := runEvalCLI(t, dir, writeFile(t, dir, "s.yaml", c.suite))
			if code == 0 || !strings.Contains(out, c.want) {
				t.Errorf("%s: exit %d, output %q; want failure naming %q", name, code, out, c.want)
			}
		}
		if out, code := runEvalCLI(t, dir, filepath.Join(dir, "missing.yaml")); code == 0 || !strings.Contains(out, "missing.yaml") {
			t.Errorf("missing file: exit %d: %s", code, out)
		}
	})
}
