package recipe

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The expression language is the subset of Jinja that v1 recipes use inside ${{ ... }}
// and in `if:` selectors: literals, variables, `~` concatenation, comparisons, and/or/not,
// `in`, indexing and slicing, inline `a if cond else b`, and the filters rattler-build
// provides. Anything else is an error that names the position, never a silent "".

// Value is the result of an expression: string, int64, bool, []Value or nil (none).
type Value any

// Scope resolves variable names.
type Scope map[string]Value

// exprError is an error inside one expression; the caller adds file and line.
type exprError struct {
	expr string
	pos  int
	msg  string
}

func (e *exprError) Error() string {
	if e.pos >= 0 && e.pos <= len(e.expr) {
		return fmt.Sprintf("%s (in %q at column %d)", e.msg, e.expr, e.pos+1)
	}
	return fmt.Sprintf("%s (in %q)", e.msg, e.expr)
}

// UndefinedError is returned for a variable that is neither in the context nor a
// platform variable.
type UndefinedError struct {
	Name  string
	Known []string
}

func (e *UndefinedError) Error() string {
	return fmt.Sprintf("unknown variable %q (known: %s)", e.Name, strings.Join(e.Known, ", "))
}

// maxDepth bounds the nesting of an expression (parentheses, `not not ...`, `- - ...`)
// and of its evaluation, so that hostile input gets an error instead of exhausting the
// stack (a Go stack overflow is fatal, not a recoverable panic).
const maxDepth = 200

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tInt
	tOp
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			// Identifiers are ASCII, as in Jinja. (Bytes were once tested with
			// unicode.IsLetter(rune(b)), which took the lead byte of a UTF-8 sequence
			// for a Latin-1 letter and cut identifiers in the middle of a character.)
			j := i
			for j < len(src) && (isIdentStart(src[j]) || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			toks = append(toks, token{tIdent, src[i:j], i})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			toks = append(toks, token{tInt, src[i:j], i})
			i = j
		case c == '"' || c == '\'':
			var sb strings.Builder
			j := i + 1
			for ; j < len(src) && src[j] != c; j++ {
				if src[j] == '\\' && j+1 < len(src) {
					j++
					switch src[j] {
					case 'n':
						sb.WriteByte('\n')
					case 't':
						sb.WriteByte('\t')
					default:
						sb.WriteByte(src[j])
					}
					continue
				}
				sb.WriteByte(src[j])
			}
			if j >= len(src) {
				return nil, &exprError{src, i, "unterminated string"}
			}
			toks = append(toks, token{tString, sb.String(), i})
			i = j + 1
		default:
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch two {
			case "==", "!=", "<=", ">=", "//":
				toks = append(toks, token{tOp, two, i})
				i += 2
				continue
			}
			if strings.IndexByte("<>~|()[],:.+-*/%=", c) >= 0 {
				toks = append(toks, token{tOp, string(c), i})
				i++
				continue
			}
			r, _ := utf8.DecodeRuneInString(src[i:])
			return nil, &exprError{src, i, fmt.Sprintf("unexpected character %q", r)}
		}
	}
	return append(toks, token{tEOF, "", len(src)}), nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// node is a parsed expression.
type node interface{}

type (
	litNode struct{ v Value }
	varNode struct {
		name string
		pos  int
	}
	listNode  struct{ items []node }
	unaryNode struct {
		op string
		x  node
	}
	binNode struct {
		op   string
		l, r node
		pos  int
	}
	condNode  struct{ then, cond, els node }
	indexNode struct {
		x, idx node
		pos    int
	}
	sliceNode struct {
		x, lo, hi node
		pos       int
	}
	filterNode struct {
		x    node
		name string
		args []node
		pos  int
	}
	callNode struct {
		name string
		args []node
		pos  int
	}
	// methodNode is obj.name(args): only the env object's get and exists.
	methodNode struct {
		obj   string
		name  string
		args  []node
		kwarg []string // the keyword of each argument, "" when positional
		pos   int
	}
	testNode struct {
		x    node
		name string
		neg  bool
		pos  int
	}
)

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

// parseExpr parses a whole expression.
func parseExpr(src string) (node, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	n, err := p.ternary()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t, fmt.Sprintf("unexpected %q", t.text))
	}
	return n, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}
func (p *parser) isOp(s string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == s
}
func (p *parser) isKw(s string) bool {
	t := p.peek()
	return t.kind == tIdent && t.text == s
}
func (p *parser) errAt(t token, msg string) error { return &exprError{p.src, t.pos, msg} }
func (p *parser) expectOp(s string) error {
	if !p.isOp(s) {
		t := p.peek()
		if t.kind == tEOF {
			return p.errAt(t, fmt.Sprintf("expected %q, found the end", s))
		}
		return p.errAt(t, fmt.Sprintf("expected %q, found %q", s, t.text))
	}
	p.next()
	return nil
}

// enter counts one level of recursion; every recursive path of the grammar goes through
// ternary, not or unary, which call it.
func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errAt(p.peek(), "expression nested too deeply")
	}
	return nil
}

func (p *parser) ternary() (node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.isKw("if") {
		p.next()
		cond, err := p.or()
		if err != nil {
			return nil, err
		}
		var els node = litNode{""}
		if p.isKw("else") {
			p.next()
			if els, err = p.ternary(); err != nil {
				return nil, err
			}
		}
		return condNode{then: x, cond: cond, els: els}, nil
	}
	return x, nil
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isKw("or") {
		t := p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = binNode{"or", l, r, t.pos}
	}
	return l, nil
}

func (p *parser) and() (node, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.isKw("and") {
		t := p.next()
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = binNode{"and", l, r, t.pos}
	}
	return l, nil
}

func (p *parser) not() (node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if p.isKw("not") {
		p.next()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return unaryNode{"not", x}, nil
	}
	return p.cmp()
}

func (p *parser) cmp() (node, error) {
	l, err := p.concat()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		op := ""
		switch {
		case t.kind == tOp && (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">="):
			op = t.text
			p.next()
		case p.isKw("in"):
			op = "in"
			p.next()
		case p.isKw("not") && p.i+1 < len(p.toks) && p.toks[p.i+1].kind == tIdent && p.toks[p.i+1].text == "in":
			op = "not in"
			p.next()
			p.next()
		default:
			return l, nil
		}
		r, err := p.concat()
		if err != nil {
			return nil, err
		}
		l = binNode{op, l, r, t.pos}
	}
}

func (p *parser) concat() (node, error) {
	l, err := p.add()
	if err != nil {
		return nil, err
	}
	for p.isOp("~") {
		t := p.next()
		r, err := p.add()
		if err != nil {
			return nil, err
		}
		l = binNode{"~", l, r, t.pos}
	}
	return l, nil
}

func (p *parser) add() (node, error) {
	l, err := p.mul()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") {
		t := p.next()
		r, err := p.mul()
		if err != nil {
			return nil, err
		}
		l = binNode{t.text, l, r, t.pos}
	}
	return l, nil
}

func (p *parser) mul() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%") {
		t := p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = binNode{t.text, l, r, t.pos}
	}
	return l, nil
}

func (p *parser) unary() (node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if p.isOp("-") {
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return unaryNode{"-", x}, nil
	}
	return p.postfix()
}

func (p *parser) postfix() (node, error) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.isOp("["):
			t := p.next()
			var lo, hi node
			if !p.isOp(":") {
				if lo, err = p.ternary(); err != nil {
					return nil, err
				}
			}
			if p.isOp(":") {
				p.next()
				if !p.isOp("]") {
					if hi, err = p.ternary(); err != nil {
						return nil, err
					}
				}
				if err := p.expectOp("]"); err != nil {
					return nil, err
				}
				x = sliceNode{x, lo, hi, t.pos}
				continue
			}
			if err := p.expectOp("]"); err != nil {
				return nil, err
			}
			x = indexNode{x, lo, t.pos}
		case p.isOp("|"):
			p.next()
			t := p.next()
			if t.kind != tIdent {
				return nil, p.errAt(t, "expected a filter name after |")
			}
			var args []node
			if p.isOp("(") {
				if args, _, err = p.args(); err != nil {
					return nil, err
				}
			}
			x = filterNode{x, t.text, args, t.pos}
		case p.isKw("is"):
			t := p.next()
			neg := false
			if p.isKw("not") {
				p.next()
				neg = true
			}
			name := p.next()
			if name.kind != tIdent {
				return nil, p.errAt(name, "expected a test name after 'is'")
			}
			x = testNode{x, name.text, neg, t.pos}
		case p.isOp("."):
			t := p.next()
			obj, isVar := x.(varNode)
			name := p.peek()
			if !isVar || obj.name != "env" || name.kind != tIdent || (name.text != "get" && name.text != "exists") {
				return nil, p.errAt(t, "attribute and method access is not supported (only env.get and env.exists): use filters, e.g. (version | split('.'))[0]")
			}
			p.next()
			if !p.isOp("(") {
				return nil, p.errAt(name, "env."+name.text+" is a function: env."+name.text+"(\"NAME\")")
			}
			args, kw, err := p.args()
			if err != nil {
				return nil, err
			}
			x = methodNode{obj.name, name.text, args, kw, t.pos}
		default:
			return x, nil
		}
	}
}

// args parses a call's arguments and the keyword of each ("" when positional). Filters
// take keyword arguments (sep=".") positionally.
func (p *parser) args() ([]node, []string, error) {
	if err := p.expectOp("("); err != nil {
		return nil, nil, err
	}
	var args []node
	var kw []string
	for !p.isOp(")") {
		key := ""
		if p.peek().kind == tIdent && p.i+1 < len(p.toks) && p.toks[p.i+1].kind == tOp && p.toks[p.i+1].text == "=" {
			key = p.next().text
			p.next()
		}
		a, err := p.ternary()
		if err != nil {
			return nil, nil, err
		}
		args = append(args, a)
		kw = append(kw, key)
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	return args, kw, p.expectOp(")")
}

func (p *parser) primary() (node, error) {
	t := p.next()
	switch t.kind {
	case tInt:
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return nil, p.errAt(t, "number out of range")
		}
		return litNode{n}, nil
	case tString:
		return litNode{t.text}, nil
	case tIdent:
		switch t.text {
		case "true", "True":
			return litNode{true}, nil
		case "false", "False":
			return litNode{false}, nil
		case "none", "None":
			return litNode{nil}, nil
		}
		if p.isOp("(") {
			args, _, err := p.args()
			if err != nil {
				return nil, err
			}
			return callNode{t.text, args, t.pos}, nil
		}
		return varNode{t.text, t.pos}, nil
	case tOp:
		switch t.text {
		case "(":
			x, err := p.ternary()
			if err != nil {
				return nil, err
			}
			return x, p.expectOp(")")
		case "[":
			var items []node
			for !p.isOp("]") {
				x, err := p.ternary()
				if err != nil {
					return nil, err
				}
				items = append(items, x)
				if !p.isOp(",") {
					break
				}
				p.next()
			}
			return listNode{items}, p.expectOp("]")
		}
	case tEOF:
		return nil, p.errAt(t, "expression ends too early")
	}
	return nil, p.errAt(t, fmt.Sprintf("unexpected %q", t.text))
}

// evaluator evaluates a parsed expression in a scope.
type evaluator struct {
	src   string
	scope Scope
	depth int
}

// Eval parses and evaluates src in scope. Every variable the expression names must be in
// scope, also in a branch that evaluation skips (`linux64 or windows64` is an error on
// linux-64 too), unless it is tested with `is defined` or given a `| default(...)`.
func Eval(src string, scope Scope) (Value, error) {
	n, err := parseExpr(src)
	if err != nil {
		return nil, err
	}
	if err := checkNames(n, scope); err != nil {
		return nil, err
	}
	return (&evaluator{src: src, scope: scope}).eval(n)
}

// Check parses src and checks its variables against scope without evaluating it.
func Check(src string, scope Scope) error {
	n, err := parseExpr(src)
	if err != nil {
		return err
	}
	return checkNames(n, scope)
}

// checkNames reports the first variable of the expression that the scope lacks. A name
// tested with `is defined` on the left of an `and` (or `is undefined` on the left of an
// `or`) may be used on its right, the Jinja idiom for optional variables.
func checkNames(n node, scope Scope) error {
	return checkGuarded(n, scope, nil)
}

func checkGuarded(n node, scope Scope, guarded map[string]bool) error {
	check := func(c node) error { return checkGuarded(c, scope, guarded) }
	switch n := n.(type) {
	case varNode:
		if _, ok := scope[n.name]; !ok && !guarded[n.name] {
			return undefinedError(n.name, scope)
		}
	case listNode:
		for _, it := range n.items {
			if err := check(it); err != nil {
				return err
			}
		}
	case unaryNode:
		return check(n.x)
	case binNode:
		if err := check(n.l); err != nil {
			return err
		}
		if n.op == "and" || n.op == "or" {
			if names := guardedBy(n.l, n.op == "or"); len(names) > 0 {
				inner := map[string]bool{}
				for k := range guarded {
					inner[k] = true
				}
				for _, k := range names {
					inner[k] = true
				}
				return checkGuarded(n.r, scope, inner)
			}
		}
		return check(n.r)
	case condNode:
		if err := check(n.cond); err != nil {
			return err
		}
		inner := guarded
		if names := guardedBy(n.cond, false); len(names) > 0 {
			inner = map[string]bool{}
			for k := range guarded {
				inner[k] = true
			}
			for _, k := range names {
				inner[k] = true
			}
		}
		if err := checkGuarded(n.then, scope, inner); err != nil {
			return err
		}
		return check(n.els)
	case indexNode:
		if err := check(n.x); err != nil {
			return err
		}
		return check(n.idx)
	case sliceNode:
		for _, c := range []node{n.x, n.lo, n.hi} {
			if c != nil {
				if err := check(c); err != nil {
					return err
				}
			}
		}
	case filterNode:
		if _, isVar := n.x.(varNode); !(isVar && n.name == "default") {
			if err := check(n.x); err != nil {
				return err
			}
		}
		for _, a := range n.args {
			if err := check(a); err != nil {
				return err
			}
		}
	case testNode:
		if _, isVar := n.x.(varNode); !(isVar && (n.name == "defined" || n.name == "undefined")) {
			return check(n.x)
		}
	case methodNode:
		if _, ok := scope[n.obj]; !ok {
			return undefinedError(n.obj, scope)
		}
		for _, a := range n.args {
			if err := check(a); err != nil {
				return err
			}
		}
	case callNode:
		for _, a := range n.args {
			if err := check(a); err != nil {
				return err
			}
		}
	}
	return nil
}

// guardedBy lists the variables that n, when true (or false when negated), proves
// defined: `x is defined`, `x is not undefined`, and `and` chains of them.
func guardedBy(n node, negated bool) []string {
	switch n := n.(type) {
	case testNode:
		v, isVar := n.x.(varNode)
		if !isVar || (n.name != "defined" && n.name != "undefined") {
			return nil
		}
		if (n.name == "defined") != n.neg != negated {
			return []string{v.name}
		}
	case unaryNode:
		if n.op == "not" {
			return guardedBy(n.x, !negated)
		}
	case binNode:
		if (n.op == "and" && !negated) || (n.op == "or" && negated) {
			return append(guardedBy(n.l, negated), guardedBy(n.r, negated)...)
		}
	}
	return nil
}

func undefinedError(name string, scope Scope) *UndefinedError {
	known := make([]string, 0, len(scope))
	for k := range scope {
		known = append(known, k)
	}
	sort.Strings(known)
	return &UndefinedError{Name: name, Known: known}
}

func (ev *evaluator) errf(pos int, format string, args ...any) error {
	return &exprError{ev.src, pos, fmt.Sprintf(format, args...)}
}

func (ev *evaluator) eval(n node) (Value, error) {
	// Left-associative chains (a ~ a ~ a ...) nest without recursing in the parser.
	ev.depth++
	defer func() { ev.depth-- }()
	if ev.depth > 4*maxDepth {
		return nil, ev.errf(-1, "expression nested too deeply")
	}
	switch n := n.(type) {
	case litNode:
		return n.v, nil
	case varNode:
		v, ok := ev.scope[n.name]
		if !ok {
			return nil, undefinedError(n.name, ev.scope)
		}
		if _, isEnv := v.(Env); isEnv {
			return nil, ev.errf(n.pos, "env is an object: use env.get(\"NAME\") or env.exists(\"NAME\")")
		}
		return v, nil
	case methodNode:
		return ev.envMethod(n)
	case listNode:
		out := make([]Value, 0, len(n.items))
		for _, it := range n.items {
			v, err := ev.eval(it)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case unaryNode:
		v, err := ev.eval(n.x)
		if err != nil {
			return nil, err
		}
		if n.op == "not" {
			return !Truthy(v), nil
		}
		i, ok := v.(int64)
		if !ok {
			return nil, ev.errf(-1, "cannot negate %s", typeName(v))
		}
		return -i, nil
	case condNode:
		c, err := ev.eval(n.cond)
		if err != nil {
			return nil, err
		}
		if Truthy(c) {
			return ev.eval(n.then)
		}
		return ev.eval(n.els)
	case binNode:
		return ev.binary(n)
	case indexNode:
		x, err := ev.eval(n.x)
		if err != nil {
			return nil, err
		}
		idx, err := ev.eval(n.idx)
		if err != nil {
			return nil, err
		}
		i, ok := idx.(int64)
		if !ok {
			return nil, ev.errf(n.pos, "index must be an integer, got %s", typeName(idx))
		}
		switch x := x.(type) {
		case []Value:
			if i < 0 {
				i += int64(len(x))
			}
			if i < 0 || i >= int64(len(x)) {
				return nil, ev.errf(n.pos, "index %d out of range for a list of %d", i, len(x))
			}
			return x[i], nil
		case string:
			// Strings index by character, as in Jinja, not by byte (a byte of a
			// multi-byte character turned into a different character).
			rs := []rune(x)
			if i < 0 {
				i += int64(len(rs))
			}
			if i < 0 || i >= int64(len(rs)) {
				return nil, ev.errf(n.pos, "index %d out of range for a string of %d", i, len(rs))
			}
			return string(rs[i]), nil
		}
		return nil, ev.errf(n.pos, "cannot index %s", typeName(x))
	case sliceNode:
		x, err := ev.eval(n.x)
		if err != nil {
			return nil, err
		}
		var length int
		switch x := x.(type) {
		case []Value:
			length = len(x)
		case string:
			length = utf8.RuneCountInString(x) // by character, like indexing
		default:
			return nil, ev.errf(n.pos, "cannot slice %s", typeName(x))
		}
		bound := func(b node, def int) (int, error) {
			if b == nil {
				return def, nil
			}
			v, err := ev.eval(b)
			if err != nil {
				return 0, err
			}
			i, ok := v.(int64)
			if !ok {
				return 0, ev.errf(n.pos, "slice bound must be an integer")
			}
			if i < 0 {
				i += int64(length)
			}
			return int(max(0, min(i, int64(length)))), nil
		}
		lo, err := bound(n.lo, 0)
		if err != nil {
			return nil, err
		}
		hi, err := bound(n.hi, length)
		if err != nil {
			return nil, err
		}
		if hi < lo {
			hi = lo
		}
		if s, ok := x.(string); ok {
			return string([]rune(s)[lo:hi]), nil
		}
		return append([]Value{}, x.([]Value)[lo:hi]...), nil
	case filterNode:
		x, err := ev.eval(n.x)
		if err != nil {
			// `name | default(...)` is how a recipe tests for an unset variable: in
			// Jinja (strict undefined included) it yields the default instead of failing.
			var u *UndefinedError
			if _, isVar := n.x.(varNode); !(isVar && n.name == "default" && asUndefined(err, &u)) {
				return nil, err
			}
			x = undefined{}
		}
		args := make([]Value, len(n.args))
		for i, a := range n.args {
			if args[i], err = ev.eval(a); err != nil {
				return nil, err
			}
		}
		return ev.filter(n, x, args)
	case callNode:
		return nil, ev.errf(n.pos, "function %s() is not supported in condachan recipes", n.name)
	case testNode:
		x, err := ev.eval(n.x)
		var r bool
		switch n.name {
		case "defined", "undefined":
			var u *UndefinedError
			isUndef := err != nil && asUndefined(err, &u)
			if err != nil && !isUndef {
				return nil, err
			}
			r = !isUndef
			if n.name == "undefined" {
				r = isUndef
			}
		case "none":
			if err != nil {
				return nil, err
			}
			r = x == nil
		case "string":
			if err != nil {
				return nil, err
			}
			_, r = x.(string)
		case "number", "integer":
			if err != nil {
				return nil, err
			}
			_, r = x.(int64)
		default:
			return nil, ev.errf(n.pos, "unknown test %q", n.name)
		}
		return r != n.neg, nil
	}
	return nil, fmt.Errorf("internal: unknown expression node %T", n)
}

// Env is the `env` object of expressions: env.get("NAME"), env.get("NAME",
// default="value") and env.exists("NAME") read the environment condachan runs in, as
// rattler-build's do.
type Env struct {
	Lookup func(string) (string, bool)
}

func (ev *evaluator) envMethod(n methodNode) (Value, error) {
	env, ok := ev.scope[n.obj].(Env)
	if !ok {
		return nil, ev.errf(n.pos, "%s.%s: %s is not the env object", n.obj, n.name, n.obj)
	}
	args := make([]Value, len(n.args))
	for i, a := range n.args {
		v, err := ev.eval(a)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	if len(args) == 0 || n.kwarg[0] != "" {
		return nil, ev.errf(n.pos, "env.%s needs the variable name as its first argument", n.name)
	}
	name, ok := args[0].(string)
	if !ok {
		return nil, ev.errf(n.pos, "env.%s: the variable name must be a string, got %s", n.name, typeName(args[0]))
	}
	value, set := env.Lookup(name)
	if n.name == "exists" {
		if len(args) != 1 {
			return nil, ev.errf(n.pos, "env.exists takes one argument")
		}
		return set, nil
	}
	var def Value
	hasDefault := false
	for i := 1; i < len(args); i++ {
		if n.kwarg[i] != "default" || hasDefault {
			return nil, ev.errf(n.pos, "env.get takes the variable name and an optional default=\"...\" keyword argument")
		}
		def, hasDefault = args[i], true
	}
	if set {
		return value, nil
	}
	if hasDefault {
		return def, nil
	}
	return nil, ev.errf(n.pos, "environment variable %s is not set (give env.get a default=\"...\" or set it)", name)
}

func asUndefined(err error, target **UndefinedError) bool {
	u, ok := err.(*UndefinedError)
	if ok {
		*target = u
	}
	return ok
}

func (ev *evaluator) binary(n binNode) (Value, error) {
	l, err := ev.eval(n.l)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case "and":
		if !Truthy(l) {
			return l, nil
		}
		return ev.eval(n.r)
	case "or":
		if Truthy(l) {
			return l, nil
		}
		return ev.eval(n.r)
	}
	r, err := ev.eval(n.r)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case "~":
		return ToString(l) + ToString(r), nil
	case "==":
		return equal(l, r), nil
	case "!=":
		return !equal(l, r), nil
	case "in", "not in":
		var found bool
		switch r := r.(type) {
		case string:
			s, ok := l.(string)
			if !ok {
				return nil, ev.errf(n.pos, "'in' a string needs a string on the left, got %s", typeName(l))
			}
			found = strings.Contains(r, s)
		case []Value:
			for _, it := range r {
				if equal(l, it) {
					found = true
					break
				}
			}
		default:
			return nil, ev.errf(n.pos, "'in' needs a list or string on the right, got %s", typeName(r))
		}
		return found == (n.op == "in"), nil
	case "<", "<=", ">", ">=":
		c, err := compare(l, r)
		if err != nil {
			return nil, ev.errf(n.pos, "%v", err)
		}
		switch n.op {
		case "<":
			return c < 0, nil
		case "<=":
			return c <= 0, nil
		case ">":
			return c > 0, nil
		}
		return c >= 0, nil
	case "+":
		if ls, ok := l.(string); ok {
			if rs, ok := r.(string); ok {
				return ls + rs, nil
			}
		}
		if ll, ok := l.([]Value); ok {
			if rl, ok := r.([]Value); ok {
				return append(append([]Value(nil), ll...), rl...), nil
			}
		}
		fallthrough
	case "-", "*", "/", "//", "%":
		li, lok := l.(int64)
		ri, rok := r.(int64)
		if !lok || !rok {
			return nil, ev.errf(n.pos, "operator %s needs integers, got %s and %s", n.op, typeName(l), typeName(r))
		}
		switch n.op {
		case "+":
			return li + ri, nil
		case "-":
			return li - ri, nil
		case "*":
			return li * ri, nil
		}
		if ri == 0 {
			return nil, ev.errf(n.pos, "division by zero")
		}
		// Jinja's / gives a float and its // and % round toward minus infinity (Python);
		// Go's / and % truncate. There are no floats here: / is exact or an error.
		q, m := li/ri, li%ri
		if m != 0 && (m < 0) != (ri < 0) {
			q, m = q-1, m+ri
		}
		switch n.op {
		case "/":
			if m != 0 {
				return nil, ev.errf(n.pos, "%d / %d is not a whole number; use // for integer division", li, ri)
			}
			return q, nil
		case "//":
			return q, nil
		}
		return m, nil
	}
	return nil, ev.errf(n.pos, "unknown operator %s", n.op)
}

func (ev *evaluator) filter(n filterNode, x Value, args []Value) (Value, error) {
	argStr := func(i int, def string) (string, error) {
		if i >= len(args) {
			return def, nil
		}
		s, ok := args[i].(string)
		if !ok {
			return "", ev.errf(n.pos, "filter %s: argument %d must be a string", n.name, i+1)
		}
		return s, nil
	}
	list := func() ([]Value, error) {
		switch x := x.(type) {
		case []Value:
			return x, nil
		case string:
			out := make([]Value, 0, len(x))
			for _, r := range x {
				out = append(out, string(r))
			}
			return out, nil
		}
		return nil, ev.errf(n.pos, "filter %s needs a list, got %s", n.name, typeName(x))
	}
	switch n.name {
	case "lower":
		return strings.ToLower(ToString(x)), nil
	case "upper":
		return strings.ToUpper(ToString(x)), nil
	case "trim":
		return strings.TrimSpace(ToString(x)), nil
	case "replace":
		if len(args) != 2 {
			return nil, ev.errf(n.pos, "filter replace takes 2 arguments (old, new)")
		}
		from, err := argStr(0, "")
		if err != nil {
			return nil, err
		}
		to, err := argStr(1, "")
		if err != nil {
			return nil, err
		}
		return strings.ReplaceAll(ToString(x), from, to), nil
	case "split":
		sep, err := argStr(0, "")
		if err != nil {
			return nil, err
		}
		var parts []string
		if sep == "" {
			parts = strings.Fields(ToString(x))
		} else {
			parts = strings.Split(ToString(x), sep)
		}
		out := make([]Value, len(parts))
		for i, s := range parts {
			out[i] = s
		}
		return out, nil
	case "join":
		sep, err := argStr(0, "")
		if err != nil {
			return nil, err
		}
		l, err := list()
		if err != nil {
			return nil, err
		}
		parts := make([]string, len(l))
		for i, v := range l {
			parts[i] = ToString(v)
		}
		return strings.Join(parts, sep), nil
	case "first", "last":
		l, err := list()
		if err != nil {
			return nil, err
		}
		if len(l) == 0 {
			return nil, nil
		}
		if n.name == "first" {
			return l[0], nil
		}
		return l[len(l)-1], nil
	case "length":
		l, err := list()
		if err != nil {
			return nil, err
		}
		return int64(len(l)), nil
	case "list":
		return list()
	case "int":
		switch x := x.(type) {
		case int64:
			return x, nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
		s := strings.TrimSpace(ToString(x))
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		// "4.1" | int is 4 in Jinja; what is no number at all is 0
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && math.Abs(f) < 1<<62 {
			return int64(f), nil
		}
		return int64(0), nil
	case "string":
		return ToString(x), nil
	case "default":
		// default(value='', boolean=false): the value when x is undefined or none (or,
		// with boolean true, falsy).
		def := Value("")
		if len(args) > 0 {
			def = args[0]
		}
		_, undef := x.(undefined)
		if undef || x == nil || len(args) > 1 && Truthy(args[1]) && !Truthy(x) {
			return def, nil
		}
		return x, nil
	case "version_to_buildstring":
		s := strings.Fields(ToString(x))
		if len(s) == 0 {
			return "", nil
		}
		parts := strings.Split(s[0], ".")
		if len(parts) > 2 {
			parts = parts[:2]
		}
		return strings.Join(parts, ""), nil
	}
	return nil, ev.errf(n.pos, "unknown filter %q (supported: lower, upper, trim, replace, split, join, first, last, length, list, int, string, default, version_to_buildstring)", n.name)
}

// undefined stands for an unset variable inside the default filter; it never leaves it.
type undefined struct{}

// Truthy is Jinja truthiness.
func Truthy(v Value) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case int64:
		return v != 0
	case string:
		return v != ""
	case []Value:
		return len(v) > 0
	}
	return true
}

// ToString renders a value the way Jinja prints it.
func ToString(v Value) string {
	switch v := v.(type) {
	case nil:
		return ""
	case bool:
		if v {
			return "true"
		}
		return "false"
	case int64:
		return strconv.FormatInt(v, 10)
	case string:
		return v
	case []Value:
		// like minijinja prints a list: strings quoted, numbers and booleans bare
		parts := make([]string, len(v))
		for i, it := range v {
			switch it := it.(type) {
			case string:
				parts[i] = strconv.Quote(it)
			case nil:
				parts[i] = "none"
			default:
				parts[i] = ToString(it)
			}
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v)
}

func typeName(v Value) string {
	switch v.(type) {
	case nil:
		return "none"
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case string:
		return "a string"
	case []Value:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

func equal(a, b Value) bool {
	switch a := a.(type) {
	case []Value:
		bl, ok := b.([]Value)
		if !ok || len(a) != len(bl) {
			return false
		}
		for i := range a {
			if !equal(a[i], bl[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func compare(a, b Value) (int, error) {
	switch a := a.(type) {
	case int64:
		if b, ok := b.(int64); ok {
			switch {
			case a < b:
				return -1, nil
			case a > b:
				return 1, nil
			}
			return 0, nil
		}
	case string:
		if b, ok := b.(string); ok {
			return strings.Compare(a, b), nil
		}
	}
	return 0, fmt.Errorf("cannot compare %s with %s", typeName(a), typeName(b))
}
