package schedule

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/agentgate/agentgate/core"
)

// Input is a schedule as a client writes it: every field optional (a
// creation fills in the defaults, an update keeps what it does not name).
type Input struct {
	Name              *string
	Description       *string
	Method            *string
	Endpoint          *string
	Payload           *map[string]any
	CronExpr          *string
	Timezone          *string
	TimeoutSeconds    *int
	MaxRetries        *int
	RetryDelaySeconds *int
	Target            *Target
	CatchUp           *string
	// Allowed, when set, vets the target the input ends up naming (the
	// caller may run it); its error is returned as it is.
	Allowed func(Target) error
}

// Defaults and bounds (AgentOS's).
const (
	DefaultTimeoutSeconds    = 3600
	DefaultRetryDelaySeconds = 60
	maxNameLen               = 255
	maxDescriptionLen        = 1024
	maxCronLen               = 128
	maxTimezoneLen           = 64
	maxEndpointLen           = 512
)

// namePattern is AgentOS's schedule name rule.
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9 ._-]*$`)

// runEndpoint is AgentOS's run endpoint of an agent, team or workflow.
var runEndpoint = regexp.MustCompile(`^/(agents|teams|workflows)/([^/?#]+)/runs/?$`)

func unprocessable(format string, args ...any) error {
	return core.Errorf(core.CodeUnprocessable, format, args...)
}

// apply writes in onto s (a creation's defaults or the stored schedule)
// and validates the result: every error is a 422 naming its field. exists
// checks that a target exists.
func (in Input) apply(s *Schedule, exists func(Target) error) error {
	if in.Name != nil {
		s.Name = *in.Name
	}
	if in.Description != nil {
		s.Description = *in.Description
	}
	if in.Payload != nil {
		s.Payload = *in.Payload
	}
	if in.CronExpr != nil {
		s.CronExpr = strings.TrimSpace(*in.CronExpr)
	}
	if in.Timezone != nil {
		s.Timezone = *in.Timezone
	}
	if in.TimeoutSeconds != nil {
		s.TimeoutSeconds = *in.TimeoutSeconds
	}
	if in.MaxRetries != nil {
		s.MaxRetries = *in.MaxRetries
	}
	if in.RetryDelaySeconds != nil {
		s.RetryDelaySeconds = *in.RetryDelaySeconds
	}
	if in.CatchUp != nil {
		s.CatchUp = *in.CatchUp
	}
	if err := in.applyTarget(s); err != nil {
		return err
	}
	switch {
	case s.Name == "":
		return unprocessable("name: is required")
	case utf8.RuneCountInString(s.Name) > maxNameLen:
		return unprocessable("name: at most %d characters", maxNameLen)
	case !namePattern.MatchString(s.Name):
		return unprocessable("name: must start with a letter or digit and contain only letters, digits, spaces, '.', '_' and '-'")
	case utf8.RuneCountInString(s.Description) > maxDescriptionLen:
		return unprocessable("description: at most %d characters", maxDescriptionLen)
	case len(s.CronExpr) > maxCronLen:
		return unprocessable("cron_expr: at most %d characters", maxCronLen)
	case len(s.Timezone) > maxTimezoneLen:
		return unprocessable("timezone: at most %d characters", maxTimezoneLen)
	case s.TimeoutSeconds < 1 || s.TimeoutSeconds > 86400:
		return unprocessable("timeout_seconds: must be between 1 and 86400")
	case s.MaxRetries < 0 || s.MaxRetries > 10:
		return unprocessable("max_retries: must be between 0 and 10")
	case s.RetryDelaySeconds < 1 || s.RetryDelaySeconds > 3600:
		return unprocessable("retry_delay_seconds: must be between 1 and 3600")
	case s.CatchUp != CatchUpOnce && s.CatchUp != CatchUpNone:
		return unprocessable("catch_up: must be %q or %q", CatchUpOnce, CatchUpNone)
	}
	if _, err := parseSpec(s.CronExpr, s.Timezone); err != nil {
		return err
	}
	if s.Timezone == "" {
		s.Timezone = "UTC"
	}
	if msg, ok := s.Payload["message"].(string); !ok || strings.TrimSpace(msg) == "" {
		return unprocessable("payload.message: the run's message (a non-empty string) is required")
	}
	if sid, ok := s.Payload["session_id"]; ok && sid != nil {
		str, isStr := sid.(string)
		if !isStr {
			return unprocessable("payload.session_id: must be a string")
		}
		if err := core.CheckID("payload.session_id", str); err != nil {
			return unprocessable("%s", core.MessageOf(err))
		}
	}
	if err := exists(s.Target); err != nil {
		return err
	}
	if in.Allowed != nil {
		return in.Allowed(s.Target)
	}
	return nil
}

// applyTarget sets s's target from in's target or from AgentOS's endpoint
// and method, which must then name a run endpoint (POST). Endpoint and
// Method always describe the target.
func (in Input) applyTarget(s *Schedule) error {
	method := ""
	if in.Method != nil {
		method = strings.ToUpper(strings.TrimSpace(*in.Method))
	}
	switch {
	case in.Target != nil:
		t := *in.Target
		t.Kind = core.Kind(strings.ToLower(string(t.Kind)))
		if !t.Kind.Valid() {
			return unprocessable("target.kind: must be agent, team or workflow")
		}
		if strings.TrimSpace(t.ID) == "" {
			return unprocessable("target.id: is required")
		}
		if in.Endpoint != nil && *in.Endpoint != t.Endpoint() {
			return unprocessable("endpoint: %q does not match target %s (give one of them)", *in.Endpoint, t.Ref())
		}
		s.Target = t
	case in.Endpoint != nil:
		ep := *in.Endpoint
		if len(ep) > maxEndpointLen {
			return unprocessable("endpoint: at most %d characters", maxEndpointLen)
		}
		m := runEndpoint.FindStringSubmatch(ep)
		if m == nil {
			return unprocessable("endpoint: %q is not a run endpoint: a schedule here runs an agent, team or workflow "+
				"(/agents/{id}/runs, /teams/{id}/runs, /workflows/{id}/runs) or names it as target", ep)
		}
		s.Target = Target{Kind: core.Kind(strings.TrimSuffix(m[1], "s")), ID: m[2]}
	case s.Target.ID == "":
		return unprocessable("target: is required (or AgentOS's endpoint, e.g. /agents/{id}/runs)")
	}
	if method == "" {
		method = "POST"
	}
	if method != "POST" {
		return unprocessable("method: a run endpoint is called with POST, not %s", method)
	}
	s.Method, s.Endpoint = "POST", s.Target.Endpoint()
	return nil
}
