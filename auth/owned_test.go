package auth

import (
	"context"
	"slices"
	"testing"

	"github.com/agentgate/agentgate/core"
)

// records is an in-memory Records.
type records struct {
	runs      map[string]*core.Run
	sessions  map[string]*core.Session
	approvals map[string]*core.Approval
}

func (r records) GetApproval(_ context.Context, id string) (*core.Approval, error) {
	if a, ok := r.approvals[id]; ok {
		return a, nil
	}
	return nil, core.Errorf(core.CodeNotFound, "approval %q not found", id)
}

func (r records) Get(_ context.Context, id string) (*core.Run, error) {
	if run, ok := r.runs[id]; ok {
		return run, nil
	}
	return nil, core.Errorf(core.CodeNotFound, "run %q not found", id)
}

func (r records) GetSession(_ context.Context, id string) (*core.Session, error) {
	if s, ok := r.sessions[id]; ok {
		return s, nil
	}
	return nil, core.Errorf(core.CodeNotFound, "session %q not found", id)
}

// TestOwned checks the one owner-scoped accessor: under isolation another
// user's run or session answers exactly as an absent one, lists and new
// records are bound to the caller; without isolation nothing changes; a
// missing principal sees nothing.
func TestOwned(t *testing.T) {
	ctx := context.Background()
	src := records{
		runs:      map[string]*core.Run{"r-alice": {RunID: "r-alice", UserID: "alice"}, "r-bob": {RunID: "r-bob", UserID: "bob"}},
		sessions:  map[string]*core.Session{"s-alice": {SessionID: "s-alice", UserID: "alice"}, "s-bob": {SessionID: "s-bob", UserID: "bob"}},
		approvals: map[string]*core.Approval{"a-alice": {ID: "a-alice", UserID: "alice"}, "a-bob": {ID: "a-bob", UserID: "bob"}},
	}
	alice := &Principal{Kind: KindJWT, Subject: "alice", UserID: "alice", Isolated: true}
	open := &Principal{Kind: KindJWT, Subject: "carol", UserID: "carol"}

	o := alice.Owned(src)
	if run, err := o.Run(ctx, "r-alice"); err != nil || run.RunID != "r-alice" {
		t.Errorf("own run: %v %v", run, err)
	}
	_, foreign := o.Run(ctx, "r-bob")
	_, absent := o.Run(ctx, "r-nope")
	if core.CodeOf(foreign) != core.CodeNotFound || core.MessageOf(foreign) != `run "r-bob" not found` || core.CodeOf(absent) != core.CodeNotFound {
		t.Errorf("foreign run %v, absent run %v: want both not found", foreign, absent)
	}
	if _, err := o.Session(ctx, "s-bob"); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("foreign session: %v", err)
	}
	if err := o.UsableSession(ctx, "s-bob"); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("a run in another user's session: %v", err)
	}
	for _, id := range []string{"", "s-alice", "s-new"} {
		if err := o.UsableSession(ctx, id); err != nil {
			t.Errorf("UsableSession(%q): %v", id, err)
		}
	}
	if a, err := o.Approval(ctx, "a-alice"); err != nil || a.ID != "a-alice" {
		t.Errorf("own approval: %v %v", a, err)
	}
	if _, err := o.Approval(ctx, "a-bob"); core.CodeOf(err) != core.CodeNotFound || core.MessageOf(err) != `approval "a-bob" not found` {
		t.Errorf("foreign approval: %v", err)
	}
	if got := o.UserID("bob"); got != "alice" {
		t.Errorf("isolated UserID(bob) = %q", got)
	}
	if got := o.Sessions(ctx, []string{"s-alice", "s-bob", "s-nope"}); !slices.Equal(got, []string{"s-alice"}) {
		t.Errorf("isolated Sessions = %v", got)
	}

	o = open.Owned(src)
	if _, err := o.Run(ctx, "r-bob"); err != nil {
		t.Errorf("without isolation: %v", err)
	}
	if _, err := o.Approval(ctx, "a-bob"); err != nil {
		t.Errorf("approval without isolation: %v", err)
	}
	if got := o.UserID("bob"); got != "bob" {
		t.Errorf("UserID(bob) without isolation = %q", got)
	}
	if ids := []string{"s-bob", "s-nope"}; !slices.Equal(o.Sessions(ctx, ids), ids) {
		t.Error("Sessions filtered without isolation")
	}

	var none *Principal
	if _, err := none.Owned(src).Run(ctx, "r-alice"); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("no principal: %v", err)
	}
}

// TestContinuing: a continue carries who continues and whether they may
// resolve approvals, from the principal alone.
func TestContinuing(t *testing.T) {
	for _, c := range []struct {
		p       *Principal
		by      string
		approve bool
	}{
		{&Principal{Kind: KindJWT, Subject: "alice", Scopes: []Scope{{Resource: ResourceApprovals, Action: ActionWrite}}}, "alice", true},
		{&Principal{Kind: KindJWT, Subject: "bob", Scopes: []Scope{{Resource: ResourceApprovals, Action: ActionRead}}}, "bob", false},
		{&Principal{Kind: KindAnonymous, Subject: "anonymous", Admin: true}, "anonymous", true},
		{nil, "", false},
	} {
		ctx := context.Background()
		if c.p != nil {
			ctx = WithPrincipal(ctx, c.p)
		}
		got := Continuing(ctx, core.ContinueParams{RunID: "r"})
		if got.RunID != "r" || got.Approver != c.by || got.CanApprove != c.approve {
			t.Errorf("%+v: got approver %q, can approve %v", c.p, got.Approver, got.CanApprove)
		}
	}
}
