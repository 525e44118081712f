package learning

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/core"
)

// Learning types agno's learning machine keys by their identity fields.
const (
	TypeUserProfile    = "user_profile"
	TypeUserMemory     = "user_memory"
	TypeSessionContext = "session_context"
	TypeEntityMemory   = "entity_memory"
)

// DefaultNamespace is an entity memory's namespace when none is given.
const DefaultNamespace = "global"

// Limits of the list routes (AgentOS's).
const (
	DefaultLimit      = 100
	DefaultUsersLimit = 20
	MaxLimit          = 1000
	// MaxField is the longest type, namespace or id.
	MaxField = 255
)

// reservedNamespace is the shape of the user-keyed entity namespace
// ("user_<16 hex>..."): an entity memory created under it would take some
// user's key.
var reservedNamespace = regexp.MustCompile(`^user_[0-9a-f]{16}(_.*)?$`)

// Scope is whose learnings a caller acts on: Bound (user isolation, not an
// admin) binds it to UserID; unbound it acts on every user's.
type Scope struct {
	Bound  bool
	UserID string
}

// errNoUser refuses a bound scope with no user id (the authenticator
// always gives one; without it a bound caller would act as unbound).
var errNoUser = core.Errorf(core.CodeForbidden, "user isolation: the caller has no user id")

// check refuses a bound scope without a user id.
func (sc Scope) check() error {
	if sc.Bound && sc.UserID == "" {
		return errNoUser
	}
	return nil
}

// CreateInput is AgentOS's LearningCreate: LearningType and Content are
// required.
type CreateInput struct {
	LearningType string
	Content      map[string]any
	Namespace    string
	UserID       string
	AgentID      string
	TeamID       string
	SessionID    string
	EntityID     string
	EntityType   string
	Metadata     map[string]any
}

// UpdateInput is AgentOS's LearningUpdate: what is set replaces the stored
// value; content set to null is refused.
type UpdateInput struct {
	Content     map[string]any
	SetContent  bool
	Metadata    map[string]any
	SetMetadata bool
}

// Config configures a Service.
type Config struct {
	Store Store
	// Now is the clock (default time.Now); NewID makes the ids of the
	// types not keyed by identity (default uuid v4).
	Now   func() time.Time
	NewID func() string
}

// Service is the learnings' service.
type Service struct {
	store Store
	now   func() time.Time
	newID func() string
}

// New returns the service of cfg.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, now: cfg.Now, newID: cfg.NewID}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = uuid.NewString
	}
	return s
}

func unprocessable(format string, args ...any) error {
	return core.Errorf(core.CodeUnprocessable, format, args...)
}

func notFound(id string) error { return core.Errorf(core.CodeNotFound, "learning %q not found", id) }

// IdentityID is the id agno's learning stores give a record of an
// identity-keyed type, "" for another type or when the identity fields are
// missing (see the package documentation).
func IdentityID(learningType, userID, sessionID, entityID, entityType, namespace string) string {
	switch learningType {
	case TypeUserProfile:
		if userID != "" {
			return "user_profile_" + userID
		}
	case TypeUserMemory:
		if userID != "" {
			return "memories_" + userID
		}
	case TypeSessionContext:
		if sessionID != "" {
			return "session_context_" + sessionID
		}
	case TypeEntityMemory:
		if entityID == "" || entityType == "" {
			return ""
		}
		if namespace == "" {
			namespace = DefaultNamespace
		}
		if namespace == "user" {
			if userID == "" {
				return ""
			}
			sum := sha256.Sum256([]byte(userID))
			namespace = "user_" + hex.EncodeToString(sum[:8])
		}
		return "entity_" + namespace + "_" + entityType + "_" + entityID
	}
	return ""
}

func identityKeyed(t string) bool {
	return t == TypeUserProfile || t == TypeUserMemory || t == TypeSessionContext || t == TypeEntityMemory
}

// Create validates in and stores a new learning (see the package
// documentation for its id and owner).
func (s *Service) Create(ctx context.Context, sc Scope, in CreateInput) (*Learning, error) {
	if err := sc.check(); err != nil {
		return nil, err
	}
	if sc.Bound {
		if in.UserID != "" && in.UserID != sc.UserID {
			return nil, core.Errorf(core.CodeForbidden, "cannot create learnings for another user")
		}
		in.UserID = sc.UserID
	}
	if in.LearningType == "" {
		return nil, unprocessable("learning_type is required")
	}
	if in.Content == nil {
		return nil, unprocessable("content is required (a JSON object)")
	}
	for name, v := range map[string]string{"learning_type": in.LearningType, "namespace": in.Namespace, "user_id": in.UserID,
		"agent_id": in.AgentID, "team_id": in.TeamID, "session_id": in.SessionID, "entity_id": in.EntityID, "entity_type": in.EntityType} {
		if len(v) > MaxField {
			return nil, unprocessable("%s is longer than %d bytes", name, MaxField)
		}
	}
	if in.LearningType == TypeEntityMemory {
		if reservedNamespace.MatchString(in.Namespace) {
			return nil, unprocessable(`namespace %q is reserved: it has the key shape entity_memory uses for namespace="user" records, so a record stored under it would take another user's key; choose another namespace`, in.Namespace)
		}
		if in.Namespace == "" {
			in.Namespace = DefaultNamespace
		}
	}
	id := IdentityID(in.LearningType, in.UserID, in.SessionID, in.EntityID, in.EntityType, in.Namespace)
	if id == "" && identityKeyed(in.LearningType) {
		if in.LearningType == TypeEntityMemory && in.Namespace == "user" {
			return nil, unprocessable(`entity_memory under namespace="user" is keyed by the owning user as well as the entity: give user_id with entity_id and entity_type`)
		}
		return nil, unprocessable("learning_type %q is keyed by its identity fields: give them (user_id, session_id, or entity_id and entity_type)", in.LearningType)
	}
	keyed := id != ""
	if !keyed {
		id = s.newID()
	}
	now := s.now().Unix()
	l := &Learning{ID: id, LearningType: in.LearningType, Namespace: in.Namespace, UserID: in.UserID, AgentID: in.AgentID,
		TeamID: in.TeamID, SessionID: in.SessionID, EntityID: in.EntityID, EntityType: in.EntityType, Content: in.Content,
		Metadata: in.Metadata, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateLearning(ctx, l); err != nil {
		if errors.Is(err, core.ErrConflict) {
			if keyed {
				return nil, core.Errorf(core.CodeConflict, "a %q learning already exists for this identity (id %q): use PATCH /learnings/%s to update it", in.LearningType, id, id)
			}
			return nil, core.Errorf(core.CodeConflict, "learning %q already exists", id)
		}
		return nil, err
	}
	return l, nil
}

// Get returns the learning if the scope may read it.
func (s *Service) Get(ctx context.Context, sc Scope, id string) (*Learning, error) {
	l, err := s.store.GetLearning(ctx, id)
	if errors.Is(err, core.ErrNotFound) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, err
	}
	if sc.Bound && l.UserID != "" && l.UserID != sc.UserID {
		return nil, notFound(id)
	}
	return l, nil
}

// mutable returns the learning if the scope may change it: under
// isolation one with no owner is the admins' (403).
func (s *Service) mutable(ctx context.Context, sc Scope, id string) (*Learning, error) {
	l, err := s.Get(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	if sc.Bound && l.UserID == "" {
		return nil, core.Errorf(core.CodeForbidden, "only admins can modify learnings that have no owner (user_id is null)")
	}
	return l, nil
}

// Update replaces what in sets (content, metadata) and returns the
// learning as stored; an empty update returns it unchanged.
func (s *Service) Update(ctx context.Context, sc Scope, id string, in UpdateInput) (*Learning, error) {
	l, err := s.mutable(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	if !in.SetContent && !in.SetMetadata {
		return l, nil
	}
	if in.SetContent {
		if in.Content == nil {
			return nil, unprocessable("content cannot be null; omit the field to leave it unchanged")
		}
		l.Content = in.Content
	}
	if in.SetMetadata {
		l.Metadata = in.Metadata
	}
	if l.Content == nil {
		l.Content = map[string]any{}
	}
	l.UpdatedAt = s.now().Unix()
	if err := s.store.UpdateLearning(ctx, l); err != nil {
		if errors.Is(err, core.ErrNotFound) {
			return nil, notFound(id)
		}
		return nil, err
	}
	return s.Get(ctx, sc, id)
}

// Delete deletes the learning.
func (s *Service) Delete(ctx context.Context, sc Scope, id string) error {
	if _, err := s.mutable(ctx, sc, id); err != nil {
		return err
	}
	err := s.store.DeleteLearning(ctx, id)
	if errors.Is(err, core.ErrNotFound) {
		return notFound(id)
	}
	return err
}

// List lists one page of the learnings f selects that the scope may see:
// a bound scope its own and those with no owner (naming another user is
// forbidden). An unknown sort key is the default (updated_at).
func (s *Service) List(ctx context.Context, sc Scope, f Filter) ([]Learning, int, error) {
	if err := sc.check(); err != nil {
		return nil, 0, err
	}
	if sc.Bound {
		if f.UserID != "" && f.UserID != sc.UserID {
			return nil, 0, core.Errorf(core.CodeForbidden, "cannot list learnings for another user")
		}
		f.UserID, f.WithUnowned = sc.UserID, true
	}
	if f.Limit <= 0 {
		f.Limit = DefaultLimit
	}
	f.Limit = min(f.Limit, MaxLimit)
	f.Page = max(f.Page, 1)
	if f.SortBy != SortCreatedAt {
		f.SortBy = SortUpdatedAt
	}
	if f.SortOrder != OrderAsc {
		f.SortOrder = OrderDesc
	}
	return s.store.ListLearnings(ctx, f)
}

// Users lists one page of the users owning learnings that the scope may
// see (a bound scope: itself). An unknown sort key is the default
// (last_learning_updated_at).
func (s *Service) Users(ctx context.Context, sc Scope, f UsersFilter) ([]LearningUserStats, int, error) {
	if err := sc.check(); err != nil {
		return nil, 0, err
	}
	if sc.Bound {
		if f.UserID != "" && f.UserID != sc.UserID {
			return nil, 0, core.Errorf(core.CodeForbidden, "cannot list learning users for another user")
		}
		f.UserID = sc.UserID
	}
	if f.Limit <= 0 {
		f.Limit = DefaultUsersLimit
	}
	f.Limit = min(f.Limit, MaxLimit)
	f.Page = max(f.Page, 1)
	if f.SortBy != SortUserID {
		f.SortBy = SortLastUpdated
	}
	if f.SortOrder != OrderAsc {
		f.SortOrder = OrderDesc
	}
	return s.store.LearningUsers(ctx, f)
}

// DeleteUser deletes the learnings of userID (of learningType only, when
// set); a bound scope only its own.
func (s *Service) DeleteUser(ctx context.Context, sc Scope, userID, learningType string) (int, error) {
	if err := sc.check(); err != nil {
		return 0, err
	}
	if userID == "" {
		return 0, unprocessable("user_id is required")
	}
	if sc.Bound && userID != sc.UserID {
		return 0, core.Errorf(core.CodeForbidden, "cannot delete learnings for another user")
	}
	return s.store.DeleteUserLearnings(ctx, userID, learningType)
}
