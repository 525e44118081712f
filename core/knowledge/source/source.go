// Package source holds the remote content sources of knowledge bases
// (knowledge.Source): S3-compatible object storage (the AWS SDK v2) and
// GitHub repositories (the GitHub REST API over net/http). Each is built
// from a small config struct (S3Config, GitHubConfig).
//
// A source has a root (its prefix: a key prefix of the bucket, a path in
// the repository). List's prefix is relative to that root and the keys it
// answers are the files' full keys (bucket keys, repository paths), which
// Open takes; a key outside the root is not found. Listing is one level
// below the prefix, split at the delimiter ("" lists every file below it),
// folders first in full and files one page at a time, sorted by key; at most
// MaxListed entries are looked at.
package source

import (
	"fmt"
	"mime"
	"path"
	"sort"
	"strings"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
)

// MaxListed bounds the entries one List looks at.
const MaxListed = 100_000

// Defaults of List.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

func notFound(kind, key string) error {
	return core.Errorf(core.CodeNotFound, "%s: %q not found", kind, key)
}

func invalid(format string, args ...any) error { return core.Errorf(core.CodeInvalid, format, args...) }

// joinRoot is the full prefix of a listing: the root and the relative
// prefix, with one "/" between them.
func joinRoot(root, prefix string) string {
	prefix = strings.TrimLeft(prefix, "/")
	if root == "" {
		return prefix
	}
	if prefix == "" {
		return root
	}
	return strings.TrimRight(root, "/") + "/" + prefix
}

// within reports whether key is a plain key under root ("" roots take
// every key) with no "." or ".." segment.
func within(root, key string) bool {
	if key == "" || strings.HasPrefix(key, "/") {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return root == "" || strings.HasPrefix(key, root)
}

// entry is one object of a listing.
type entry struct {
	knowledge.RemoteFile
}

// level splits entries (every key under full) one level below full at
// delimiter: the folders (full prefix up to and including the delimiter)
// and the files; then it cuts the files' page.
func level(entries []entry, full, delimiter string, limit, page int) ([]string, []knowledge.RemoteFile, int) {
	seen := map[string]bool{}
	folders := []string{}
	var files []knowledge.RemoteFile
	for _, e := range entries {
		if !strings.HasPrefix(e.Key, full) {
			continue
		}
		rest := e.Key[len(full):]
		if delimiter != "" {
			if i := strings.Index(rest, delimiter); i >= 0 {
				f := full + rest[:i+len(delimiter)]
				if !seen[f] {
					seen[f] = true
					folders = append(folders, f)
				}
				continue
			}
		}
		files = append(files, e.RemoteFile)
	}
	sort.Strings(folders)
	sort.Slice(files, func(i, j int) bool { return files[i].Key < files[j].Key })
	total := len(files)
	start := min((page-1)*limit, total)
	end := min(start+limit, total)
	return folders, append([]knowledge.RemoteFile{}, files[start:end]...), total
}

// paging normalises a page request.
func paging(limit, page int) (int, int) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return min(limit, MaxLimit), max(page, 1)
}

// contentType guesses a file's content type from its extension.
func contentType(key string) string {
	ext := strings.ToLower(path.Ext(key))
	switch ext {
	case ".md", ".markdown":
		return "text/markdown"
	case ".csv":
		return "text/csv"
	case ".json":
		return "application/json"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return ""
}

// errorf wraps an error of a remote call with what it was.
func errorf(err error, format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}
