package source

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
)

// DefaultGitHubURL is GitHub's REST API.
const DefaultGitHubURL = "https://api.github.com"

// GitHubConfig configures a GitHub repository source.
type GitHubConfig struct {
	// ID and Name name the source (ID defaults to "github-<owner>-<repo>",
	// Name to the repository).
	ID, Name string
	// Repo is "owner/name" (required).
	Repo string
	// Branch is the branch, tag or commit read (default: the repository's
	// default branch).
	Branch string
	// Path is the source's root in the repository ("" for all of it).
	Path string
	// Token is a token sent as "Authorization: Bearer" (empty: public
	// repositories only, at GitHub's anonymous rate limit).
	Token string
	// BaseURL is the API's URL (default DefaultGitHubURL; GitHub
	// Enterprise: https://HOST/api/v3).
	BaseURL string
	// HTTPClient makes the calls (default: one with no timeout of its own;
	// the context bounds each call).
	HTTPClient *http.Client
}

// GitHub is a source on a GitHub repository.
type GitHub struct {
	cfg         GitHubConfig
	owner, repo string
	base        string
	client      *http.Client
}

var _ knowledge.Source = (*GitHub)(nil)

// maxGitHubBody bounds the JSON answers read (a recursive tree of a large
// repository is megabytes).
const maxGitHubBody = 64 << 20

// NewGitHub builds the source of cfg. It does not call the API.
func NewGitHub(cfg GitHubConfig) (*GitHub, error) {
	owner, repo, ok := strings.Cut(cfg.Repo, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, invalid("github source: repo %q is not owner/name", cfg.Repo)
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultGitHubURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalid("github source %q: base_url %q is not an http(s) URL", cfg.Repo, base)
	}
	cfg.Path = strings.Trim(cfg.Path, "/")
	if cfg.Path != "" && !within("", cfg.Path) {
		return nil, invalid("github source %q: path %q has . or .. segments", cfg.Repo, cfg.Path)
	}
	if cfg.ID == "" {
		cfg.ID = "github-" + owner + "-" + repo
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Repo
	}
	c := cfg.HTTPClient
	if c == nil {
		c = &http.Client{}
	}
	return &GitHub{cfg: cfg, owner: owner, repo: repo, base: strings.TrimRight(base, "/"), client: c}, nil
}

func (g *GitHub) ID() string   { return g.cfg.ID }
func (g *GitHub) Name() string { return g.cfg.Name }
func (g *GitHub) Type() string { return "github" }

// Prefix is the root path, with a trailing slash when set.
func (g *GitHub) Prefix() string {
	if g.cfg.Path == "" {
		return ""
	}
	return g.cfg.Path + "/"
}

// get calls the API at path (under /repos/owner/repo) with accept and
// returns the response (2xx) or a classified error.
func (g *GitHub) get(ctx context.Context, p, accept string) (*http.Response, error) {
	u := g.base + "/repos/" + url.PathEscape(g.owner) + "/" + url.PathEscape(g.repo) + p
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "agentgate")
	if g.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+g.cfg.Token)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &core.Error{Code: core.CodeUnavailable, Message: "github " + g.cfg.Repo + ": the API could not be reached", Err: err}
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var body struct {
		Message string `json:"message"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	msg := fmt.Sprintf("github %s: %s answered %d", g.cfg.Repo, p, resp.StatusCode)
	if body.Message != "" {
		msg += " (" + body.Message + ")"
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return nil, core.Errorf(core.CodeNotFound, "%s", msg)
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, core.Errorf(core.CodeForbidden, "%s: check the source's token", msg)
	}
	return nil, core.Errorf(core.CodeUnavailable, "%s", msg)
}

// getJSON calls the API and decodes its JSON answer into v.
func (g *GitHub) getJSON(ctx context.Context, p string, v any) error {
	resp, err := g.get(ctx, p, "application/vnd.github+json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxGitHubBody)).Decode(v); err != nil {
		return core.Errorf(core.CodeUnavailable, "github %s: %s: unreadable answer: %v", g.cfg.Repo, p, err)
	}
	return nil
}

// ref is the branch read: the configured one or the default branch.
func (g *GitHub) ref(ctx context.Context) (string, error) {
	if g.cfg.Branch != "" {
		return g.cfg.Branch, nil
	}
	var repo struct {
		DefaultBranch string `json:"default_branch"`
	}
	if err := g.getJSON(ctx, "", &repo); err != nil {
		return "", err
	}
	if repo.DefaultBranch == "" {
		return "", core.Errorf(core.CodeUnavailable, "github %s: no default branch", g.cfg.Repo)
	}
	return repo.DefaultBranch, nil
}

// escapePath escapes each segment of a repository path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// List lists one level under the root + prefix, from the branch's
// recursive tree (the git trees API; for a repository too large for one
// answer GitHub truncates the tree, and what it returned is listed).
func (g *GitHub) List(ctx context.Context, prefix, delimiter string, limit, page int) ([]string, []knowledge.RemoteFile, int, error) {
	limit, page = paging(limit, page)
	ref, err := g.ref(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	var tree struct {
		Tree []struct {
			Path string `json:"path"`
			Type string `json:"type"`
			Size int64  `json:"size"`
		} `json:"tree"`
		Truncated bool `json:"truncated"`
	}
	if err := g.getJSON(ctx, "/git/trees/"+url.PathEscape(ref)+"?recursive=1", &tree); err != nil {
		return nil, nil, 0, err
	}
	full := joinRoot(g.Prefix(), prefix)
	var entries []entry
	for _, t := range tree.Tree {
		if t.Type != "blob" || len(entries) >= MaxListed {
			continue
		}
		entries = append(entries, entry{knowledge.RemoteFile{Key: t.Path, Name: path.Base(t.Path), Size: t.Size, ContentType: contentType(t.Path)}})
	}
	folders, files, total := level(entries, full, delimiter, limit, page)
	return folders, files, total, nil
}

// Open reads the file key (a repository path List answered) at the
// branch, raw (the contents API).
func (g *GitHub) Open(ctx context.Context, key string) (io.ReadCloser, knowledge.RemoteFile, error) {
	if !within(g.Prefix(), key) {
		return nil, knowledge.RemoteFile{}, notFound("github "+g.cfg.Repo, key)
	}
	ref, err := g.ref(ctx)
	if err != nil {
		return nil, knowledge.RemoteFile{}, err
	}
	resp, err := g.get(ctx, "/contents/"+escapePath(key)+"?ref="+url.QueryEscape(ref), "application/vnd.github.raw+json")
	if err != nil {
		return nil, knowledge.RemoteFile{}, err
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		// A directory's listing, not a file.
		resp.Body.Close()
		return nil, knowledge.RemoteFile{}, notFound("github "+g.cfg.Repo, key)
	}
	f := knowledge.RemoteFile{Key: key, Name: path.Base(key), Size: resp.ContentLength, ContentType: contentType(key)}
	if f.Size < 0 {
		f.Size = 0
	}
	return resp.Body, f, nil
}
