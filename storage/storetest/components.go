package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/component"
)

// testComponents covers component.Store: components (CRUD, the unique id
// that a soft delete keeps taken, the type filter, order and paging) and
// their versions (numbering, drafts only changed or deleted, the versions
// of a deleted component still readable). Records of a shared database are
// told apart by fresh ids.
func testComponents(t *testing.T, newBackend Factory) {
	newComponent := func(typ string) *component.Component {
		return &component.Component{ID: newID("comp"), Type: typ, Name: "Helper", Description: "helps",
			Metadata: map[string]any{"team": "core", "n": 1.0}, CreatedAt: baseTime(), UpdatedAt: baseTime()}
	}
	parallel(t, "CRUDRoundTrip", func(t *testing.T) {
		s := newBackend(t).Components
		c := newComponent(component.TypeAgent)
		if err := s.CreateComponent(t.Context(), c); err != nil {
			t.Fatalf("CreateComponent: %v", err)
		}
		got, err := s.GetComponent(t.Context(), c.ID, false)
		if err != nil {
			t.Fatalf("GetComponent: %v", err)
		}
		assertJSONEqual(t, "component", c, got)
		if got.CurrentVersion != nil {
			t.Errorf("CurrentVersion = %d, want nil (NULL)", *got.CurrentVersion)
		}
		upd := *got
		upd.Name, upd.Description, upd.Metadata, upd.CurrentVersion, upd.UpdatedAt = "Renamed", "", nil, ptr(3), baseTime()+5
		if err := s.UpdateComponent(t.Context(), &upd); err != nil {
			t.Fatalf("UpdateComponent: %v", err)
		}
		got, _ = s.GetComponent(t.Context(), c.ID, false)
		if got.Name != "Renamed" || got.Description != "" || got.Metadata != nil || got.CurrentVersion == nil ||
			*got.CurrentVersion != 3 || got.UpdatedAt != baseTime()+5 || got.Type != component.TypeAgent {
			t.Errorf("after update: %+v", got)
		}
		if err := s.DeleteComponent(t.Context(), c.ID, baseTime()+9); err != nil {
			t.Fatalf("DeleteComponent: %v", err)
		}
		if _, err := s.GetComponent(t.Context(), c.ID, false); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetComponent after delete: %v, want ErrNotFound", err)
		}
		gone, err := s.GetComponent(t.Context(), c.ID, true)
		if err != nil || gone.DeletedAt != baseTime()+9 {
			t.Errorf("GetComponent(withDeleted) = %+v, %v; want deleted_at set", gone, err)
		}
		wantErr(t, s.DeleteComponent(t.Context(), c.ID, baseTime()), core.ErrNotFound, "DeleteComponent twice")
		wantErr(t, s.UpdateComponent(t.Context(), &upd), core.ErrNotFound, "UpdateComponent of a deleted component")
		wantErr(t, s.CreateComponent(t.Context(), c), core.ErrConflict, "CreateComponent with a deleted component's id")
	})

	parallel(t, "Missing", func(t *testing.T) {
		s := newBackend(t).Components
		c := newComponent(component.TypeTeam)
		_, err := s.GetComponent(t.Context(), c.ID, true)
		wantErr(t, err, core.ErrNotFound, "GetComponent")
		wantErr(t, s.UpdateComponent(t.Context(), c), core.ErrNotFound, "UpdateComponent")
		wantErr(t, s.DeleteComponent(t.Context(), c.ID, 1), core.ErrNotFound, "DeleteComponent")
		_, err = s.GetConfig(t.Context(), c.ID, 1)
		wantErr(t, err, core.ErrNotFound, "GetConfig")
		wantErr(t, s.DeleteDraft(t.Context(), c.ID, 1), core.ErrNotFound, "DeleteDraft")
		wantErr(t, s.UpdateDraft(t.Context(), &component.Config{ComponentID: c.ID, Version: 1, Stage: component.StageDraft}),
			core.ErrNotFound, "UpdateDraft")
		list, err := s.ListConfigs(t.Context(), c.ID)
		if err != nil || list == nil || len(list) != 0 {
			t.Errorf("ListConfigs = %v, %v; want an empty list", list, err)
		}
	})

	parallel(t, "DuplicateID", func(t *testing.T) {
		s := newBackend(t).Components
		c := newComponent(component.TypeAgent)
		if err := s.CreateComponent(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		other := *c
		other.Type = component.TypeWorkflow
		wantErr(t, s.CreateComponent(t.Context(), &other), core.ErrConflict, "CreateComponent twice")
	})

	parallel(t, "ListTypeOrderPaging", func(t *testing.T) {
		s := newBackend(t).Components
		var mine []string
		for i, typ := range []string{component.TypeWorkflow, component.TypeWorkflow, component.TypeTeam, component.TypeWorkflow} {
			c := newComponent(typ)
			c.CreatedAt = baseTime() + int64(i)
			if err := s.CreateComponent(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			if typ == component.TypeWorkflow {
				mine = append(mine, c.ID)
			}
		}
		if err := s.DeleteComponent(t.Context(), mine[1], baseTime()); err != nil {
			t.Fatal(err)
		}
		all, total, err := s.ListComponents(t.Context(), component.Filter{Type: component.TypeWorkflow})
		if err != nil || total != len(all) {
			t.Fatalf("ListComponents = %d of %d, %v", len(all), total, err)
		}
		var seen []string
		for _, c := range all {
			if c.Type != component.TypeWorkflow {
				t.Errorf("type filter listed a %s", c.Type)
			}
			if slices.Contains(mine, c.ID) {
				seen = append(seen, c.ID)
			}
		}
		if want := []string{mine[2], mine[0]}; !slices.Equal(seen, want) {
			t.Errorf("listed %v, want %v (newest first, the deleted one left out)", seen, want)
		}
		page, ptotal, err := s.ListComponents(t.Context(), component.Filter{Type: component.TypeWorkflow, Limit: 1, Page: 1})
		if err != nil || len(page) != 1 || ptotal < 2 {
			t.Errorf("page 1 of 1 = %d of %d, %v", len(page), ptotal, err)
		}
		far, ftotal, err := s.ListComponents(t.Context(), component.Filter{Type: component.TypeWorkflow, Limit: 1, Page: 1 << 20})
		if err != nil || len(far) != 0 || ftotal < 2 {
			t.Errorf("a page past the end = %d of %d, %v", len(far), ftotal, err)
		}
	})

	parallel(t, "Versions", func(t *testing.T) {
		s := newBackend(t).Components
		c := newComponent(component.TypeAgent)
		if err := s.CreateComponent(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		mk := func(version int, stage string) *component.Config {
			return &component.Config{ComponentID: c.ID, Version: version, Label: "l", Stage: stage,
				Config: map[string]any{"model": "m", "tools": []any{"calculator"}}, Notes: "n", CreatedAt: baseTime(), UpdatedAt: baseTime()}
		}
		v1 := mk(0, component.StagePublished)
		if err := s.CreateConfig(t.Context(), v1); err != nil || v1.Version != 1 {
			t.Fatalf("CreateConfig = version %d, %v; want 1", v1.Version, err)
		}
		v2 := mk(0, component.StageDraft)
		if err := s.CreateConfig(t.Context(), v2); err != nil || v2.Version != 2 {
			t.Fatalf("CreateConfig = version %d, %v; want 2", v2.Version, err)
		}
		v7 := mk(7, component.StageDraft)
		if err := s.CreateConfig(t.Context(), v7); err != nil || v7.Version != 7 {
			t.Fatalf("CreateConfig(7) = version %d, %v", v7.Version, err)
		}
		wantErr(t, s.CreateConfig(t.Context(), mk(2, component.StageDraft)), core.ErrConflict, "CreateConfig of a taken version")
		next := mk(0, component.StageDraft)
		if err := s.CreateConfig(t.Context(), next); err != nil || next.Version != 8 {
			t.Fatalf("CreateConfig after 7 = version %d, %v; want 8", next.Version, err)
		}
		got, err := s.GetConfig(t.Context(), c.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		assertJSONEqual(t, "config", v1, got)
		list, err := s.ListConfigs(t.Context(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var versions []int
		for _, v := range list {
			versions = append(versions, v.Version)
		}
		if !slices.Equal(versions, []int{8, 7, 2, 1}) {
			t.Errorf("ListConfigs versions = %v, want newest first [8 7 2 1]", versions)
		}

		// A draft changes; a published version does not.
		upd := *v2
		upd.Label, upd.Stage, upd.Config, upd.Notes, upd.UpdatedAt = "rc", component.StagePublished, map[string]any{"model": "x"}, "", baseTime()+3
		if err := s.UpdateDraft(t.Context(), &upd); err != nil {
			t.Fatalf("UpdateDraft: %v", err)
		}
		got, _ = s.GetConfig(t.Context(), c.ID, 2)
		assertJSONEqual(t, "updated draft", &upd, got)
		wantErr(t, s.UpdateDraft(t.Context(), &upd), core.ErrConflict, "UpdateDraft of a published version")
		wantErr(t, s.DeleteDraft(t.Context(), c.ID, 1), core.ErrConflict, "DeleteDraft of a published version")
		if err := s.DeleteDraft(t.Context(), c.ID, 7); err != nil {
			t.Fatalf("DeleteDraft: %v", err)
		}
		_, err = s.GetConfig(t.Context(), c.ID, 7)
		wantErr(t, err, core.ErrNotFound, "GetConfig of a deleted draft")

		// A deleted component's versions stay readable (its runs finish).
		if err := s.DeleteComponent(t.Context(), c.ID, baseTime()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetConfig(t.Context(), c.ID, 1); err != nil {
			t.Errorf("GetConfig of a deleted component: %v", err)
		}
	})
}
