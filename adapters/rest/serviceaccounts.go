package rest

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
)

// CreateServiceAccountBody is the body of POST /service-accounts.
type CreateServiceAccountBody struct {
	Name          string   `json:"name" minLength:"1" maxLength:"255"`
	Scopes        []string `json:"scopes" doc:"Scopes in agno's grammar: resource:action, resource:<id>:action, resource:*:action, agent_os:admin."`
	UserID        string   `json:"user_id,omitempty" doc:"The user it acts as under user isolation (default: its principal)."`
	ExpiresInDays int      `json:"expires_in_days,omitempty" minimum:"0" maximum:"3650" doc:"0: never expires."`
}

// CreatedServiceAccount is the answer to a creation: the token is shown
// this once and never stored.
type CreatedServiceAccount struct {
	*auth.ServiceAccount
	Token string `json:"token"`
}

// ServiceAccountPage is a page of service accounts.
type ServiceAccountPage struct {
	Data []*auth.ServiceAccount `json:"data"`
	Meta PageMeta               `json:"meta"`
}

// The service accounts are admin only unless the policy is overridden.
func (h *Handler) serviceAccountRoutes() []Route {
	tags := []string{"Service accounts"}
	const saID = "service_account_id"
	sas := h.cfg.ServiceAccounts
	if sas == nil {
		sas = noServiceAccounts{}
	}
	store := func() auth.ServiceAccountStore { return sas }
	return []Route{
		{Operation: huma.Operation{OperationID: "create-service-account", Method: http.MethodPost, Path: "/service-accounts",
			Summary: "Create a service account (its token is shown once)", Tags: tags, DefaultStatus: http.StatusCreated},
			Access: adminOnly(scoped(auth.ResourceServiceAccounts, auth.ActionWrite, "")), Errors: []int{400, 413, 422},
			Handle: typed(func(ctx context.Context, in *struct{ Body CreateServiceAccountBody }) (*struct{ Body CreatedServiceAccount }, error) {
				scopes, err := auth.ParseScopes(in.Body.Scopes)
				if err != nil {
					return nil, toAPIError(core.Errorf(core.CodeInvalid, "scopes: %v", err))
				}
				p := principal(ctx)
				if !p.CanGrant(scopes) {
					return nil, toAPIError(core.Errorf(core.CodeForbidden, "you cannot grant scopes you do not hold"))
				}
				ttl := time.Duration(in.Body.ExpiresInDays) * 24 * time.Hour
				sa, token, err := auth.NewServiceAccount(in.Body.Name, in.Body.UserID, in.Body.Scopes, ttl, p.Subject)
				if err != nil {
					return nil, toAPIError(core.Errorf(core.CodeInvalid, "%v", err))
				}
				if err := store().CreateServiceAccount(ctx, sa); err != nil {
					return nil, toAPIError(err)
				}
				return &struct{ Body CreatedServiceAccount }{CreatedServiceAccount{ServiceAccount: sa, Token: token}}, nil
			})},
		{Operation: huma.Operation{OperationID: "list-service-accounts", Method: http.MethodGet, Path: "/service-accounts",
			Summary: "List service accounts", Tags: tags},
			Access: adminOnly(listed(auth.ResourceServiceAccounts, auth.ActionRead)),
			Handle: typed(func(ctx context.Context, in *struct {
				Limit          int  `query:"limit" default:"100" minimum:"1" maximum:"1000"`
				Page           int  `query:"page" default:"1" minimum:"1"`
				IncludeRevoked bool `query:"include_revoked"`
			}) (*struct{ Body ServiceAccountPage }, error) {
				list, total, err := store().ListServiceAccounts(ctx, auth.ListServiceAccountsParams{Limit: in.Limit, Page: in.Page, IncludeRevoked: in.IncludeRevoked})
				if err != nil {
					return nil, toAPIError(err)
				}
				if list == nil {
					list = []*auth.ServiceAccount{}
				}
				return &struct{ Body ServiceAccountPage }{ServiceAccountPage{Data: list, Meta: PageMeta{
					Page: in.Page, Limit: in.Limit, TotalCount: total, TotalPages: int(math.Ceil(float64(total) / float64(in.Limit))),
				}}}, nil
			})},
		{Operation: huma.Operation{OperationID: "get-service-account", Method: http.MethodGet, Path: "/service-accounts/{service_account_id}",
			Summary: "Get a service account", Tags: tags},
			Access: adminOnly(scoped(auth.ResourceServiceAccounts, auth.ActionRead, saID)), Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *struct {
				ID string `path:"service_account_id"`
			}) (*struct{ Body *auth.ServiceAccount }, error) {
				a, err := store().GetServiceAccount(ctx, in.ID)
				if err != nil {
					return nil, toAPIError(notFound(err, "service account %q not found", in.ID))
				}
				return &struct{ Body *auth.ServiceAccount }{a}, nil
			})},
		{Operation: huma.Operation{OperationID: "revoke-service-account", Method: http.MethodDelete, Path: "/service-accounts/{service_account_id}",
			Summary: "Revoke a service account (its token stops working at once)", Tags: tags, DefaultStatus: http.StatusNoContent},
			Access: adminOnly(scoped(auth.ResourceServiceAccounts, auth.ActionDelete, saID)), Errors: []int{404},
			Handle: typed(func(ctx context.Context, in *struct {
				ID string `path:"service_account_id"`
			}) (*struct{}, error) {
				if _, err := store().RevokeServiceAccount(ctx, in.ID, time.Now().Unix()); err != nil {
					return nil, toAPIError(notFound(err, "service account %q not found", in.ID))
				}
				return nil, nil
			})},
	}
}

// noServiceAccounts is the store of a gateway built without one.
type noServiceAccounts struct{}

var errNoServiceAccounts = core.Errorf(core.CodeNotImpl, "service accounts need a state store")

func (noServiceAccounts) GetServiceAccountByTokenHash(context.Context, string) (*auth.ServiceAccount, error) {
	return nil, errNoServiceAccounts
}
func (noServiceAccounts) TouchServiceAccount(context.Context, string, int64) error {
	return errNoServiceAccounts
}
func (noServiceAccounts) CreateServiceAccount(context.Context, *auth.ServiceAccount) error {
	return errNoServiceAccounts
}
func (noServiceAccounts) GetServiceAccount(context.Context, string) (*auth.ServiceAccount, error) {
	return nil, errNoServiceAccounts
}
func (noServiceAccounts) ListServiceAccounts(context.Context, auth.ListServiceAccountsParams) ([]*auth.ServiceAccount, int, error) {
	return nil, 0, errNoServiceAccounts
}
func (noServiceAccounts) RevokeServiceAccount(context.Context, string, int64) (*auth.ServiceAccount, error) {
	return nil, errNoServiceAccounts
}

// notFound gives a store's not-found a user-facing message.
func notFound(err error, format string, args ...any) error {
	if core.CodeOf(err) == core.CodeNotFound {
		return core.Errorf(core.CodeNotFound, format, args...)
	}
	return err
}
