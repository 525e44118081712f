package agentgate

import (
	"fmt"
	"time"

	"github.com/agentgate/agentgate/core"
)

// ApprovalsConfig is the gateway-wide approval policy (`approvals:`): what
// every approval: required tool call gets unless its tool says otherwise.
type ApprovalsConfig struct {
	// AutoContinue continues every approval's run by itself once it is
	// resolved (a tool can ask for it alone with auto_continue).
	AutoContinue bool `yaml:"auto_continue"`
	// ExpiresIn expires an approval left unresolved that long (0: never;
	// a tool's expires_in, when shorter, wins).
	ExpiresIn time.Duration `yaml:"expires_in"`
	// OnExpiry is what an expired approval does to its run: cancel
	// (default; RunCancelled with reason approval_expired) or keep_paused.
	OnExpiry string `yaml:"on_expiry"`
	// SweepInterval is how often the job that expires approvals (and
	// continues auto_continue runs a replica could not) runs, once across
	// replicas. Default 5s.
	SweepInterval time.Duration `yaml:"sweep_interval"`
	// Webhook, when its url is set, is told of every approval created and
	// resolved (see ApprovalWebhookConfig).
	Webhook ApprovalWebhookConfig `yaml:"webhook"`
}

// DefaultApprovalSweepInterval is the default of approvals.sweep_interval.
const DefaultApprovalSweepInterval = 5 * time.Second

// Validate reports invalid settings.
func (c ApprovalsConfig) Validate() error {
	switch c.OnExpiry {
	case "", core.OnExpiryCancel, core.OnExpiryKeepPaused:
	default:
		return fmt.Errorf("approvals.on_expiry %q: must be cancel or keep_paused", c.OnExpiry)
	}
	if c.ExpiresIn < 0 || c.ExpiresIn > 0 && c.ExpiresIn < time.Second {
		return fmt.Errorf("approvals.expires_in %v: must be 0 (never) or at least 1s", c.ExpiresIn)
	}
	if c.SweepInterval < 0 {
		return fmt.Errorf("approvals.sweep_interval %v: must not be negative", c.SweepInterval)
	}
	return nil
}

// settings are the engine's approval settings.
func (c ApprovalsConfig) settings() core.ApprovalSettings {
	return core.ApprovalSettings{AutoContinue: c.AutoContinue, ExpiresIn: c.ExpiresIn, OnExpiry: c.OnExpiry}
}
