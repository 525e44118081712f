package agentgate

import (
	"maps"
	"slices"
	"strings"
)

// EnvWarning is an AGENTGATE_* environment variable that nothing reads (a
// typo is otherwise silently ignored), with the known name closest to it.
type EnvWarning struct {
	Name    string
	Closest string
}

// EnvWarnings returns the AGENTGATE_* variables that LoadConfig found set
// but that nothing reads (New logs them as warnings).
func (c *Config) EnvWarnings() []EnvWarning { return c.envWarnings }

// UnsetEnvRefs returns the environment variables the config file
// references as ${NAME} that were not set (they expanded to ""), so an
// error about an empty setting can be traced to the variable.
func (c *Config) UnsetEnvRefs() []string { return c.unsetRefs }

// envOutsideConfig are the AGENTGATE_* variables read by the CLI and the
// tests rather than by a Config field.
var envOutsideConfig = []string{"AGENTGATE_CONFIG", "AGENTGATE_TOKEN", "AGENTGATE_E2E_RACE"}

// slackAppSecrets are the suffixes of AGENTGATE_SLACK_APPS_<NAME>_*.
var slackAppSecrets = []string{"_SIGNING_SECRET", "_BOT_TOKEN", "_APP_TOKEN"}

// EnvNames returns every AGENTGATE_* variable a Config field reads: the
// names ApplyEnv looks up.
func EnvNames() []string {
	var names []string
	_ = (&Config{}).ApplyEnv(func(name string) (string, bool) {
		names = append(names, name)
		return "", false
	})
	return names
}

// unknownEnv returns a warning for each AGENTGATE_* variable of environ
// ("NAME=value" entries) that neither a setting, the CLI, a Slack app's
// secrets nor a ${NAME} reference of the config file (refs) reads.
func unknownEnv(environ []string, refs map[string]bool) []EnvWarning {
	known := map[string]bool{}
	for _, n := range append(EnvNames(), envOutsideConfig...) {
		known[n] = true
	}
	var out []EnvWarning
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "AGENTGATE_") || known[name] || refs[name] || slackAppSecret(name) {
			continue
		}
		out = append(out, EnvWarning{Name: name, Closest: closest(name, slices.Sorted(maps.Keys(known)))})
	}
	return out
}

func slackAppSecret(name string) bool {
	rest, ok := strings.CutPrefix(name, "AGENTGATE_SLACK_APPS_")
	if !ok {
		return false
	}
	for _, s := range slackAppSecrets {
		if app, ok := strings.CutSuffix(rest, s); ok && app != "" {
			return true
		}
	}
	return false
}

// closest returns the candidate at the least edit distance from s (the
// first in order on a tie).
func closest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if d := editDistance(s, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
