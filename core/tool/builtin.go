package tool

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// CurrentTime returns the current_time tool: the current time in RFC 3339,
// in an optional IANA time zone.
func CurrentTime() *Tool {
	return &Tool{
		Name:        "current_time",
		Description: "Returns the current date and time (RFC 3339), optionally in an IANA time zone.",
		Parameters: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"timezone": map[string]any{"type": "string", "description": "IANA time zone, e.g. Europe/Paris. Default UTC."},
			},
		},
		Call: func(_ context.Context, raw json.RawMessage) (string, error) {
			var args struct {
				Timezone string `json:"timezone"`
			}
			if err := decodeArgs(raw, &args); err != nil {
				return "", err
			}
			loc := time.UTC
			if args.Timezone != "" {
				l, err := time.LoadLocation(args.Timezone)
				if err != nil {
					return "", fmt.Errorf("unknown time zone %q", args.Timezone)
				}
				loc = l
			}
			return time.Now().In(loc).Format(time.RFC3339), nil
		},
	}
}

// Calculator returns the calculator tool: it evaluates an arithmetic
// expression with + - * / % ^, parentheses and unary minus.
func Calculator() *Tool {
	return &Tool{
		Name:        "calculator",
		Description: "Evaluates an arithmetic expression with + - * / % ^ and parentheses, e.g. (2+3)*4.",
		Parameters: map[string]any{
			"type":     "object",
			"required": []string{"expression"},
			"properties": map[string]any{
				"expression": map[string]any{"type": "string", "description": "The expression to evaluate."},
			},
		},
		Call: func(_ context.Context, raw json.RawMessage) (string, error) {
			var args struct {
				Expression string `json:"expression"`
			}
			if err := decodeArgs(raw, &args); err != nil {
				return "", err
			}
			v, err := Evaluate(args.Expression)
			if err != nil {
				return "", err
			}
			return strconv.FormatFloat(v, 'g', -1, 64), nil
		},
	}
}

func decodeArgs(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("invalid arguments: %v", err)
	}
	return nil
}

// maxExprLen bounds the input of Evaluate (a model may send anything).
const maxExprLen = 4096

// Evaluate computes an arithmetic expression. It never panics; nesting
// depth and length are bounded.
func Evaluate(expr string) (float64, error) {
	if len(expr) > maxExprLen {
		return 0, fmt.Errorf("expression longer than %d characters", maxExprLen)
	}
	p := &parser{s: expr}
	v, err := p.expr(0)
	if err != nil {
		return 0, err
	}
	p.space()
	if p.i < len(p.s) {
		return 0, fmt.Errorf("unexpected %q at position %d", p.s[p.i], p.i)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("result is not a finite number")
	}
	return v, nil
}

const maxDepth = 64

type parser struct {
	s string
	i int
}

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *parser) peek() byte {
	p.space()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// expr := term (('+'|'-') term)*
func (p *parser) expr(depth int) (float64, error) {
	v, err := p.term(depth)
	if err != nil {
		return 0, err
	}
	for {
		switch p.peek() {
		case '+':
			p.i++
			r, err := p.term(depth)
			if err != nil {
				return 0, err
			}
			v += r
		case '-':
			p.i++
			r, err := p.term(depth)
			if err != nil {
				return 0, err
			}
			v -= r
		default:
			return v, nil
		}
	}
}

// term := power (('*'|'/'|'%') power)*
func (p *parser) term(depth int) (float64, error) {
	v, err := p.power(depth)
	if err != nil {
		return 0, err
	}
	for {
		op := p.peek()
		if op != '*' && op != '/' && op != '%' {
			return v, nil
		}
		p.i++
		r, err := p.power(depth)
		if err != nil {
			return 0, err
		}
		switch op {
		case '*':
			v *= r
		case '/':
			if r == 0 {
				return 0, fmt.Errorf("division by zero")
			}
			v /= r
		case '%':
			if r == 0 {
				return 0, fmt.Errorf("modulo by zero")
			}
			v = math.Mod(v, r)
		}
	}
}

// power := unary ('^' power)?
func (p *parser) power(depth int) (float64, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("expression nested too deeply")
	}
	b, err := p.unary(depth)
	if err != nil {
		return 0, err
	}
	if p.peek() == '^' {
		p.i++
		e, err := p.power(depth + 1)
		if err != nil {
			return 0, err
		}
		return math.Pow(b, e), nil
	}
	return b, nil
}

// unary := ('-'|'+') unary | primary
func (p *parser) unary(depth int) (float64, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("expression nested too deeply")
	}
	switch p.peek() {
	case '-':
		p.i++
		v, err := p.unary(depth + 1)
		return -v, err
	case '+':
		p.i++
		return p.unary(depth + 1)
	}
	return p.primary(depth)
}

// primary := number | '(' expr ')'
func (p *parser) primary(depth int) (float64, error) {
	c := p.peek()
	if c == '(' {
		p.i++
		v, err := p.expr(depth + 1)
		if err != nil {
			return 0, err
		}
		if p.peek() != ')' {
			return 0, fmt.Errorf("missing closing parenthesis")
		}
		p.i++
		return v, nil
	}
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] >= '0' && p.s[p.i] <= '9' || p.s[p.i] == '.' || p.s[p.i] == '_') {
		p.i++
	}
	if start == p.i {
		if c == 0 {
			return 0, fmt.Errorf("unexpected end of expression")
		}
		return 0, fmt.Errorf("unexpected %q at position %d", c, p.i)
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(p.s[start:p.i], "_", ""), 64)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", p.s[start:p.i])
	}
	return v, nil
}
