package main

// `agentgate eval FILE`: runs a YAML suite of evals against the config's
// agents and teams, in-process (a private in-memory database by default)
// or against a running gateway (--url), prints a summary, writes a JUnit
// report (--junit) and exits non-zero when an eval fails.

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/agentgate/agentgate"
	"github.com/agentgate/agentgate/core/eval"
)

// evalSuite is the suite file.
type evalSuite struct {
	Evals []evalCase `yaml:"evals" json:"-"`
}

// evalCase is one eval of a suite: POST /eval-runs' body (EvalRunInput).
type evalCase struct {
	Name                      string                    `yaml:"name" json:"name,omitempty"`
	AgentID                   string                    `yaml:"agent_id" json:"agent_id,omitempty"`
	TeamID                    string                    `yaml:"team_id" json:"team_id,omitempty"`
	ModelID                   string                    `yaml:"model_id" json:"model_id,omitempty"`
	ModelProvider             string                    `yaml:"model_provider" json:"model_provider,omitempty"`
	EvalType                  string                    `yaml:"eval_type" json:"eval_type"`
	Input                     string                    `yaml:"input" json:"input"`
	AdditionalGuidelines      string                    `yaml:"additional_guidelines" json:"additional_guidelines,omitempty"`
	AdditionalContext         string                    `yaml:"additional_context" json:"additional_context,omitempty"`
	NumIterations             *int                      `yaml:"num_iterations" json:"num_iterations,omitempty"`
	ExpectedOutput            string                    `yaml:"expected_output" json:"expected_output,omitempty"`
	Criteria                  string                    `yaml:"criteria" json:"criteria,omitempty"`
	ScoringStrategy           string                    `yaml:"scoring_strategy" json:"scoring_strategy,omitempty"`
	Threshold                 *int                      `yaml:"threshold" json:"threshold,omitempty"`
	WarmupRuns                *int                      `yaml:"warmup_runs" json:"warmup_runs,omitempty"`
	ExpectedToolCalls         []string                  `yaml:"expected_tool_calls" json:"expected_tool_calls,omitempty"`
	AllowAdditionalToolCalls  bool                      `yaml:"allow_additional_tool_calls" json:"allow_additional_tool_calls,omitempty"`
	ExpectedToolCallArguments map[string]map[string]any `yaml:"expected_tool_call_arguments" json:"expected_tool_call_arguments,omitempty"`
}

func (c evalCase) input() eval.Input {
	return eval.Input{AgentID: c.AgentID, TeamID: c.TeamID, ModelID: c.ModelID, ModelProvider: c.ModelProvider, EvalType: c.EvalType,
		Input: c.Input, AdditionalGuidelines: c.AdditionalGuidelines, AdditionalContext: c.AdditionalContext, NumIterations: c.NumIterations,
		Name: c.Name, ExpectedOutput: c.ExpectedOutput, Criteria: c.Criteria, ScoringStrategy: c.ScoringStrategy, Threshold: c.Threshold,
		WarmupRuns: c.WarmupRuns, ExpectedToolCalls: c.ExpectedToolCalls, AllowAdditionalToolCalls: c.AllowAdditionalToolCalls,
		ExpectedToolCallArguments: c.ExpectedToolCallArguments}
}

// label names the case in the report: its name, else its index, type and
// target.
func (c evalCase) label(i int) string {
	if c.Name != "" {
		return c.Name
	}
	target := c.AgentID
	if c.TeamID != "" {
		target = "team " + c.TeamID
	}
	return fmt.Sprintf("#%d %s %s", i+1, c.EvalType, target)
}

// evalOutcome is one eval's result, from either runner.
type evalOutcome struct {
	ID       string
	Status   string // completed | failed | error (could not start)
	Passed   bool
	Error    string
	Data     map[string]any
	Duration time.Duration
}

// loadSuite reads and checks a suite file (unknown keys are errors).
func loadSuite(path string) (*evalSuite, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s evalSuite
	if err := yaml.UnmarshalWithOptions(b, &s, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
		return nil, fmt.Errorf("%s: %s", path, yaml.FormatError(err, false, true))
	}
	if len(s.Evals) == 0 {
		return nil, fmt.Errorf("%s: no evals (give a list under evals:)", path)
	}
	return &s, nil
}

func evalCmd() *cobra.Command {
	var cfgFile, base, token, junit, database string
	cmd := &cobra.Command{
		Use:   "eval FILE",
		Short: "Run a YAML suite of evals against the config's agents (exit status 1 when one fails)",
		Long: "Runs each eval of FILE (a list under evals:, each POST /eval-runs' body: agent_id or team_id, eval_type, input, ...)\n" +
			"in-process against the agents of --config (on a private in-memory database unless --database is given), or\n" +
			"against a running gateway with --url. Prints one line per eval and a summary; --junit writes a JUnit XML report.\n" +
			"The exit status is 1 when an eval fails or cannot run.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			suite, err := loadSuite(args[0])
			if err != nil {
				return err
			}
			ctx, stop := runContext(cmd)
			defer stop()
			var run func(ctx context.Context, c evalCase) evalOutcome
			if base != "" {
				api := newAPIClient(base, token, "evals")
				api.http.Timeout = 0 // a synchronous eval takes as long as its runs
				run = func(ctx context.Context, c evalCase) evalOutcome { return remoteEval(ctx, api, c) }
			} else {
				cfg, err := agentgate.LoadConfig(configPath(cfgFile))
				if err != nil {
					return err
				}
				cfg.DatabaseURL = database
				if cfg.DatabaseURL == "" {
					cfg.DatabaseURL = "sqlite://:memory:"
				}
				logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
				g, err := agentgate.New(ctx, cfg, agentgate.Options{Logger: logger})
				if err != nil {
					return err
				}
				defer func() {
					sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					_ = g.Shutdown(sctx)
				}()
				svc := g.Evals()
				if svc == nil {
					return errors.New("evals are off in this config (evals.enabled: false)")
				}
				run = func(ctx context.Context, c evalCase) evalOutcome { return localEval(ctx, svc, c) }
			}
			return runSuite(ctx, cmd.OutOrStdout(), suite, run, junit)
		},
	}
	cmd.Flags().StringVar(&cfgFile, "config", "", "config file of the agents (default: $AGENTGATE_CONFIG, else the embedded demo)")
	cmd.Flags().StringVar(&database, "database", "", "state database for the in-process run (default: a private in-memory SQLite)")
	cmd.Flags().StringVar(&base, "url", "", "run the suite against this gateway (POST /eval-runs) instead of in-process")
	cmd.Flags().StringVar(&token, "token", "", "bearer token for --url (default: $AGENTGATE_TOKEN)")
	cmd.Flags().StringVar(&junit, "junit", "", "write a JUnit XML report to this file")
	return cmd
}

// localEval runs c on the in-process gateway's evals service.
func localEval(ctx context.Context, svc *eval.Service, c evalCase) evalOutcome {
	start := time.Now()
	e, err := svc.Start(ctx, eval.Scope{}, c.input(), false)
	if err != nil {
		return evalOutcome{Status: "error", Error: err.Error(), Duration: time.Since(start)}
	}
	return outcomeOf(e.ID, e.Status, e.Passed, e.Error, e.EvalData, time.Since(start))
}

func outcomeOf(id, status string, passed *bool, errMsg string, data map[string]any, d time.Duration) evalOutcome {
	o := evalOutcome{ID: id, Status: status, Error: errMsg, Data: data, Duration: d}
	if status == eval.StatusRunning {
		o.Status, o.Error = "error", "interrupted before it ended"
	}
	o.Passed = o.Status == eval.StatusCompleted && passed != nil && *passed
	return o
}

// remoteEval runs c on a gateway: POST /eval-runs, and polls while it is
// still running (a long eval outlives the request).
func remoteEval(ctx context.Context, api *apiClient, c evalCase) evalOutcome {
	start := time.Now()
	fail := func(err error) evalOutcome {
		return evalOutcome{Status: "error", Error: err.Error(), Duration: time.Since(start)}
	}
	var e struct {
		ID       string         `json:"id"`
		Status   string         `json:"status"`
		Passed   *bool          `json:"passed"`
		Error    *string        `json:"error"`
		EvalData map[string]any `json:"eval_data"`
	}
	if _, err := api.do(ctx, http.MethodPost, "/eval-runs", c, &e); err != nil {
		return fail(err)
	}
	for e.Status == eval.StatusRunning {
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
		if _, err := api.do(ctx, http.MethodGet, "/eval-runs/"+e.ID, nil, &e); err != nil {
			return fail(err)
		}
	}
	msg := ""
	if e.Error != nil {
		msg = *e.Error
	}
	return outcomeOf(e.ID, e.Status, e.Passed, msg, e.EvalData, time.Since(start))
}

// summaryOf is a one-line account of an eval's figures.
func summaryOf(evalType string, d map[string]any) string {
	num := func(k string) string {
		if f, ok := d[k].(float64); ok {
			return fmt.Sprintf("%.2f", f)
		}
		return "-"
	}
	switch evalType {
	case eval.TypeAccuracy:
		return fmt.Sprintf("avg_score %s, min %s, max %s (threshold %v)", num("avg_score"), num("min_score"), num("max_score"), d["threshold"])
	case eval.TypeAgentAsJudge:
		s := fmt.Sprintf("pass_rate %s%%", num("pass_rate"))
		if d["avg_score"] != nil {
			s += fmt.Sprintf(", avg_score %s (threshold %v)", num("avg_score"), d["threshold"])
		}
		return s
	case eval.TypePerformance:
		ms := func(k string) string {
			if f, ok := d[k].(float64); ok {
				return fmt.Sprintf("%.1fms", f*1000)
			}
			return "-"
		}
		return fmt.Sprintf("avg %s, p95 %s, max %s, %s MiB, %s allocations a run", ms("avg_run_time"), ms("p95_run_time"),
			ms("max_run_time"), num("avg_memory_usage"), num("avg_allocations"))
	case eval.TypeReliability:
		s := fmt.Sprintf("%v, passed %v, failed %v", d["eval_status"], d["passed_tool_calls"], d["failed_tool_calls"])
		if r, ok := d["reasons"].([]any); ok && len(r) > 0 {
			s += fmt.Sprintf(": %v", r)
		}
		return s
	}
	return ""
}

// runSuite runs every case in order, prints a line each and the summary,
// writes the JUnit report and fails when one did not pass.
func runSuite(ctx context.Context, out io.Writer, s *evalSuite, run func(context.Context, evalCase) evalOutcome, junit string) error {
	var (
		outcomes []evalOutcome
		failed   int
		errored  int
		start    = time.Now()
	)
	for i, c := range s.Evals {
		o := run(ctx, c)
		outcomes = append(outcomes, o)
		verdict, detail := "PASS", summaryOf(c.EvalType, o.Data)
		switch {
		case o.Status != eval.StatusCompleted:
			verdict, detail = "ERROR", o.Error
			errored++
		case !o.Passed:
			verdict = "FAIL"
			failed++
		}
		fmt.Fprintf(out, "%-5s %s (%s) %.2fs: %s\n", verdict, c.label(i), c.EvalType, o.Duration.Seconds(), detail)
	}
	passed := len(s.Evals) - failed - errored
	fmt.Fprintf(out, "\n%d evals: %d passed, %d failed, %d errors (%.2fs)\n", len(s.Evals), passed, failed, errored, time.Since(start).Seconds())
	if junit != "" {
		if err := writeJUnit(junit, s, outcomes, time.Since(start)); err != nil {
			return fmt.Errorf("write the JUnit report: %w", err)
		}
	}
	if failed+errored > 0 {
		return fmt.Errorf("%d of %d evals did not pass", failed+errored, len(s.Evals))
	}
	return nil
}

// The JUnit XML report (the schema CI systems read).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func writeJUnit(path string, s *evalSuite, outcomes []evalOutcome, total time.Duration) error {
	suite := junitSuite{Name: "agentgate eval", Tests: len(outcomes), Time: fmt.Sprintf("%.3f", total.Seconds())}
	for i, o := range outcomes {
		c := s.Evals[i]
		data, _ := json.MarshalIndent(o.Data, "", "  ")
		tc := junitCase{Name: c.label(i), ClassName: "eval." + c.EvalType, Time: fmt.Sprintf("%.3f", o.Duration.Seconds())}
		if o.ID != "" {
			tc.SystemOut = "eval_run_id: " + o.ID + "\n" + string(data)
		}
		switch {
		case o.Status != eval.StatusCompleted:
			tc.Error = &junitProblem{Message: o.Error, Type: "eval_" + o.Status, Text: o.Error}
			suite.Errors++
		case !o.Passed:
			msg := summaryOf(c.EvalType, o.Data)
			tc.Failure = &junitProblem{Message: msg, Type: "eval_failed", Text: msg}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, tc)
	}
	doc := junitSuites{Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Time: suite.Time, Suites: []junitSuite{suite}}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}
