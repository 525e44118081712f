// Package archtest holds the architecture test: the import rules of
// DESIGN.md ("Layout and who may import whom") as a table, checked against
// the direct imports of every package of the module (go list), so that
// `make test` fails when core imports an adapter, storage backend or
// protocol library, an adapter imports SQL or Redis, storage imports an
// adapter, or a library package imports the root package or cmd; and when
// production code declares func init (wiring is explicit).
package archtest
