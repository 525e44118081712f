package component_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/component"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// checker takes the config file's agent "fixed" and rejects a config
// holding "bad".
type checker struct{ checked int }

func (c *checker) Check(typ, id string, config map[string]any) error {
	c.checked++
	if _, bad := config["bad"]; bad {
		return core.Errorf(core.CodeUnprocessable, "invalid %s config: bad: unknown field", typ)
	}
	return nil
}

func (c *checker) Taken(typ, id string) bool { return typ == component.TypeAgent && id == "fixed" }

type fixture struct {
	svc     *component.Service
	check   *checker
	changed []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{check: &checker{}}
	now := time.Unix(1_750_000_000, 0)
	n := 0
	f.svc = component.New(component.Options{Store: st, Checker: f.check,
		Changed: func(id string) { f.changed = append(f.changed, id) },
		Now:     func() time.Time { n++; return now.Add(time.Duration(n) * time.Second) }})
	return f
}

func wantCode(t *testing.T, err error, code core.ErrorCode, contains string) {
	t.Helper()
	if err == nil || core.CodeOf(err) != code || !strings.Contains(err.Error(), contains) {
		t.Fatalf("err = %v (code %s), want %s containing %q", err, core.CodeOf(err), code, contains)
	}
}

func ptr[T any](v T) *T { return &v }

func cfg(model string) map[string]any { return map[string]any{"model": model} }

func TestCreateValidation(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	cases := []struct {
		in       component.CreateInput
		code     core.ErrorCode
		contains string
	}{
		{component.CreateInput{Type: "agent"}, core.CodeUnprocessable, "name is required"},
		{component.CreateInput{Name: "  ", Type: "agent"}, core.CodeUnprocessable, "name is required"},
		{component.CreateInput{Name: "X", Type: "robot"}, core.CodeUnprocessable, "component_type must be"},
		{component.CreateInput{Name: "X", Type: "agent", ID: "-x"}, core.CodeUnprocessable, "component_id"},
		{component.CreateInput{Name: "X", Type: "agent", ID: "a/b"}, core.CodeUnprocessable, "component_id"},
		{component.CreateInput{Name: strings.Repeat("n", component.MaxField+1), Type: "agent"}, core.CodeUnprocessable, "over the limit"},
		{component.CreateInput{Name: "X", Type: "agent", Stage: "live", Config: cfg("one")}, core.CodeUnprocessable, "stage must be"},
		{component.CreateInput{Name: "X", Type: "agent", Label: "l"}, core.CodeUnprocessable, "give its config"},
		{component.CreateInput{Name: "X", Type: "agent", Config: cfg("one"), SetCurrent: ptr(true)}, core.CodeConflict, "set_current needs a published"},
		{component.CreateInput{Name: "Fixed", Type: "agent", ID: "fixed"}, core.CodeConflict, "may not shadow"},
		{component.CreateInput{Name: "X", Type: "agent", Config: map[string]any{"bad": 1}}, core.CodeUnprocessable, "bad: unknown field"},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			_, _, err := f.svc.Create(ctx, c.in)
			wantCode(t, err, c.code, c.contains)
		})
	}
	if cs, total, err := f.svc.List(ctx, component.Filter{}); err != nil || total != 0 || len(cs) != 0 {
		t.Fatalf("a refused create stored something: %v %d %v", cs, total, err)
	}
	// A team or workflow may take the id of the config file's agent: only
	// the same (type, id) is shadowing.
	if _, _, err := f.svc.Create(ctx, component.CreateInput{Name: "Fixed", Type: "team", ID: "fixed"}); err != nil {
		t.Fatalf("a team named like the file's agent: %v", err)
	}
}

func TestCreateDefaultsAndID(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	c, v, err := f.svc.Create(ctx, component.CreateInput{Name: "  My Helper!! v2 ", Type: "agent"})
	if err != nil || c.ID != "my-helper-v2" || v != nil || c.CurrentVersion != nil {
		t.Fatalf("create without config: %+v %+v %v", c, v, err)
	}
	if len(f.changed) != 0 {
		t.Fatalf("a component without a current version changed what runs: %v", f.changed)
	}
	_, _, err = f.svc.Create(ctx, component.CreateInput{Name: "My helper v2", Type: "agent"})
	wantCode(t, err, core.CodeConflict, "already exists")

	// A draft first version is not current.
	c, v, err = f.svc.Create(ctx, component.CreateInput{Name: "Drafty", Type: "agent", Config: cfg("one")})
	if err != nil || v.Version != 1 || v.Stage != component.StageDraft || c.CurrentVersion != nil {
		t.Fatalf("draft first version: %+v %+v %v", c, v, err)
	}
	// A published first version is current unless set_current is false.
	c, v, err = f.svc.Create(ctx, component.CreateInput{Name: "Pub", Type: "agent", Config: cfg("one"), Stage: component.StagePublished})
	if err != nil || v.Stage != component.StagePublished || c.CurrentVersion == nil || *c.CurrentVersion != 1 {
		t.Fatalf("published first version: %+v %+v %v", c, v, err)
	}
	if fmt.Sprint(f.changed) != "[pub]" {
		t.Fatalf("changed = %v, want [pub]", f.changed)
	}
	c, _, err = f.svc.Create(ctx, component.CreateInput{Name: "Held", Type: "agent", Config: cfg("one"), Stage: component.StagePublished, SetCurrent: ptr(false)})
	if err != nil || c.CurrentVersion != nil {
		t.Fatalf("published, set_current false: %+v %v", c, err)
	}
}

func TestDraftPublishSetCurrent(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, _, err := f.svc.Create(ctx, component.CreateInput{Name: "Helper", Type: "agent", Config: cfg("one")}); err != nil {
		t.Fatal(err)
	}
	// A draft cannot be current, nor run.
	_, err := f.svc.SetCurrent(ctx, "helper", 1)
	wantCode(t, err, core.CodeConflict, "is a draft")
	_, _, err = f.svc.Resolve(ctx, "agent", "helper", 0, false)
	wantCode(t, err, core.CodeNotFound, "no published version")
	_, _, err = f.svc.Resolve(ctx, "agent", "helper", 1, false)
	wantCode(t, err, core.CodeConflict, "is a draft")
	_, err = f.svc.Current(ctx, "helper")
	wantCode(t, err, core.CodeNotFound, "no current version")

	// A draft is edited, checked when its config changes.
	checked := f.check.checked
	_, err = f.svc.UpdateConfig(ctx, "helper", 1, component.ConfigUpdate{Config: map[string]any{"bad": true}})
	wantCode(t, err, core.CodeUnprocessable, "bad")
	v, err := f.svc.UpdateConfig(ctx, "helper", 1, component.ConfigUpdate{Config: cfg("two"), Label: ptr("L"), Notes: ptr("n")})
	if err != nil || v.Config["model"] != "two" || v.Label != "L" || v.Notes != "n" || v.Stage != component.StageDraft || f.check.checked != checked+2 {
		t.Fatalf("draft edit: %+v %v (checked %d)", v, err, f.check.checked-checked)
	}
	_, err = f.svc.UpdateConfig(ctx, "helper", 1, component.ConfigUpdate{Stage: ptr("final")})
	wantCode(t, err, core.CodeUnprocessable, "stage must be")
	_, err = f.svc.UpdateConfig(ctx, "helper", 1, component.ConfigUpdate{SetCurrent: ptr(true)})
	wantCode(t, err, core.CodeConflict, "a draft cannot be current")

	// Publishing the first version makes it current (no current yet).
	v, err = f.svc.UpdateConfig(ctx, "helper", 1, component.ConfigUpdate{Stage: ptr(component.StagePublished)})
	if err != nil || v.Stage != component.StagePublished {
		t.Fatalf("publish: %+v %v", v, err)
	}
	if c, err := f.svc.Get(ctx, "helper"); err != nil || c.CurrentVersion == nil || *c.CurrentVersion != 1 {
		t.Fatalf("after publishing: %+v %v", c, err)
	}
	if fmt.Sprint(f.changed) != "[helper]" {
		t.Fatalf("changed = %v", f.changed)
	}
	// Published versions are immutable.
	_, err = f.svc.UpdateConfig(ctx, "helper", 1, component.ConfigUpdate{Notes: ptr("x")})
	wantCode(t, err, core.CodeConflict, "immutable")
	wantCode(t, f.svc.DeleteConfig(ctx, "helper", 1), core.CodeConflict, "immutable")

	// Version 2 published becomes current; version 3 published with
	// set_current false does not; a taken version number is a conflict.
	if v, err = f.svc.CreateConfig(ctx, "helper", component.ConfigInput{Config: cfg("two"), Stage: component.StagePublished}); err != nil || v.Version != 2 {
		t.Fatalf("version 2: %+v %v", v, err)
	}
	if v, err = f.svc.CreateConfig(ctx, "helper", component.ConfigInput{Config: cfg("one"), Stage: component.StagePublished, SetCurrent: ptr(false)}); err != nil || v.Version != 3 {
		t.Fatalf("version 3: %+v %v", v, err)
	}
	_, err = f.svc.CreateConfig(ctx, "helper", component.ConfigInput{Config: cfg("one"), Version: 2})
	wantCode(t, err, core.CodeConflict, "already has version 2")
	_, err = f.svc.CreateConfig(ctx, "helper", component.ConfigInput{Config: cfg("one"), Version: -1})
	wantCode(t, err, core.CodeUnprocessable, "out of range")
	_, err = f.svc.CreateConfig(ctx, "helper", component.ConfigInput{})
	wantCode(t, err, core.CodeUnprocessable, "config is required")
	_, err = f.svc.CreateConfig(ctx, "helper", component.ConfigInput{Config: cfg("one"), SetCurrent: ptr(true)})
	wantCode(t, err, core.CodeConflict, "a draft cannot be current")
	cur, err := f.svc.Current(ctx, "helper")
	if err != nil || cur.Version != 2 {
		t.Fatalf("current: %+v %v", cur, err)
	}
	if _, v, err := f.svc.Resolve(ctx, "agent", "helper", 0, false); err != nil || v.Version != 2 {
		t.Fatalf("resolve current: %+v %v", v, err)
	}
	// Roll back to 1; a missing version is not found.
	if c, err := f.svc.SetCurrent(ctx, "helper", 1); err != nil || *c.CurrentVersion != 1 {
		t.Fatalf("roll back: %+v %v", c, err)
	}
	_, err = f.svc.SetCurrent(ctx, "helper", 9)
	wantCode(t, err, core.CodeNotFound, "no version 9")
	// Setting the current version again changes nothing.
	n := len(f.changed)
	if _, err := f.svc.SetCurrent(ctx, "helper", 1); err != nil || len(f.changed) != n {
		t.Fatalf("set-current to the current version: %v, changed %v", err, f.changed[n:])
	}
	// PATCH current_version follows the same rules.
	_, err = f.svc.Update(ctx, "helper", component.UpdateInput{CurrentVersion: ptr(7)})
	wantCode(t, err, core.CodeNotFound, "no version 7")
	_, err = f.svc.Update(ctx, "helper", component.UpdateInput{Type: ptr("team")})
	wantCode(t, err, core.CodeUnprocessable, "cannot change")
	_, err = f.svc.Update(ctx, "helper", component.UpdateInput{Name: ptr(" ")})
	wantCode(t, err, core.CodeUnprocessable, "must not be empty")
	if c, err := f.svc.Update(ctx, "helper", component.UpdateInput{CurrentVersion: ptr(3), Name: ptr("Helper 3")}); err != nil || *c.CurrentVersion != 3 || c.Name != "Helper 3" {
		t.Fatalf("patch current_version: %+v %v", c, err)
	}
	// The type must match to resolve.
	_, _, err = f.svc.Resolve(ctx, "team", "helper", 0, false)
	wantCode(t, err, core.CodeNotFound, "not found")

	// A draft can be deleted.
	if _, err := f.svc.CreateConfig(ctx, "helper", component.ConfigInput{Config: cfg("one")}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteConfig(ctx, "helper", 4); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.GetConfig(ctx, "helper", 4)
	wantCode(t, err, core.CodeNotFound, "no version 4")
	if vs, err := f.svc.ListConfigs(ctx, "helper"); err != nil || len(vs) != 3 || vs[0].Version != 3 {
		t.Fatalf("versions: %+v %v", vs, err)
	}
}

func TestDeleteRules(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, _, err := f.svc.Create(ctx, component.CreateInput{Name: "Helper", Type: "agent", Config: cfg("one"), Stage: component.StagePublished}); err != nil {
		t.Fatal(err)
	}
	f.changed = nil
	if err := f.svc.Delete(ctx, "helper"); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(f.changed) != "[helper]" {
		t.Fatalf("a delete did not say it changed: %v", f.changed)
	}
	// Gone for every route and for a new run, current or pinned.
	_, err := f.svc.Get(ctx, "helper")
	wantCode(t, err, core.CodeNotFound, "not found")
	wantCode(t, f.svc.Delete(ctx, "helper"), core.CodeNotFound, "not found")
	_, err = f.svc.ListConfigs(ctx, "helper")
	wantCode(t, err, core.CodeNotFound, "not found")
	_, err = f.svc.CreateConfig(ctx, "helper", component.ConfigInput{Config: cfg("one")})
	wantCode(t, err, core.CodeNotFound, "not found")
	_, _, err = f.svc.Resolve(ctx, "agent", "helper", 0, false)
	wantCode(t, err, core.CodeNotFound, "not found")
	_, _, err = f.svc.Resolve(ctx, "agent", "helper", 1, false)
	wantCode(t, err, core.CodeNotFound, "not found")
	if cs, total, err := f.svc.List(ctx, component.Filter{}); err != nil || total != 0 || len(cs) != 0 {
		t.Fatalf("a deleted component is listed: %v %d %v", cs, total, err)
	}
	// A run that already started with version 1 still resolves it.
	if _, v, err := f.svc.Resolve(ctx, "agent", "helper", 1, true); err != nil || v.Version != 1 {
		t.Fatalf("a started run's version of the deleted component: %+v %v", v, err)
	}
	// The id stays taken.
	_, _, err = f.svc.Create(ctx, component.CreateInput{Name: "Helper", Type: "agent"})
	wantCode(t, err, core.CodeConflict, "keeps its id")
}

func TestListPaging(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for i := range 5 {
		typ := component.TypeAgent
		if i%2 == 1 {
			typ = component.TypeTeam
		}
		if _, _, err := f.svc.Create(ctx, component.CreateInput{Name: fmt.Sprint("c", i), Type: typ}); err != nil {
			t.Fatal(err)
		}
	}
	cs, total, err := f.svc.List(ctx, component.Filter{Limit: 2, Page: 2})
	if err != nil || total != 5 || len(cs) != 2 || cs[0].ID != "c2" || cs[1].ID != "c1" {
		t.Fatalf("page 2 of 2: %+v %d %v", cs, total, err)
	}
	cs, total, err = f.svc.List(ctx, component.Filter{Type: component.TypeTeam})
	if err != nil || total != 2 || len(cs) != 2 {
		t.Fatalf("teams: %+v %d %v", cs, total, err)
	}
	_, _, err = f.svc.List(ctx, component.Filter{Type: "robot"})
	wantCode(t, err, core.CodeUnprocessable, "component_type")
	_, _, err = f.svc.List(ctx, component.Filter{Limit: component.MaxLimit + 1})
	wantCode(t, err, core.CodeUnprocessable, "at most")
}

func TestIDFromName(t *testing.T) {
	for in, want := range map[string]string{"My Agent": "my-agent", "  a__b  ": "a-b", "Ünï": "n", "!!": "", "R2-D2 v1.0": "r2-d2-v1-0"} {
		if got := component.IDFromName(in); got != want {
			t.Errorf("IDFromName(%q) = %q, want %q", in, got, want)
		}
	}
}
