package sqlstore_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/agentgate/agentgate/storage/sqlstore"
)

func TestSearchTerms(t *testing.T) {
	cases := map[string][]string{
		"":                                 nil,
		`Quantum "entanglement" AND (NOT)`: {"quantum", "entanglement", "and", "not"},
		"fox fox FOX":                      {"fox"},
		"naïve café, 東京 2024":              {"naïve", "café", "東京", "2024"},
		`'; DROP TABLE x; --`:              {"drop", "table", "x"},
		"a*b^c-d:e":                        {"a", "b", "c", "d", "e"},
	}
	for in, want := range cases {
		got := sqlstore.SearchTerms(in)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("SearchTerms(%q) = %q, want %q", in, got, want)
		}
	}
	if got := sqlstore.SearchTerms(strings.Repeat("é", 100)); len(got) != 1 || len(got[0]) != 64 {
		t.Errorf("a long term: %q", got)
	}
	var many strings.Builder
	for i := range 200 {
		many.WriteString(strings.Repeat("x", i%7+1) + string(rune('a'+i%26)) + " " + strings.Repeat("y", i) + " ")
	}
	if got := sqlstore.SearchTerms(many.String()); len(got) != sqlstore.MaxSearchTerms {
		t.Errorf("%d terms, want at most %d", len(got), sqlstore.MaxSearchTerms)
	}
}

// FuzzSearchTerms: whatever the text, the terms are what may reach FTS5
// and tsquery unquoted-safe: letters and digits only, valid UTF-8, bounded.
func FuzzSearchTerms(f *testing.F) {
	for _, s := range []string{"", "quantum entanglement", `"a" OR b* NEAR(c)`, "\x00\xff\xfe", strings.Repeat("ü", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		terms := sqlstore.SearchTerms(text)
		if len(terms) > sqlstore.MaxSearchTerms {
			t.Fatalf("%d terms", len(terms))
		}
		seen := map[string]bool{}
		for _, term := range terms {
			if term == "" || len(term) > 64 || !utf8.ValidString(term) || seen[term] {
				t.Fatalf("term %q of %q", term, text)
			}
			seen[term] = true
			for _, r := range term {
				if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					t.Fatalf("term %q holds %q", term, r)
				}
			}
		}
	})
}
