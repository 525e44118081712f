package agent

import (
	"strings"
	"testing"
)

func TestParseMemoryOps(t *testing.T) {
	ops, err := parseMemoryOps("Here you go:\n```json\n[{\"op\":\"ADD\",\"memory\":\" likes tea \"},{\"op\":\"update\",\"id\":\"\",\"memory\":\"x\"},{\"op\":\"delete\",\"id\":\"m1\"},\"junk\"]\n```")
	if err != nil || len(ops) != 2 || ops[0].Op != "add" || ops[0].Memory != "likes tea" || ops[1].ID != "m1" {
		t.Fatalf("ops = %+v, %v", ops, err)
	}
	for _, bad := range []string{"", "nothing to do", "] [", "[1, 2"} {
		if _, err := parseMemoryOps(bad); err == nil {
			t.Errorf("parseMemoryOps(%q) = nil error", bad)
		}
	}
	if ops, err := parseMemoryOps("[]"); err != nil || len(ops) != 0 {
		t.Fatalf("[] = %v, %v", ops, err)
	}
	many := "[" + strings.Repeat(`{"op":"add","memory":"m"},`, 50) + `{"op":"add","memory":"m"}]`
	if ops, _ := parseMemoryOps(many); len(ops) != maxMemoryOps {
		t.Fatalf("%d ops applied of 51, want %d", len(ops), maxMemoryOps)
	}
	if got := clip(strings.Repeat("é", maxMemoryLen)); len(got) > maxMemoryLen || !strings.HasPrefix(got, "é") || strings.ContainsRune(got, '\uFFFD') {
		t.Fatalf("clip cut a rune: %d bytes", len(got))
	}
}

func FuzzParseMemoryOps(f *testing.F) {
	f.Add(`[{"op":"add","memory":"x"}]`)
	f.Add(`prose [{"op":"delete","id":"1"}] more ] prose`)
	f.Add(`[`)
	f.Fuzz(func(t *testing.T, s string) {
		ops, err := parseMemoryOps(s)
		if err != nil {
			return
		}
		if len(ops) > maxMemoryOps {
			t.Fatalf("%d ops", len(ops))
		}
		for _, op := range ops {
			switch op.Op {
			case "add":
				if op.Memory == "" {
					t.Fatal("add without memory")
				}
			case "update":
				if op.ID == "" || op.Memory == "" {
					t.Fatal("update without id or memory")
				}
			case "delete":
				if op.ID == "" {
					t.Fatal("delete without id")
				}
			default:
				t.Fatalf("op %q", op.Op)
			}
		}
	})
}
