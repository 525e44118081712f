package memory

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
)

// Limits of a memory's fields.
const (
	MaxMemoryChars = 5000 // AgentOS's UserMemoryCreateSchema: 1–5000 characters
	MaxTopics      = 50
	MaxTopicChars  = 100
	// maxOptimized bounds how many memories an optimisation may keep.
	maxOptimized = 1000
)

// Replacer is a Store that can replace exactly the memories an
// optimisation read (Optimize uses it when the store has it; the SQL
// stores do): it deletes those of remove that belong to userID and
// inserts add, in one transaction, as ReplaceUserMemories does.
type Replacer interface {
	ReplaceMemories(ctx context.Context, userID string, remove []string, add []Memory) error
}

// Resolver returns the model a name gives: "provider:model_id" or the name
// of a configured model. An unknown name is an error wrapping
// core.ErrInvalid.
type Resolver func(ctx context.Context, name string) (model.Model, error)

// Config configures a Service.
type Config struct {
	Store Store
	// Models resolves the model of an optimisation (nil: none can run).
	Models Resolver
	// DefaultModel is the model an optimisation uses when the request
	// names none (config memory.model); empty means it must name one.
	DefaultModel string
	// Now is the clock (default time.Now); NewID makes ids (default uuid
	// v4).
	Now   func() time.Time
	NewID func() string
}

// Service is the memories' service: validation, the owner's view (every
// method takes scope, the user the caller is bound to under isolation, ""
// for any) and Optimize.
type Service struct {
	store        Store
	models       Resolver
	defaultModel string
	now          func() time.Time
	newID        func() string
}

// New returns the service of cfg.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, models: cfg.Models, defaultModel: cfg.DefaultModel, now: cfg.Now, newID: cfg.NewID}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = uuid.NewString
	}
	return s
}

// Store returns the service's store (the agent's memory manager writes
// through it).
func (s *Service) Store() Store { return s.store }

// Input is a memory as a request gives it (POST and PATCH /memories).
type Input struct {
	Memory string
	// Topics nil keeps a memory's topics on an update (none on a create).
	Topics  []string
	UserID  string
	AgentID string
	TeamID  string
	// Input and Feedback nil keep what is stored.
	Input    *string
	Feedback *string
}

func invalid(format string, args ...any) error { return core.Errorf(core.CodeInvalid, format, args...) }

// errNoUser is AgentOS's 400 when no user id is given or resolvable.
var errNoUser = invalid("no user_id: give user_id (or authenticate as a user)")

// owner is the user a request acts for: scope when bound, else requested.
func owner(scope, requested string) string {
	if scope != "" {
		return scope
	}
	return strings.TrimSpace(requested)
}

// CheckText validates a memory's text: 1–5000 characters, not blank,
// valid UTF-8.
func CheckText(text string) (string, error) {
	t := strings.TrimSpace(text)
	switch {
	case !utf8.ValidString(text):
		return "", invalid("memory is not valid UTF-8")
	case t == "":
		return "", invalid("memory must not be empty")
	case utf8.RuneCountInString(text) > MaxMemoryChars:
		return "", invalid("memory is %d characters long, over %d", utf8.RuneCountInString(text), MaxMemoryChars)
	}
	return t, nil
}

// NormalizeTopics trims the topics, drops empty ones and duplicates (the
// first spelling kept, in order) and checks their number and length. nil
// stays nil.
func NormalizeTopics(topics []string) ([]string, error) {
	if topics == nil {
		return nil, nil
	}
	out := make([]string, 0, len(topics))
	for _, t := range topics {
		t = strings.TrimSpace(t)
		switch {
		case t == "" || slices.Contains(out, t):
			continue
		case !utf8.ValidString(t):
			return nil, invalid("topic %q is not valid UTF-8", t)
		case utf8.RuneCountInString(t) > MaxTopicChars:
			return nil, invalid("topic %.20q… is over %d characters", t, MaxTopicChars)
		}
		out = append(out, t)
	}
	if len(out) > MaxTopics {
		return nil, invalid("%d topics, over %d", len(out), MaxTopics)
	}
	return out, nil
}

// Create validates in and stores a new memory of its user (scope's, when
// bound).
func (s *Service) Create(ctx context.Context, scope string, in Input) (*Memory, error) {
	user := owner(scope, in.UserID)
	if user == "" {
		return nil, errNoUser
	}
	text, err := CheckText(in.Memory)
	if err != nil {
		return nil, err
	}
	topics, err := NormalizeTopics(in.Topics)
	if err != nil {
		return nil, err
	}
	if topics == nil {
		topics = []string{}
	}
	now := s.now().Unix()
	m := &Memory{ID: s.newID(), Memory: text, Topics: topics, UserID: user, AgentID: in.AgentID, TeamID: in.TeamID,
		CreatedAt: now, UpdatedAt: now}
	if in.Input != nil {
		m.Input = *in.Input
	}
	if in.Feedback != nil {
		m.Feedback = *in.Feedback
	}
	if err := s.store.CreateMemory(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Get returns the memory; another user's (when scope is bound) is not
// found.
func (s *Service) Get(ctx context.Context, scope, id string) (*Memory, error) {
	m, err := s.store.GetMemory(ctx, id)
	if errors.Is(err, core.ErrNotFound) || err == nil && scope != "" && m.UserID != scope {
		return nil, core.Errorf(core.CodeNotFound, "memory %q not found", id)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Update replaces the memory's text (and topics, input, feedback when
// given). A user id in the request must be the memory's own: a memory
// does not move between users.
func (s *Service) Update(ctx context.Context, scope, id string, in Input) (*Memory, error) {
	m, err := s.Get(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	if u := strings.TrimSpace(in.UserID); u != "" && scope == "" && u != m.UserID {
		return nil, core.Errorf(core.CodeNotFound, "memory %q of user %q not found", id, u)
	}
	text, err := CheckText(in.Memory)
	if err != nil {
		return nil, err
	}
	topics, err := NormalizeTopics(in.Topics)
	if err != nil {
		return nil, err
	}
	if topics != nil {
		m.Topics = topics
	}
	if in.Input != nil {
		m.Input = *in.Input
	}
	if in.Feedback != nil {
		m.Feedback = *in.Feedback
	}
	m.Memory, m.UpdatedAt = text, max(s.now().Unix(), m.UpdatedAt)
	if err := s.store.UpdateMemory(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Delete deletes one memory; another user's (scope bound, or userID
// given) is not found.
func (s *Service) Delete(ctx context.Context, scope, userID, id string) error {
	n, err := s.store.DeleteMemories(ctx, owner(scope, userID), []string{id})
	if err != nil {
		return err
	}
	if n == 0 {
		return core.Errorf(core.CodeNotFound, "memory %q not found", id)
	}
	return nil
}

// maxBulk bounds the ids of one bulk delete.
const maxBulk = 1000

// DeleteMany deletes the memories with those ids (only userID's, or
// scope's when bound) and reports how many; unknown ids are skipped.
func (s *Service) DeleteMany(ctx context.Context, scope, userID string, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, invalid("memory_ids must name at least one memory")
	}
	if len(ids) > maxBulk {
		return 0, invalid("%d memory_ids, over %d", len(ids), maxBulk)
	}
	return s.store.DeleteMemories(ctx, owner(scope, userID), ids)
}

// List returns one page of the memories f selects (scope's only, when
// bound) and their total. Topics are trimmed; sort keys are checked.
func (s *Service) List(ctx context.Context, scope string, f Filter) ([]Memory, int, error) {
	f.UserID = owner(scope, f.UserID)
	topics, err := NormalizeTopics(f.Topics)
	if err != nil {
		return nil, 0, err
	}
	f.Topics = topics
	switch f.SortBy {
	case "", "updated_at", "created_at":
	default:
		return nil, 0, invalid("sort_by must be updated_at or created_at, not %q", f.SortBy)
	}
	switch f.SortOrder {
	case "", "asc", "desc":
	default:
		return nil, 0, invalid("sort_order must be asc or desc, not %q", f.SortOrder)
	}
	if f.Limit < 0 || f.Page < 0 {
		return nil, 0, invalid("limit and page must not be negative")
	}
	if utf8.RuneCountInString(f.Search) > MaxMemoryChars {
		return nil, 0, invalid("search_content is over %d characters", MaxMemoryChars)
	}
	return s.store.ListMemories(ctx, f)
}

// Topics lists the distinct topics (of userID's memories, scope's when
// bound).
func (s *Service) Topics(ctx context.Context, scope, userID string) ([]string, error) {
	return s.store.MemoryTopics(ctx, owner(scope, userID))
}

// Stats lists the per-user memory stats (only scope's when bound).
func (s *Service) Stats(ctx context.Context, scope, userID string, limit, page int) ([]UserStats, int, error) {
	if limit < 0 || page < 0 {
		return nil, 0, invalid("limit and page must not be negative")
	}
	return s.store.UserMemoryStats(ctx, owner(scope, userID), limit, page)
}

// OptimizeResult is AgentOS's OptimizeMemoriesResponse.
type OptimizeResult struct {
	Memories            []Memory `json:"memories"`
	MemoriesBefore      int      `json:"memories_before"`
	MemoriesAfter       int      `json:"memories_after"`
	TokensBefore        int      `json:"tokens_before"`
	TokensAfter         int      `json:"tokens_after"`
	TokensSaved         int      `json:"tokens_saved"`
	ReductionPercentage float64  `json:"reduction_percentage"`
}

// optimizePrompt is the system message of an optimisation.
const optimizePrompt = `You compact the memories an assistant keeps about one user.
You are given the memories, one per line. Rewrite them as a shorter list that keeps every distinct fact:
merge duplicates and overlapping memories, drop what is redundant, never invent anything.
Answer with the new memories only, one memory per line, each a short third-person statement,
with no numbering, no heading and no other text.`

// Optimize summarises every memory of userID (scope's when bound) into
// fewer with a model (modelName: "provider:model_id" or a configured
// model; empty: the default) and reports the token counts before and
// after (EstimateTokens). With apply the user's memories are replaced by
// the result in one transaction; without, nothing is written.
func (s *Service) Optimize(ctx context.Context, scope, userID, modelName string, apply bool) (*OptimizeResult, error) {
	user := owner(scope, userID)
	if user == "" {
		return nil, errNoUser
	}
	name := strings.TrimSpace(modelName)
	if name == "" {
		name = s.defaultModel
	}
	if name == "" {
		return nil, invalid("no model is configured to optimise memories: set memory.model in the configuration or give model (\"provider:model_id\" or a configured model's name)")
	}
	if s.models == nil {
		return nil, invalid("no model can be resolved to optimise memories")
	}
	old, _, err := s.store.ListMemories(ctx, Filter{UserID: user, Limit: -1, SortBy: "created_at", SortOrder: "asc"})
	if err != nil {
		return nil, err
	}
	res := &OptimizeResult{Memories: []Memory{}, MemoriesBefore: len(old)}
	for _, m := range old {
		res.TokensBefore += EstimateTokens(m.Memory)
	}
	if len(old) == 0 {
		return res, nil // nothing to summarise: no model call
	}
	m, err := s.models(ctx, name)
	if err != nil {
		return nil, err
	}
	var in strings.Builder
	for _, o := range old {
		in.WriteString(strings.Join(strings.Fields(o.Memory), " ")) // one line each
		in.WriteByte('\n')
	}
	resp, err := m.Generate(ctx, model.Request{Messages: []core.Message{
		{Role: "system", Content: optimizePrompt},
		{Role: "user", Content: in.String()},
	}}, func(model.Delta) error { return nil })
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, core.Errorf(core.CodeUnavailable, "optimise memories: model %s: %v", name, err)
	}
	texts := ParseMemoryList(resp.Content)
	if len(texts) == 0 {
		return nil, core.Errorf(core.CodeUnavailable, "optimise memories: model %s answered no memories; nothing was changed", name)
	}
	if len(texts) > maxOptimized {
		return nil, core.Errorf(core.CodeUnavailable, "optimise memories: model %s answered %d memories, over %d; nothing was changed", name, len(texts), maxOptimized)
	}
	topics, agent, team := mergedOrigin(old)
	now := s.now().Unix()
	for _, t := range texts {
		res.Memories = append(res.Memories, Memory{ID: s.newID(), Memory: t, Topics: slices.Clone(topics), UserID: user,
			AgentID: agent, TeamID: team, CreatedAt: now, UpdatedAt: now})
		res.TokensAfter += EstimateTokens(t)
	}
	res.MemoriesAfter = len(res.Memories)
	res.TokensSaved = max(0, res.TokensBefore-res.TokensAfter)
	if res.TokensBefore > 0 {
		res.ReductionPercentage = math.Round(float64(res.TokensSaved)*10000/float64(res.TokensBefore)) / 100
	}
	if apply {
		var err error
		if r, ok := s.store.(Replacer); ok {
			// Only what was summarised goes: a memory an agent wrote while
			// the model worked is kept.
			ids := make([]string, len(old))
			for i, o := range old {
				ids[i] = o.ID
			}
			err = r.ReplaceMemories(ctx, user, ids, res.Memories)
		} else {
			err = s.store.ReplaceUserMemories(ctx, user, res.Memories)
		}
		if err != nil {
			return nil, fmt.Errorf("optimise memories of %q: %w", user, err)
		}
	}
	return res, nil
}

// mergedOrigin is what the optimised memories inherit: the union of the
// topics (sorted), and the agent and team when every memory shares them.
func mergedOrigin(ms []Memory) (topics []string, agent, team string) {
	topics = []string{}
	agent, team = ms[0].AgentID, ms[0].TeamID
	for _, m := range ms {
		for _, t := range m.Topics {
			if !slices.Contains(topics, t) {
				topics = append(topics, t)
			}
		}
		if m.AgentID != agent {
			agent = ""
		}
		if m.TeamID != team {
			team = ""
		}
	}
	slices.Sort(topics)
	if len(topics) > MaxTopics {
		topics = topics[:MaxTopics]
	}
	return topics, agent, team
}

// ParseMemoryList reads a model's list of memories: one per non-blank
// line, with list markers ("-", "*", "•", "1.", "2)"), surrounding quotes
// and code fences removed, a heading line ending in ":" skipped,
// duplicates (ignoring case) dropped, each cut to MaxMemoryChars.
func ParseMemoryList(reply string) []string {
	var out []string
	seen := map[string]bool{}
	lines := strings.FieldsFunc(reply, func(r rune) bool {
		return r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == '\u0085' || r == '\u2028' || r == '\u2029'
	})
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "```") {
			continue
		}
		line = strings.TrimSpace(stripMarker(line))
		line = strings.TrimSpace(strings.Trim(line, `"'`+"`"))
		if line == "" || strings.HasSuffix(line, ":") || !utf8.ValidString(line) {
			continue
		}
		if r := []rune(line); len(r) > MaxMemoryChars {
			line = string(r[:MaxMemoryChars])
		}
		key := strings.ToLower(line)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, line)
	}
	return out
}

// stripMarker removes one leading list marker: a bullet or a number
// followed by "." or ")".
func stripMarker(line string) string {
	for _, b := range []string{"- ", "* ", "• ", "+ ", "– "} {
		if strings.HasPrefix(line, b) {
			return line[len(b):]
		}
	}
	i := 0
	for i < len(line) && i < 4 && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	if i > 0 && i < len(line) && (line[i] == '.' || line[i] == ')') {
		return line[i+1:]
	}
	return line
}

// EstimateTokens is a deterministic estimate of the tokens of text, close
// to what BPE tokenizers give English prose: each run of letters or digits
// counts one token per started four characters, and each other
// non-space character one token.
func EstimateTokens(text string) int {
	n, run := 0, 0
	flush := func() {
		if run > 0 {
			n += (run + 3) / 4
			run = 0
		}
	}
	for _, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			run++
		case unicode.IsSpace(r):
			flush()
		default:
			flush()
			n++
		}
	}
	flush()
	return n
}
