package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/google/uuid"
)

// testServiceAccounts covers the service-account methods. Accounts cannot
// be filtered when listed, so the listing tests never count rows: they
// check the relative order and the membership of their own accounts, and
// the paging test gives its accounts creation times no other test uses
// (after every other account), so they are the first rows of the list.
func testServiceAccounts(t *testing.T, newBackend Factory) {
	parallel(t, "CreateGetRoundTrip", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		want := mustCreateServiceAccount(t, s, fullServiceAccount())
		assertServiceAccount(t, want, mustGetServiceAccount(t, s, want.ID))
		got, err := s.GetServiceAccountByTokenHash(t.Context(), want.TokenHash)
		if err != nil {
			t.Fatalf("GetServiceAccountByTokenHash: %v", err)
		}
		assertServiceAccount(t, want, got)
	})

	parallel(t, "MinimalRoundTrip", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		for _, scopes := range [][]string{nil, {}} {
			want := mustCreateServiceAccount(t, s, &auth.ServiceAccount{
				ID: newID("sa"), TokenHash: newTokenHash(), Scopes: scopes,
			})
			got := mustGetServiceAccount(t, s, want.ID)
			assertServiceAccount(t, want, got)
		}
	})

	parallel(t, "StoredTimesAreSet", func(t *testing.T) {
		// An account created already used, revoked and expiring keeps
		// those times (an import or a restore).
		s := newBackend(t).ServiceAccounts
		a := fullServiceAccount()
		a.LastUsedAt, a.RevokedAt = baseTime()+5, baseTime()+6
		want := mustCreateServiceAccount(t, s, a)
		assertServiceAccount(t, want, mustGetServiceAccount(t, s, want.ID))
	})

	parallel(t, "CreateDuplicateIDConflict", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		orig := mustCreateServiceAccount(t, s, fullServiceAccount())
		dup := fullServiceAccount()
		dup.ID, dup.Name = orig.ID, "impostor"
		wantErr(t, s.CreateServiceAccount(t.Context(), dup), core.ErrConflict, "CreateServiceAccount duplicate id")
		assertServiceAccount(t, orig, mustGetServiceAccount(t, s, orig.ID))
		_, err := s.GetServiceAccountByTokenHash(t.Context(), dup.TokenHash)
		wantErr(t, err, core.ErrNotFound, "token hash of a rejected account")
	})

	parallel(t, "CreateDuplicateTokenHashConflict", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		orig := mustCreateServiceAccount(t, s, fullServiceAccount())
		dup := fullServiceAccount()
		dup.TokenHash, dup.Name = orig.TokenHash, "impostor"
		wantErr(t, s.CreateServiceAccount(t.Context(), dup), core.ErrConflict, "CreateServiceAccount duplicate token hash")
		_, err := s.GetServiceAccount(t.Context(), dup.ID)
		wantErr(t, err, core.ErrNotFound, "rejected account")
		got, err := s.GetServiceAccountByTokenHash(t.Context(), orig.TokenHash)
		if err != nil {
			t.Fatalf("GetServiceAccountByTokenHash: %v", err)
		}
		assertServiceAccount(t, orig, got)
	})

	parallel(t, "DuplicateCreatesHaveOneWinner", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		hash := newTokenHash()
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := fullServiceAccount()
				a.TokenHash = hash
				errs[i] = s.CreateServiceAccount(t.Context(), a)
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, core.ErrConflict):
				t.Fatalf("CreateServiceAccount racing on one token hash: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d of %d creates with one token hash succeeded, want 1", won, n)
		}
	})

	parallel(t, "CreateWithoutIDOrHashInvalid", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		a := fullServiceAccount()
		a.ID = ""
		wantErr(t, s.CreateServiceAccount(t.Context(), a), core.ErrInvalid, "CreateServiceAccount without id")
		a = fullServiceAccount()
		a.TokenHash = ""
		wantErr(t, s.CreateServiceAccount(t.Context(), a), core.ErrInvalid, "CreateServiceAccount without token hash")
		_, err := s.GetServiceAccount(t.Context(), a.ID)
		wantErr(t, err, core.ErrNotFound, "account without token hash")
	})

	parallel(t, "GetMissingNotFound", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		_, err := s.GetServiceAccount(t.Context(), newID("missing"))
		wantErr(t, err, core.ErrNotFound, "GetServiceAccount missing")
		_, err = s.GetServiceAccountByTokenHash(t.Context(), newTokenHash())
		wantErr(t, err, core.ErrNotFound, "GetServiceAccountByTokenHash missing")
		_, err = s.GetServiceAccountByTokenHash(t.Context(), "")
		wantErr(t, err, core.ErrNotFound, "GetServiceAccountByTokenHash empty")
	})

	parallel(t, "GetByHashIsExact", func(t *testing.T) {
		// The hash is looked up as it is: no prefix or case folding.
		s := newBackend(t).ServiceAccounts
		a := mustCreateServiceAccount(t, s, fullServiceAccount())
		for _, h := range []string{a.TokenHash[:32], a.TokenHash + "0", upperHex(a.TokenHash), a.TokenPrefix, a.ID} {
			_, err := s.GetServiceAccountByTokenHash(t.Context(), h)
			wantErr(t, err, core.ErrNotFound, "GetServiceAccountByTokenHash("+h+")")
		}
	})

	parallel(t, "RevokeOnce", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		want := mustCreateServiceAccount(t, s, fullServiceAccount())
		at := baseTime() + 100
		got, err := s.RevokeServiceAccount(t.Context(), want.ID, at)
		if err != nil {
			t.Fatalf("RevokeServiceAccount: %v", err)
		}
		want.RevokedAt = at
		assertServiceAccount(t, want, got)
		assertServiceAccount(t, want, mustGetServiceAccount(t, s, want.ID))

		// A second revoke keeps the first time.
		got, err = s.RevokeServiceAccount(t.Context(), want.ID, at+50)
		if err != nil {
			t.Fatalf("RevokeServiceAccount again: %v", err)
		}
		assertServiceAccount(t, want, got)
		assertServiceAccount(t, want, mustGetServiceAccount(t, s, want.ID))

		// A revoked account is still found by its token: the caller
		// decides.
		byHash, err := s.GetServiceAccountByTokenHash(t.Context(), want.TokenHash)
		if err != nil {
			t.Fatalf("GetServiceAccountByTokenHash of a revoked account: %v", err)
		}
		assertServiceAccount(t, want, byHash)
	})

	parallel(t, "RevokeMissingNotFound", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		_, err := s.RevokeServiceAccount(t.Context(), newID("missing"), baseTime())
		wantErr(t, err, core.ErrNotFound, "RevokeServiceAccount missing")
	})

	parallel(t, "ConcurrentRevokesKeepOneTime", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		a := mustCreateServiceAccount(t, s, fullServiceAccount())
		const n = 8
		times := make([]int64, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.RevokeServiceAccount(t.Context(), a.ID, baseTime()+int64(i)+1)
				if err != nil {
					t.Errorf("RevokeServiceAccount: %v", err)
					return
				}
				times[i] = got.RevokedAt
			}()
		}
		wg.Wait()
		stored := mustGetServiceAccount(t, s, a.ID).RevokedAt
		if stored == 0 {
			t.Fatal("no revocation time stored")
		}
		for i, at := range times {
			if at != stored {
				t.Fatalf("revoke %d returned revoked_at %d; stored %d (every revoke must return the one time kept)", i, at, stored)
			}
		}
	})

	parallel(t, "Touch", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		want := mustCreateServiceAccount(t, s, fullServiceAccount())
		for _, at := range []int64{baseTime() + 10, baseTime() + 20} {
			if err := s.TouchServiceAccount(t.Context(), want.ID, at); err != nil {
				t.Fatalf("TouchServiceAccount(%d): %v", at, err)
			}
			want.LastUsedAt = at
			assertServiceAccount(t, want, mustGetServiceAccount(t, s, want.ID))
		}

		// A revoked account can be touched too (a request that was
		// authenticated just before the revocation), and a touch does
		// not undo the revocation.
		if _, err := s.RevokeServiceAccount(t.Context(), want.ID, baseTime()+30); err != nil {
			t.Fatalf("RevokeServiceAccount: %v", err)
		}
		want.RevokedAt = baseTime() + 30
		if err := s.TouchServiceAccount(t.Context(), want.ID, baseTime()+40); err != nil {
			t.Fatalf("TouchServiceAccount of a revoked account: %v", err)
		}
		want.LastUsedAt = baseTime() + 40
		assertServiceAccount(t, want, mustGetServiceAccount(t, s, want.ID))
	})

	parallel(t, "TouchMissingNotFound", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		wantErr(t, s.TouchServiceAccount(t.Context(), newID("missing"), baseTime()), core.ErrNotFound, "TouchServiceAccount missing")
	})

	parallel(t, "ListNewestFirstWithFullRows", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		// Created at +1, +3, +2 and +2 again: newest first is 1, then
		// 3 (the later insert of two equal times), 2, 0.
		var mine []*auth.ServiceAccount
		for _, off := range []int64{1, 3, 2, 2} {
			a := fullServiceAccount()
			a.CreatedAt = baseTime() + off
			mine = append(mine, mustCreateServiceAccount(t, s, a))
		}
		got, total := listServiceAccounts(t, s, auth.ListServiceAccountsParams{IncludeRevoked: true})
		if total != len(got) {
			t.Fatalf("without a limit: %d accounts, total %d; want them equal", len(got), total)
		}
		own := ownAccounts(got, mine)
		assertIDs(t, "own accounts, newest first", []string{mine[1].ID, mine[3].ID, mine[2].ID, mine[0].ID}, accountIDs(own))
		for _, a := range own {
			want := mine[slices.IndexFunc(mine, func(m *auth.ServiceAccount) bool { return m.ID == a.ID })]
			assertServiceAccount(t, want, a)
		}
		assertNewestFirst(t, got)
	})

	parallel(t, "ListHidesRevoked", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		kept := mustCreateServiceAccount(t, s, fullServiceAccount())
		revoked := mustCreateServiceAccount(t, s, fullServiceAccount())
		if _, err := s.RevokeServiceAccount(t.Context(), revoked.ID, baseTime()+1); err != nil {
			t.Fatalf("RevokeServiceAccount: %v", err)
		}
		revoked.RevokedAt = baseTime() + 1
		mine := []*auth.ServiceAccount{kept, revoked}

		got, _ := listServiceAccounts(t, s, auth.ListServiceAccountsParams{})
		assertIDs(t, "own accounts without revoked ones", []string{kept.ID}, accountIDs(ownAccounts(got, mine)))
		for _, a := range got {
			if a.RevokedAt != 0 {
				t.Fatalf("listed revoked account %s (revoked at %d) without IncludeRevoked", a.ID, a.RevokedAt)
			}
		}
		got, _ = listServiceAccounts(t, s, auth.ListServiceAccountsParams{IncludeRevoked: true})
		own := ownAccounts(got, mine)
		if len(own) != 2 {
			t.Fatalf("with IncludeRevoked: own accounts %v, want both", accountIDs(own))
		}
		for _, a := range own {
			if a.ID == revoked.ID {
				assertServiceAccount(t, revoked, a)
			}
		}
	})

	parallel(t, "ListExpiredAreListed", func(t *testing.T) {
		// Only revocation hides an account; expiry is the caller's to
		// judge.
		s := newBackend(t).ServiceAccounts
		a := fullServiceAccount()
		a.ExpiresAt = baseTime() - 1 // long gone
		mustCreateServiceAccount(t, s, a)
		got, _ := listServiceAccounts(t, s, auth.ListServiceAccountsParams{})
		assertIDs(t, "expired account", []string{a.ID}, accountIDs(ownAccounts(got, []*auth.ServiceAccount{a})))
	})

	parallel(t, "Pagination", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		// Later than any other test's accounts: the first rows of the
		// list, newest first mine[6] ... mine[0].
		future := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		mine := make([]*auth.ServiceAccount, 7)
		for i := range mine {
			a := fullServiceAccount()
			a.CreatedAt = future + int64(i)
			mine[i] = mustCreateServiceAccount(t, s, a)
		}
		ids := func(order ...int) []string {
			out := make([]string, len(order))
			for i, o := range order {
				out[i] = mine[o].ID
			}
			return out
		}
		revoked := 0 // of mine
		page := func(p auth.ListServiceAccountsParams) []*auth.ServiceAccount {
			t.Helper()
			got, total := listServiceAccounts(t, s, p)
			least := len(mine)
			if !p.IncludeRevoked {
				least -= revoked
			}
			if total < least {
				t.Fatalf("ListServiceAccounts(%+v): total %d, want at least %d", p, total, least)
			}
			if len(got) > p.Limit {
				t.Fatalf("ListServiceAccounts(%+v): %d accounts, over the limit", p, len(got))
			}
			return got
		}
		all := auth.ListServiceAccountsParams{IncludeRevoked: true, Limit: 3}
		for _, c := range []struct {
			page int
			want []string
		}{
			{0, ids(6, 5, 4)}, // page < 1 is page 1
			{1, ids(6, 5, 4)},
			{2, ids(3, 2, 1)},
		} {
			p := all
			p.Page = c.page
			assertIDs(t, fmt.Sprintf("page %d", c.page), c.want, accountIDs(page(p)))
		}
		// Page 3 starts with the oldest of them; older accounts of other
		// tests may follow.
		p := all
		p.Page = 3
		if got := page(p); len(got) == 0 || got[0].ID != mine[0].ID {
			t.Fatalf("page 3: %v, want it to start with %s", accountIDs(got), mine[0].ID)
		}
		// A page past the end is empty, and still has the total.
		p.Page = 1 << 20
		if got := page(p); len(got) != 0 {
			t.Fatalf("page %d: %v, want none", p.Page, accountIDs(got))
		}

		// Revoked accounts do not take a place on a page.
		if _, err := s.RevokeServiceAccount(t.Context(), mine[5].ID, future); err != nil {
			t.Fatalf("RevokeServiceAccount: %v", err)
		}
		revoked++
		p = auth.ListServiceAccountsParams{Limit: 3, Page: 1}
		assertIDs(t, "page 1 without revoked ones", ids(6, 4, 3), accountIDs(page(p)))
		p.Page = 2
		assertIDs(t, "page 2 without revoked ones", ids(2, 1, 0), accountIDs(page(p)))
		p = all
		p.Page = 2
		assertIDs(t, "page 2 with revoked ones", ids(3, 2, 1), accountIDs(page(p)))
	})

	parallel(t, "ListReflectsTouch", func(t *testing.T) {
		s := newBackend(t).ServiceAccounts
		a := mustCreateServiceAccount(t, s, fullServiceAccount())
		if err := s.TouchServiceAccount(t.Context(), a.ID, baseTime()+9); err != nil {
			t.Fatalf("TouchServiceAccount: %v", err)
		}
		a.LastUsedAt = baseTime() + 9
		got, _ := listServiceAccounts(t, s, auth.ListServiceAccountsParams{})
		own := ownAccounts(got, []*auth.ServiceAccount{a})
		if len(own) != 1 {
			t.Fatalf("own accounts %v, want %s", accountIDs(own), a.ID)
		}
		assertServiceAccount(t, a, own[0])
	})
}

// --- service-account helpers ------------------------------------------------

// newTokenHash returns the hex SHA-256 of a fresh random token, the form
// the gateway stores.
func newTokenHash() string {
	h := sha256.Sum256([]byte("agw_sa_" + uuid.NewString()))
	return hex.EncodeToString(h[:])
}

func upperHex(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// fullServiceAccount returns an account with every field set but
// LastUsedAt and RevokedAt (which the store's own methods set).
func fullServiceAccount() *auth.ServiceAccount {
	id := newID("sa")
	return &auth.ServiceAccount{
		ID:          id,
		Name:        `CI deployer — 'quotes' "and" ünïcode 👋; DROP TABLE service_accounts; --`,
		Principal:   "sa:" + id,
		UserID:      newID("user"),
		TokenPrefix: "agw_sa_" + id[len(id)-8:],
		TokenHash:   newTokenHash(),
		Scopes:      []string{"agents:read", "runs:write", "sessions:*"},
		CreatedAt:   baseTime(),
		ExpiresAt:   baseTime() + 90*24*3600,
		CreatedBy:   newID("admin"),
	}
}

func mustCreateServiceAccount(t *testing.T, s auth.ServiceAccountStore, a *auth.ServiceAccount) *auth.ServiceAccount {
	t.Helper()
	if err := s.CreateServiceAccount(t.Context(), a); err != nil {
		t.Fatalf("CreateServiceAccount(%s): %v", a.ID, err)
	}
	return a
}

func mustGetServiceAccount(t *testing.T, s auth.ServiceAccountStore, id string) *auth.ServiceAccount {
	t.Helper()
	a, err := s.GetServiceAccount(t.Context(), id)
	if err != nil {
		t.Fatalf("GetServiceAccount(%s): %v", id, err)
	}
	return a
}

func listServiceAccounts(t *testing.T, s auth.ServiceAccountStore, p auth.ListServiceAccountsParams) ([]*auth.ServiceAccount, int) {
	t.Helper()
	got, total, err := s.ListServiceAccounts(t.Context(), p)
	if err != nil {
		t.Fatalf("ListServiceAccounts(%+v): %v", p, err)
	}
	return got, total
}

// assertServiceAccount checks every field, TokenHash included (it is not
// part of the JSON form). Backends may not tell nil scopes from empty ones.
func assertServiceAccount(t *testing.T, want, got *auth.ServiceAccount) {
	t.Helper()
	if got == nil {
		t.Fatalf("service account %s: got nil", want.ID)
	}
	w, g := *want, *got
	w.Scopes, g.Scopes = nil, nil
	if !reflect.DeepEqual(w, g) {
		t.Fatalf("service account %s differs:\nwant %+v\n got %+v", want.ID, w, g)
	}
	if !slices.Equal(want.Scopes, got.Scopes) {
		t.Fatalf("service account %s: scopes %q, want %q", want.ID, got.Scopes, want.Scopes)
	}
}

// ownAccounts returns the accounts of list that are among mine, in list's
// order.
func ownAccounts(list, mine []*auth.ServiceAccount) []*auth.ServiceAccount {
	var out []*auth.ServiceAccount
	for _, a := range list {
		if slices.ContainsFunc(mine, func(m *auth.ServiceAccount) bool { return m.ID == a.ID }) {
			out = append(out, a)
		}
	}
	return out
}

func accountIDs(as []*auth.ServiceAccount) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// assertNewestFirst checks that list is in non-increasing created_at order.
func assertNewestFirst(t *testing.T, list []*auth.ServiceAccount) {
	t.Helper()
	for i := 1; i < len(list); i++ {
		if list[i].CreatedAt > list[i-1].CreatedAt {
			t.Fatalf("account %d (%s, created %d) is newer than the one before it (%s, created %d)",
				i, list[i].ID, list[i].CreatedAt, list[i-1].ID, list[i-1].CreatedAt)
		}
	}
}
