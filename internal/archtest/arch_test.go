package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rule is one import rule of DESIGN.md. Paths of the module's own packages
// are written relative to the module ("core/...", "" for the root package);
// other paths in full. "x/..." matches x and every package below it.
type rule struct {
	name string // the rule as DESIGN.md states it, quoted in failures
	// pkgs are the packages the rule binds, except those in except.
	pkgs, except []string
	// allow, when set, lists the only non-standard imports allowed;
	// forbid lists imports that are refused (std ones included).
	allow, forbid []string
}

// The libraries the rules name.
var (
	sqlLibs = []string{"database/sql/...", "github.com/jackc/...", "modernc.org/sqlite/...",
		"github.com/mattn/go-sqlite3/...", "github.com/ncruces/go-sqlite3/...", "github.com/lib/pq/...",
		"github.com/pressly/goose/..."}
	// driverLibs are sqlLibs but database/sql itself.
	driverLibs = slices.DeleteFunc(slices.Clone(sqlLibs), func(l string) bool { return l == "database/sql/..." })
	// backendPkgs are the module's storage backends and queue.
	backendPkgs = []string{"storage/sqlite/...", "storage/postgres/...", "storage/memlog/...",
		"storage/redislog/...", "storage/migrate/...", "queue/..."}
	redisLibs  = []string{"github.com/redis/..."}
	queueLibs  = []string{"github.com/riverqueue/..."}
	serverLibs = []string{"github.com/gofiber/...", "github.com/valyala/fasthttp/...", "github.com/fasthttp/...",
		"github.com/danielgtaylor/huma/...", "github.com/mark3labs/mcp-go/server/...", "github.com/slack-go/...",
		"github.com/gorilla/websocket/...", "github.com/coder/websocket/...", "nhooyr.io/websocket/..."}
	// libraryPkgs are the module's packages other than the wiring (the root
	// package and cmd) and the tests' own trees.
	libraryPkgs = []string{"core/...", "adapters/...", "storage/...", "transport/...", "auth/...", "queue/...", "internal/..."}
)

// rules is DESIGN.md's import table. They bind production code: tests may
// import what they exercise (core's tests run on real stores).
var rules = []rule{
	{
		name:  "core imports only the standard library and small leaf libraries (uuid)",
		pkgs:  []string{"core"},
		allow: []string{"github.com/google/uuid"},
	},
	{
		name:   "core/... imports no adapter, storage backend, transport or queue",
		pkgs:   []string{"core/..."},
		forbid: []string{"adapters/...", "storage/...", "transport/...", "queue/..."},
	},
	{
		// Provider SDKs (core/model/...) and the MCP client (core/tool/mcptool:
		// mcp-go's client and mcp packages) are allowed; its server part is not.
		name:   "core/... imports no protocol, storage or queue library (fiber, fasthttp, huma, pgx, SQL, go-redis, River, mcp-go server, slack-go, websocket)",
		pkgs:   []string{"core/..."},
		forbid: slices.Concat(serverLibs, sqlLibs, redisLibs, queueLibs),
	},
	{
		name:   "adapters never touch SQL or Redis: no SQL driver, Redis client, storage backend or queue",
		pkgs:   []string{"adapters/..."},
		forbid: slices.Concat(sqlLibs, redisLibs, queueLibs, []string{"storage/...", "queue/..."}),
	},
	{
		name:   "storage never imports an adapter or the HTTP transport",
		pkgs:   []string{"storage/..."},
		forbid: []string{"adapters/...", "transport/..."},
	},
	{
		// database/sql is its level; the backends bring the drivers.
		name:   "storage/sqlstore imports database/sql-level libraries only: no driver, backend, Redis or queue",
		pkgs:   []string{"storage/sqlstore"},
		forbid: slices.Concat(driverLibs, redisLibs, queueLibs, backendPkgs),
	},
	{
		name:   "auth imports no adapter, storage, transport or queue",
		pkgs:   []string{"auth/..."},
		forbid: []string{"adapters/...", "storage/...", "transport/...", "queue/..."},
	},
	{
		name:   "transport imports no adapter, storage or queue",
		pkgs:   []string{"transport/..."},
		forbid: []string{"adapters/...", "storage/...", "queue/..."},
	},
	{
		name:   "wiring is explicit in cmd and the root package: no library package imports them",
		pkgs:   libraryPkgs,
		forbid: []string{"", "cmd/..."},
	},
}

// pkg is a package as go list describes it.
type pkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Standard   bool
	Imports    []string
	Module     *struct {
		Path string
		Main bool
	}
}

// violation is one import that breaks a rule.
type violation struct{ pkg, imp, rule string }

func (v violation) String() string {
	return fmt.Sprintf("%s imports %s: breaks %q (DESIGN.md, Layout and who may import whom)", v.pkg, v.imp, v.rule)
}

// matches reports whether path (relative to the module when it is one of
// its packages) matches pattern.
func matches(path, pattern string) bool {
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == p || strings.HasPrefix(path, p+"/")
	}
	return path == pattern
}

func matchesAny(path string, patterns []string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return matches(path, p) })
}

// check applies rules to the module's packages (paths relative to the
// module) and their direct imports; std tells the standard library's
// packages. A rule that binds no package is an error: it could never fail.
func check(module string, pkgs map[string][]string, std func(string) bool, rules []rule) ([]violation, error) {
	rel := func(imp string) string {
		if imp == module {
			return ""
		}
		if r, ok := strings.CutPrefix(imp, module+"/"); ok {
			return r
		}
		return imp
	}
	var out []violation
	var errs []error
	names := make([]string, 0, len(pkgs))
	for p := range pkgs {
		names = append(names, p)
	}
	slices.Sort(names)
	for _, r := range rules {
		bound := 0
		for _, p := range names {
			if !matchesAny(p, r.pkgs) || matchesAny(p, r.except) {
				continue
			}
			bound++
			for _, imp := range pkgs[p] {
				ri := rel(imp)
				bad := matchesAny(ri, r.forbid)
				if r.allow != nil && !std(imp) && !matchesAny(ri, r.allow) {
					bad = true
				}
				if bad {
					out = append(out, violation{pkg: p, imp: imp, rule: r.name})
				}
			}
		}
		if bound == 0 {
			errs = append(errs, fmt.Errorf("rule %q binds no package (patterns %v): it cannot fail", r.name, r.pkgs))
		}
	}
	return out, errors.Join(errs...)
}

// load lists the module's packages with their direct imports (production
// code, not tests) and the standard library's packages among their deps.
func load(t *testing.T) (module string, pkgs map[string][]string, std map[string]bool, files []string) {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the packages: %v", err)
	}
	cmd := exec.Command(gobin, "list", "-deps", "-json", "github.com/agentgate/agentgate/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs, std = map[string][]string{}, map[string]bool{}
	var own []pkg
	for dec := json.NewDecoder(bytes.NewReader(outb)); ; {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Standard {
			std[p.ImportPath] = true
		}
		if p.Module != nil && p.Module.Main {
			module = p.Module.Path
			own = append(own, p)
		}
	}
	if module == "" {
		t.Fatal("go list listed no package of the main module")
	}
	for _, p := range own {
		r := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		pkgs[r] = p.Imports
		for _, f := range p.GoFiles {
			files = append(files, filepath.Join(p.Dir, f))
		}
	}
	return module, pkgs, std, files
}

// TestImportRules fails when a package of the module breaks an import rule
// of DESIGN.md.
func TestImportRules(t *testing.T) {
	module, pkgs, std, _ := load(t)
	vs, err := check(module, pkgs, func(p string) bool { return std[p] }, rules)
	if err != nil {
		t.Error(err)
	}
	for _, v := range vs {
		t.Error(v)
	}
	t.Logf("%d packages of %s checked against %d rules", len(pkgs), module, len(rules))
}

// TestCheckFindsViolations feeds the checker a tree that breaks every rule
// once (and keeps the allowed imports), so a checker that passes
// everything cannot hide behind a clean tree.
func TestCheckFindsViolations(t *testing.T) {
	const m = "example.com/gw"
	pkgs := map[string][]string{
		"":                 {m + "/core", "database/sql"},                                        // the root wires: anything goes
		"core":             {"context", "github.com/google/uuid", "github.com/gofiber/fiber/v2"}, // fiber: not a leaf library
		"core/agent":       {m + "/core", m + "/storage/sqlite"},
		"core/tool/mcp":    {"github.com/mark3labs/mcp-go/client", "github.com/mark3labs/mcp-go/server"},
		"core/model/x":     {"github.com/openai/openai-go/v3"},
		"adapters/rest":    {m + "/core", m + "/transport/httptransport", "database/sql", "github.com/redis/go-redis/v9"},
		"storage/sqlite":   {m + "/core", "modernc.org/sqlite", m + "/adapters/rest"},
		"storage/sqlstore": {m + "/core", "database/sql", "github.com/jackc/pgx/v5/pgconn", m + "/storage/sqlite"},
		"auth":             {m + "/core", m + "/queue/riverqueue"},
		"transport/httpx":  {m + "/auth", m + "/storage/memlog"},
		"queue/q":          {m, "github.com/riverqueue/river"},
		"cmd/gw":           {m},
	}
	std := func(p string) bool { return !strings.Contains(strings.Split(p, "/")[0], ".") }
	vs, err := check(m, pkgs, std, rules)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, v.pkg+" -> "+v.imp)
		if !strings.Contains(v.String(), v.rule) || !strings.Contains(v.String(), "DESIGN.md") {
			t.Errorf("the message %q names neither the rule nor DESIGN.md", v)
		}
	}
	slices.Sort(got)
	want := []string{
		"adapters/rest -> database/sql",
		"adapters/rest -> github.com/redis/go-redis/v9",
		"auth -> " + m + "/queue/riverqueue",
		"core -> github.com/gofiber/fiber/v2", // the leaf-library rule
		"core -> github.com/gofiber/fiber/v2", // and the protocol-library rule
		"core/agent -> " + m + "/storage/sqlite",
		"core/tool/mcp -> github.com/mark3labs/mcp-go/server",
		"queue/q -> " + m,
		"storage/sqlite -> " + m + "/adapters/rest",
		"storage/sqlstore -> " + m + "/storage/sqlite",
		"storage/sqlstore -> github.com/jackc/pgx/v5/pgconn",
		"transport/httpx -> " + m + "/storage/memlog",
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	// A rule whose packages are gone (a folder renamed) is reported, not
	// silently passed.
	if _, err := check(m, map[string][]string{"core": nil}, std, []rule{{name: "r", pkgs: []string{"nowhere/..."}, forbid: []string{"x"}}}); err == nil {
		t.Error("a rule that binds no package passed")
	}
}

// initFuncs returns the files (of those given) that declare func init.
func initFuncs(files []string) ([]string, error) {
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "init" {
				out = append(out, fset.Position(fd.Pos()).String())
			}
		}
	}
	return out, nil
}

// TestNoInit fails when production code declares func init: DESIGN.md
// wants explicit wiring, and an init that changes a library's globals (as
// the REST adapter's huma.NewError override once did) changes an
// embedder's own use of that library.
func TestNoInit(t *testing.T) {
	_, _, _, files := load(t)
	found, err := initFuncs(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range found {
		t.Errorf("%s: func init: wiring is explicit, in cmd and the root package (DESIGN.md, Layout and who may import whom)", at)
	}
	if len(files) == 0 {
		t.Fatal("no Go file listed")
	}

	// And the scan finds one.
	f := filepath.Join(t.TempDir(), "x.go")
	if err := os.WriteFile(f, []byte("package x\n\nfunc (T) init() {}\n\nfunc init() {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := initFuncs([]string{f}); err != nil || len(got) != 1 || !strings.HasSuffix(got[0], ":5:1") {
		t.Errorf("initFuncs on a file with func init = %v, %v; want its line 5", got, err)
	}
}

// isolationChecks returns where files of the adapters decide user isolation
// themselves (a principal's CanAccessUser, BindUserID or Isolated) instead
// of going through auth.Owned, the one owner-scoped accessor.
func isolationChecks(files []string) ([]string, error) {
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		if !strings.Contains(filepath.ToSlash(f), "/adapters/") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		ast.Inspect(af, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				switch sel.Sel.Name {
				case "CanAccessUser", "BindUserID", "Isolated":
					out = append(out, fset.Position(sel.Sel.Pos()).String()+" "+sel.Sel.Name)
				}
			}
			return true
		})
	}
	return out, nil
}

// TestIsolationInOnePlace fails when an adapter checks record owners
// itself: owner-bound records are read, listed and bound through
// auth.Owned, so that a new handler cannot forget user isolation.
func TestIsolationInOnePlace(t *testing.T) {
	_, _, _, files := load(t)
	found, err := isolationChecks(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range found {
		t.Errorf("%s: adapters read owner-bound records through auth.Owned (principal.Owned(engine)), not by comparing users", at)
	}

	// And the scan finds one.
	dir := filepath.Join(t.TempDir(), "adapters", "x")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "x.go")
	if err := os.WriteFile(f, []byte("package x\n\nfunc f(p P) bool {\n\treturn p.Isolated\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := isolationChecks([]string{f}); err != nil || len(got) != 1 || !strings.Contains(got[0], ":4:") {
		t.Errorf("isolationChecks on a file that reads Isolated = %v, %v; want its line 4", got, err)
	}
}
