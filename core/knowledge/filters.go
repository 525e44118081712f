package knowledge

import (
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/core"
)

// NormalizeFilters turns a search's filters into the store's equality
// map. They are either a dict of metadata keys and the values they must
// equal, or AgentOS's filter expression: {"op": "EQ", "key": k, "value":
// v}, or {"op": "AND", "conditions": [...]} of such. Other operators are
// refused (400) naming what is supported.
func NormalizeFilters(f map[string]any) (map[string]any, error) {
	op, isExpr := f["op"].(string)
	if !isExpr || (f["key"] == nil && f["conditions"] == nil) {
		return f, nil
	}
	out := map[string]any{}
	if err := addExpr(out, f, op, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func addExpr(out map[string]any, e map[string]any, op string, depth int) error {
	if depth > 16 {
		return core.Errorf(core.CodeInvalid, "filters: the expression is nested too deep")
	}
	switch strings.ToUpper(op) {
	case "EQ":
		key, ok := e["key"].(string)
		if !ok || key == "" {
			return core.Errorf(core.CodeInvalid, "filters: an EQ needs a key")
		}
		v, ok := e["value"]
		if !ok {
			return core.Errorf(core.CodeInvalid, "filters: EQ %q needs a value", key)
		}
		if old, dup := out[key]; dup && fmt.Sprint(old) != fmt.Sprint(v) {
			return core.Errorf(core.CodeInvalid, "filters: %q must equal both %v and %v", key, old, v)
		}
		out[key] = v
		return nil
	case "AND":
		conds, ok := e["conditions"].([]any)
		if !ok {
			return core.Errorf(core.CodeInvalid, "filters: AND needs a list of conditions")
		}
		for _, c := range conds {
			m, ok := c.(map[string]any)
			if !ok {
				return core.Errorf(core.CodeInvalid, "filters: a condition is not an object")
			}
			cop, _ := m["op"].(string)
			if err := addExpr(out, m, cop, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return core.Errorf(core.CodeInvalid, "filters: operator %q is not supported on knowledge search (EQ, and AND of EQs; or a dict of key: value)", op)
}
