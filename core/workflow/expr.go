package workflow

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Env is what a condition, loop end condition, router selector or step
// input expression sees (github.com/expr-lang/expr syntax):
//
//	input                  the workflow's input (string)
//	previous               the previous step's output content (string)
//	steps["name"].content  an earlier step's output (also .success, .error)
//	iteration              the current loop iteration (1-based; 0 outside loops)
//	session_state          the session's state (map)
//	user_input             the values a step's user input supplied (map)
//
// e.g. `input contains "publish"`, `len(steps["draft"].content) > 200`,
// `iteration >= 3 || previous contains "DONE"`.
type Env struct {
	Input        string              `expr:"input"`
	Previous     string              `expr:"previous"`
	Steps        map[string]StepView `expr:"steps"`
	Iteration    int                 `expr:"iteration"`
	SessionState map[string]any      `expr:"session_state"`
	UserInput    map[string]any      `expr:"user_input"`
}

// StepView is an earlier step's output as expressions see it.
type StepView struct {
	Content string `expr:"content"`
	Success bool   `expr:"success"`
	Error   string `expr:"error"`
}

// exprKind is what an expression must evaluate to.
type exprKind int

const (
	boolExpr   exprKind = iota // a condition
	choiceExpr                 // a router selector: a choice name or a list of them
	stringExpr                 // a step's input
)

// Expr is a compiled expression.
type Expr struct {
	src  string
	kind exprKind
	prog *vm.Program
}

// maxExprNodes bounds an expression's size.
const maxExprNodes = 2000

// compileExpr compiles src against Env, checking its result type where the
// type checker can (a condition must be a bool).
func compileExpr(src string, kind exprKind) (*Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("the expression is empty")
	}
	opts := []expr.Option{expr.Env(Env{}), expr.MaxNodes(maxExprNodes)}
	switch kind {
	case boolExpr:
		opts = append(opts, expr.AsBool())
	case stringExpr:
		opts = append(opts, expr.AsKind(reflect.String))
	}
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid expression %q: %s", src, oneLine(err.Error()))
	}
	return &Expr{src: src, kind: kind, prog: prog}, nil
}

// CompileCondition compiles a boolean expression over Env.
func CompileCondition(src string) (*Expr, error) { return compileExpr(src, boolExpr) }

// String is the expression's source.
func (e *Expr) String() string { return e.src }

// Bool evaluates a condition.
func (e *Expr) Bool(env Env) (bool, error) {
	v, err := e.run(env)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("expression %q gave %T, not a bool", e.src, v)
	}
	return b, nil
}

// Text evaluates a string expression.
func (e *Expr) Text(env Env) (string, error) {
	v, err := e.run(env)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("expression %q gave %T, not a string", e.src, v)
	}
	return s, nil
}

// Choices evaluates a router selector: a name, or a list of names.
func (e *Expr) Choices(env Env) ([]string, error) {
	v, err := e.run(env)
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []string:
		return v, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("router selector %q gave a list holding %T, not choice names", e.src, x)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("router selector %q gave %T, not a choice name or a list of them", e.src, v)
}

func (e *Expr) run(env Env) (out any, err error) {
	defer func() {
		if r := recover(); r != nil { // expr's VM recovers its own; belt and braces
			out, err = nil, fmt.Errorf("expression %q failed: %v", e.src, r)
		}
	}()
	v, err := expr.Run(e.prog, env)
	if err != nil {
		return nil, fmt.Errorf("expression %q failed: %s", e.src, oneLine(err.Error()))
	}
	return v, nil
}

// literalChoices are the choice names a selector can give as written: the
// string literals it returns directly, through ?: / if-else branches and
// array literals (a computed name is checked at run time).
func (e *Expr) literalChoices() []string {
	var out []string
	var walk func(n ast.Node)
	walk = func(n ast.Node) {
		switch n := n.(type) {
		case *ast.StringNode:
			out = append(out, n.Value)
		case *ast.ConditionalNode:
			walk(n.Exp1)
			walk(n.Exp2)
		case *ast.ArrayNode:
			for _, x := range n.Nodes {
				walk(x)
			}
		case *ast.ConstantNode:
			switch v := n.Value.(type) {
			case string:
				out = append(out, v)
			case []any:
				for _, x := range v {
					if s, ok := x.(string); ok {
						out = append(out, s)
					}
				}
			}
		}
	}
	walk(e.prog.Node())
	return out
}

// oneLine keeps the first line of expr's error (the rest is a caret
// drawing of the source).
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
