package core

import "context"

// RunStore is the state of the run domain: sessions, runs (in their own
// table), the approvals that gate them and the idempotency keys that
// create runs. They are one store
// because they change together, in one transaction: a run is created with
// its session and its key, and deleting a session deletes its runs. Every
// other resource group declares its own small store in its own package
// (service accounts: auth.ServiceAccountStore).
// Implementations: storage/sqlite, storage/postgres; both pass
// storage/storetest. All methods are safe for concurrent use.
//
// Errors: a missing row is ErrNotFound (wrapped); a duplicate id on create
// is ErrConflict; a failed compare-and-set in UpdateRun is ErrConflict.
type RunStore interface {
	// Approvals change with the runs they gate: every run write
	// (CreateRun, CreateRunInSession, CreateRunWithKey, UpdateRun) also
	// inserts the run's NewApprovals in its transaction; both or neither
	// are stored (a duplicate approval id is ErrConflict and leaves the run
	// as it was).
	ApprovalStore

	// CreateSession inserts s. CreatedAt/UpdatedAt are set by the caller.
	CreateSession(ctx context.Context, s *Session) error
	// GetSession returns the session with id.
	GetSession(ctx context.Context, id string) (*Session, error)
	// ListSessions returns one page of sessions and the total count of
	// sessions that match the filter.
	ListSessions(ctx context.Context, p ListSessionsParams) ([]*Session, int, error)
	// UpdateSession applies the non-nil fields of p to the session
	// (UpdatedAt 0 leaves updated_at as it is).
	UpdateSession(ctx context.Context, p UpdateSessionParams) (*Session, error)
	// DeleteSessions deletes the sessions and their runs. Missing ids are
	// ignored; the number of sessions deleted is returned.
	DeleteSessions(ctx context.Context, ids []string) (int, error)

	// CreateRun inserts r (with its Paused state, if any).
	CreateRun(ctx context.Context, r *Run) error
	// CreateRunInSession inserts s unless a session with its id exists,
	// and r (whose SessionID must be s's), atomically. It reports whether
	// the session was created. A duplicate run id is ErrConflict and
	// creates nothing.
	CreateRunInSession(ctx context.Context, s *Session, r *Run) (bool, error)
	// GetRun returns the run with id, including its Paused state.
	GetRun(ctx context.Context, id string) (*Run, error)
	// UpdateRun replaces the stored run r.RunID with r. If p.IfStatus is
	// not empty the update happens only when the stored status is one of
	// them; otherwise it returns ErrConflict and changes nothing. A stored
	// cancel intent is sticky: UpdateRun never clears cancel_requested.
	UpdateRun(ctx context.Context, r *Run, p UpdateRunParams) error
	// RenewLease extends the lease of a RUNNING run held by p.Owner to
	// p.Until. It is ErrConflict when the run is not RUNNING or another
	// owner holds it, ErrNotFound when there is no such run.
	RenewLease(ctx context.Context, p LeaseParams) error
	// ListExpiredLeases returns up to limit (<= 0: 100) PENDING or RUNNING
	// runs whose lease ended before now (Unix milliseconds), oldest lease
	// first. Runs without a lease (LeaseUntil 0) are not listed. A PENDING
	// run's lease bounds how long it may wait for the queue to start it.
	ListExpiredLeases(ctx context.Context, now int64, limit int) ([]*Run, error)
	// SetCancelRequested records the intent to cancel the run and returns
	// the run as stored after that.
	SetCancelRequested(ctx context.Context, id string) (*Run, error)
	// ListRuns returns runs matching the filter, oldest first.
	ListRuns(ctx context.Context, p ListRunsParams) ([]*Run, error)

	// CreateRunWithKey is CreateRunInSession under an idempotency key, in
	// one transaction: unless the store holds p.Key's key in its scope,
	// created at or after p.ExpiredBefore, it stores the key (replacing an
	// expired one), p.Session unless it exists, and p.Run, and returns a
	// nil key and whether the session was created. Otherwise it creates
	// nothing and returns the key as stored. Concurrent calls with one key
	// (on any replica) create one run.
	CreateRunWithKey(ctx context.Context, p CreateRunWithKeyParams) (existing *IdempotencyKey, sessionCreated bool, err error)
	// DeleteExpiredKeys deletes up to limit (<= 0: 1000) idempotency keys
	// created before before (Unix milliseconds) and returns how many.
	DeleteExpiredKeys(ctx context.Context, before int64, limit int) (int, error)

	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// SortOrder is asc or desc.
type SortOrder string

const (
	SortAsc  SortOrder = "asc"
	SortDesc SortOrder = "desc"
)

// ListSessionsParams filters and pages ListSessions. Page is 1-based;
// Limit <= 0 means no limit.
type ListSessionsParams struct {
	Type        SessionType // empty: any
	ComponentID string      // agent/team/workflow id; empty: any
	UserID      string
	NameLike    string // case-insensitive substring of session_name
	// SessionIDs, when not nil, restricts the list to these sessions (an
	// empty, non-nil slice matches none): a caller with per-session scopes
	// pages through only what it may see.
	SessionIDs []string
	SortBy     string // created_at (default) | updated_at | session_name
	SortOrder  SortOrder
	Limit      int
	Page       int
}

// Sort validates SortBy and SortOrder and returns the sort key (created_at
// when empty) and whether the order is ascending (desc when empty). Every
// RunStore and the Engine use it, so they agree on what is valid.
func (p ListSessionsParams) Sort() (by string, asc bool, err error) {
	switch p.SortBy {
	case "", "created_at":
		by = "created_at"
	case "updated_at", "session_name":
		by = p.SortBy
	default:
		return "", false, Errorf(CodeInvalid, "sort_by %q: must be created_at, updated_at or session_name", p.SortBy)
	}
	switch p.SortOrder {
	case "", SortDesc:
	case SortAsc:
		asc = true
	default:
		return "", false, Errorf(CodeInvalid, "sort_order %q: must be asc or desc", p.SortOrder)
	}
	return by, asc, nil
}

// UpdateSessionParams carries the fields to change; nil means unchanged.
type UpdateSessionParams struct {
	SessionID    string
	SessionName  *string
	SessionState map[string]any
	Metadata     map[string]any
	Summary      *string
	UpdatedAt    int64
}

// UpdateRunParams makes UpdateRun a compare-and-set.
type UpdateRunParams struct {
	// IfStatus: update only a run whose stored status is one of these.
	IfStatus []RunStatus
	// IfLeaseExpiredBefore (Unix milliseconds), when not 0: update only a
	// run whose stored lease ends before it (a reaper or a retry taking
	// over a run whose executor vanished).
	IfLeaseExpiredBefore int64
	// IfLeaseOwner, when not empty: update only a run whose stored lease
	// owner is this one (an executor finishing a run nobody took over).
	IfLeaseOwner string
}

// LeaseParams renews a run's lease.
type LeaseParams struct {
	RunID string
	Owner string
	Until int64 // Unix milliseconds
}

// ListRunsParams filters ListRuns; empty fields match anything.
type ListRunsParams struct {
	SessionID string
	AgentID   string
	UserID    string
	Status    RunStatus
	// TeamID and WorkflowID match the runs of that team or workflow.
	TeamID     string
	WorkflowID string
	// ParentRunID matches the child runs of that run (team members,
	// workflow steps); TopLevel matches only runs that have no parent.
	ParentRunID   string
	TopLevel      bool
	CreatedAfter  int64 // Unix seconds, inclusive; 0: no bound
	CreatedBefore int64 // Unix seconds, inclusive; 0: no bound
	Limit         int   // <= 0: no limit
}

// For sets the id field of ref's kind (AgentID, TeamID or WorkflowID) and
// returns p: the runs of that runnable.
func (p ListRunsParams) For(ref Ref) ListRunsParams {
	p.AgentID, p.TeamID, p.WorkflowID = ref.ids()
	return p
}

// IdempotencyKey is a client's idempotency key as stored: the run the
// first request with it created, and a fingerprint of that request, so a
// retry gets the same run and another request with the key is refused.
type IdempotencyKey struct {
	// Scope is whose keys this one is among: the caller and the agent
	// (see Engine); Key is unique within it.
	Scope string
	Key   string
	// Fingerprint is a hash of the normalized request.
	Fingerprint string
	RunID       string
	CreatedAt   int64 // Unix milliseconds
}

// CreateRunWithKeyParams creates a run under an idempotency key.
type CreateRunWithKeyParams struct {
	Key     IdempotencyKey // Key.RunID is Run.RunID
	Session *Session       // created unless it exists; Session.SessionID is Run.SessionID
	Run     *Run
	// ExpiredBefore (Unix milliseconds): a stored key created before it
	// has expired, and is replaced as if it were not there.
	ExpiredBefore int64
}
