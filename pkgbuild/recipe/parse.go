package recipe

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/condachan/condachan/internal/matchspec"
	"go.yaml.in/yaml/v3"
)

// FileName is the name of the recipe file inside a recipe folder.
const FileName = "recipe.yaml"

// Error is a recipe problem at a line of the recipe file.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string

	err error // what errors.Is sees, e.g. ErrSkipped
}

// ErrSkipped is wrapped by the error of a recipe whose build.skip excludes the target
// platform (test it with errors.Is).
var ErrSkipped = errors.New("the recipe skips this target platform")

func (e *Error) Unwrap() error { return e.err }

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// ErrorList is every problem found in one recipe.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.Is and errors.As look at every entry.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// LoadDir reads and renders the recipe in a folder on disk.
func LoadDir(dir, targetPlatform string) (*Recipe, error) {
	file := filepath.Join(dir, FileName)
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	r, err := Parse(file, data, os.DirFS(dir), targetPlatform)
	if err != nil {
		return nil, err
	}
	r.Dir = dir
	return r, nil
}

// LoadFS reads and renders the recipe in the folder dir of fsys (an embedded recipe).
func LoadFS(fsys fs.FS, dir, targetPlatform string) (*Recipe, error) {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return nil, err
	}
	data, err := fs.ReadFile(sub, FileName)
	if err != nil {
		return nil, err
	}
	return Parse(path.Join(dir, FileName)+" (built in)", data, sub, targetPlatform)
}

// Parse renders recipe text for a target platform. file names it in messages; folder
// holds the recipe folder's other files (may be nil).
func Parse(file string, data []byte, folder fs.FS, targetPlatform string) (*Recipe, error) {
	scope, err := PlatformScope(targetPlatform)
	if err != nil {
		return nil, err
	}
	scope["env"] = Env{Lookup: os.LookupEnv}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(file, data, err)
	}
	p := &parse{file: file, scope: scope, keyOf: map[*yaml.Node]*yaml.Node{}, folder: folder}
	r := &Recipe{File: file, Folder: folder, Source: data, TargetPlatform: targetPlatform, scope: scope}
	if len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "the recipe is empty"}
	}
	root := doc.Content[0]
	if !p.checkAliases(root) {
		return nil, p.errs
	}
	p.decode(r, root)
	r.Warnings = append(r.Warnings, literalJinja(file, root)...)
	r.Warnings = append(r.Warnings, linkScriptFiles(r)...)
	if p.skipped != nil {
		// Other problems on a platform the recipe does not build for are noise (a
		// source selector may, say, leave that platform without a sha256).
		return nil, ErrorList{p.skipped}
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return r, nil
}

// yaml.v3 problems reported by its parser: it prints the 0-based line of the construct
// for those (1-based for its scanner's), and no line at all when that is 0.
var yamlParserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// yaml.v3 problems reported by its scanner, which has no line in the message when the
// problem is on the first line.
var yamlScannerProblems = map[string]bool{
	"block sequence entries are not allowed in this context":       true,
	"could not find expected ':'":                                  true,
	"could not find expected directive name":                       true,
	"did not find expected alphabetic or numeric character":        true,
	"did not find expected comment or line break":                  true,
	"did not find expected digit or '.' character":                 true,
	"did not find expected hexdecimal number":                      true,
	"did not find expected version number":                         true,
	"did not find expected whitespace or line break":               true,
	"did not find expected whitespace":                             true,
	"did not find the expected '>'":                                true,
	"found a tab character that violates indentation":              true,
	"found a tab character where an indentation space is expected": true,
	"found an indentation indicator equal to 0":                    true,
	"found character that cannot start any token":                  true,
	"found extremely long version number":                          true,
	"found invalid Unicode character escape code":                  true,
	"found unexpected document indicator":                          true,
	"found unexpected end of stream":                               true,
	"found unexpected non-alphabetical character":                  true,
	"found unknown directive name":                                 true,
	"found unknown escape character":                               true,
	"mapping keys are not allowed in this context":                 true,
	"mapping values are not allowed in this context":               true,
}

var (
	yamlLineRe   = regexp.MustCompile(`(?s)^line (\d+): (.*)$`)
	yamlAnchorRe = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
)

// yamlError turns a yaml.v3 error into an Error with the right 1-based line. (The
// message used to be passed on as is, without Line, and with a line one too small for
// parser problems.)
func yamlError(file string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if yamlParserProblems[msg] {
			line++
		}
	} else if yamlParserProblems[msg] || yamlScannerProblems[msg] {
		line = 1
	} else if m := yamlAnchorRe.FindStringSubmatch(msg); m != nil {
		if i := strings.Index(string(data), "*"+m[1]); i >= 0 {
			line = 1 + strings.Count(string(data[:i]), "\n")
		}
	}
	return &Error{File: file, Line: line, Msg: "YAML syntax error: " + msg}
}

// maxNodes bounds the size of the document once its aliases are expanded.
const maxNodes = 100000

// checkAliases walks the document as render will, following aliases. yaml.v3 lets an
// anchor's content refer to the anchor itself (`a: &x {b: *x}`) when it decodes into a
// Node tree (it only refuses that for Go values): rendering such a tree would recurse
// until the stack overflows, which kills the process. Expanding aliases of aliases can
// also blow a small file up exponentially ("billion laughs").
func (p *parse) checkAliases(root *yaml.Node) bool {
	budget := maxNodes
	onPath := map[*yaml.Node]bool{}
	// via is the outermost alias being expanded: where a too large expansion is reported
	var walk func(n, via *yaml.Node) bool
	walk = func(n, via *yaml.Node) bool {
		if n.Kind == yaml.AliasNode {
			switch {
			case n.Alias == nil:
				p.errorf(n, "", "YAML alias *%s names no anchor", n.Value)
				return false
			case onPath[n.Alias]:
				p.errorf(n, "", "YAML alias *%s is used inside its own anchor's value", n.Value)
				return false
			}
			if via == nil {
				via = n
			}
			return walk(n.Alias, via)
		}
		if budget--; budget < 0 {
			p.errorf(via, "", "the recipe expands to more than %d YAML nodes through its aliases", maxNodes)
			return false
		}
		onPath[n] = true
		for _, c := range n.Content {
			if !walk(c, via) {
				return false
			}
		}
		delete(onPath, n)
		return true
	}
	return walk(root, nil)
}

type parse struct {
	file  string
	scope Scope
	errs  ErrorList
	// keyOf maps a mapping value to its key, for errors about a whole block value,
	// which belong on the key's line rather than on the block's first line.
	keyOf     map[*yaml.Node]*yaml.Node
	skipped   *Error
	buildKeys map[string]*yaml.Node // the rendered build keys, for checks across sections
	folder    fs.FS                 // the recipe folder, where script files are looked up (may be nil)
	// raw keeps ${{ }} in scalars as written while rendering (selectors are still
	// resolved): inline scripts are rendered when the build runs.
	raw bool
}

// at is the node an error about the value v of a mapping is reported at: its key.
func (p *parse) at(v *yaml.Node) *yaml.Node {
	if k, ok := p.keyOf[v]; ok {
		return k
	}
	return v
}

func (p *parse) errorf(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	if len(p.errs) < 20 {
		p.errs = append(p.errs, &Error{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
}

var topLevelKeys = []string{"schema_version", "context", "package", "source", "build", "requirements", "tests", "about", "extra"}

func (p *parse) decode(r *Recipe, root *yaml.Node) {
	root = deref(root)
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "", "the recipe must be a mapping of sections (package:, source:, build:, ...)")
		return
	}
	sections := p.mapping(root, "", append([]string{"$schema", "outputs", "recipe", "cache"}, topLevelKeys...), topLevelKeys)
	for _, k := range []string{"outputs", "recipe", "cache"} {
		if n, ok := sections[k]; ok {
			p.errorf(p.at(n), k, "multi-output recipes are not supported: write one recipe per package")
		}
	}
	if n, ok := sections["schema_version"]; ok {
		if v, ok := p.int(n, "schema_version"); ok && v != 1 {
			p.errorf(n, "schema_version", "only schema version 1 exists, got %d", v)
		}
	}
	if n, ok := sections["context"]; ok {
		before := len(p.errs)
		p.context(r, n)
		if len(p.errs) > before {
			// Every later expression may depend on the context. (Other errors, like an
			// unknown top-level key, used to stop here too and hide every later problem.)
			return
		}
	}
	if n, ok := sections["package"]; ok {
		p.pkg(r, p.render(n, "package"))
	} else {
		p.errorf(root, "package", "missing required section (package: {name: ..., version: ...})")
	}
	if n, ok := sections["build"]; ok {
		p.build(r, n)
	} else {
		r.Build.Script = p.defaultScript(r)
	}
	if n, ok := sections["source"]; ok {
		p.sources(r, n)
	}
	if n, ok := sections["requirements"]; ok {
		p.requirements(r, p.render(n, "requirements"))
	}
	p.checkScriptKeys(r, p.buildKeys)
	if n, ok := sections["tests"]; ok {
		p.tests(r, n)
	}
	if n, ok := sections["about"]; ok {
		p.about(r, p.render(n, "about"))
	}
	if n, ok := sections["extra"]; ok {
		e := p.render(n, "extra")
		if e.Kind != yaml.MappingNode {
			p.errorf(p.at(n), "extra", "expected a mapping, got %s", kindName(e))
		} else {
			r.Extra, _ = p.plain(e, "extra").(map[string]any)
		}
	}
}

// plain converts a rendered tree into the JSON-friendly values about.json and the tests
// are written from: maps with string keys, []any, strings, numbers, booleans, nil.
// (Decoding into any gave map[any]any for non-string keys and NaN for `.nan`, which
// the JSON encoder then refused with a panic.)
func (p *parse) plain(n *yaml.Node, field string) any {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := deref(n.Content[i])
			name := join(field, k.Value)
			if k.Kind != yaml.ScalarNode {
				p.errorf(k, field, "keys must be plain text, got %s", kindName(k))
				continue
			}
			if _, dup := m[k.Value]; dup {
				p.errorf(k, name, "key appears twice")
				continue
			}
			m[k.Value] = p.plain(n.Content[i+1], name)
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, it := range n.Content {
			l[i] = p.plain(it, fmt.Sprintf("%s[%d]", field, i))
		}
		return l
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return n.Value
		}
		switch x := v.(type) {
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return n.Value
			}
		case nil, bool, int, int64, uint64, string:
		default: // !!binary, !!timestamp and such: keep the text
			return n.Value
		}
		return v
	}
	return nil
}

// mapping returns the keys of a mapping node, reporting keys that are not allowed or
// appear twice. known lists the keys named in the "allowed" hint.
func (p *parse) mapping(n *yaml.Node, field string, allowed []string, known []string) map[string]*yaml.Node {
	n = deref(n)
	out := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, field, "expected a mapping, got %s", kindName(n))
		return out
	}
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := join(field, k.Value)
		p.keyOf[v] = k
		if !ok[k.Value] {
			hint := ""
			if s := suggest(k.Value, known); s != "" {
				hint = fmt.Sprintf("; did you mean %q?", s)
			}
			p.errorf(k, name, "unknown key%s (allowed here: %s)", hint, strings.Join(known, ", "))
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.errorf(k, name, "key appears twice")
			continue
		}
		out[k.Value] = v
	}
	return out
}

func (p *parse) context(r *Recipe, n *yaml.Node) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "context", "expected a mapping of variables")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		field := "context." + k.Value
		if !envNameRe.MatchString(k.Value) {
			p.errorf(k, field, "variable names are letters, digits and _ (no dashes)")
			continue
		}
		if _, dup := p.scope[k.Value]; dup {
			if isPlatformVar(k.Value) {
				p.errorf(k, field, "shadows the platform variable %q", k.Value)
			} else {
				p.errorf(k, field, "defined twice")
			}
			continue
		}
		var val Value
		switch v.Kind {
		case yaml.ScalarNode:
			val = p.scalarValue(v, field)
		case yaml.SequenceNode:
			list := []Value{}
			for _, it := range v.Content {
				it = deref(it)
				if it.Kind != yaml.ScalarNode {
					p.errorf(it, field, "list items must be scalars")
					continue
				}
				list = append(list, p.scalarValue(it, field))
			}
			val = list
		default:
			p.errorf(v, field, "context values are scalars or lists of scalars")
			continue
		}
		p.scope[k.Value] = val
		r.Context = append(r.Context, ContextVar{Name: k.Value, Value: val})
	}
}

// scalarValue evaluates a scalar: a lone ${{ expr }} keeps the expression's type, mixed
// text becomes a string, plain YAML integers and booleans keep their type.
func (p *parse) scalarValue(n *yaml.Node, field string) Value {
	if strings.Contains(n.Value, "${{") {
		v, err := interpolate(n.Value, p.scope)
		if err != nil {
			p.errorf(n, field, "%v", err)
			return ""
		}
		return v
	}
	switch n.Tag {
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return i
		}
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!null":
		return nil
	}
	return n.Value
}

// interpolate renders a string holding ${{ expr }} parts.
func interpolate(s string, scope Scope) (Value, error) {
	trimmed := strings.TrimSpace(s)
	if strings.HasPrefix(trimmed, "${{") {
		if end := exprEnd(trimmed[3:]); end >= 0 && 3+end+2 == len(trimmed) {
			return Eval(strings.TrimSpace(trimmed[3:3+end]), scope)
		}
	}
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "${{")
		if i < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		rest = rest[i+3:]
		j := exprEnd(rest)
		if j < 0 {
			return nil, fmt.Errorf("unterminated ${{ in %q", s)
		}
		v, err := Eval(strings.TrimSpace(rest[:j]), scope)
		if err != nil {
			return nil, err
		}
		b.WriteString(ToString(v))
		rest = rest[j+2:]
	}
	return b.String(), nil
}

// exprEnd returns the index of the "}}" that closes an expression starting at s[0], or
// -1. A "}}" inside a string literal does not close it (searching for the first "}}"
// cut `${{ "}}" }}` in two, and `${{ a }} b }}` was taken for one expression).
func exprEnd(s string) int {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '}' && i+1 < len(s) && s[i+1] == '}':
			return i
		}
	}
	if quote != 0 {
		// an unterminated string: end at the first "}}" so that the lexer reports it
		return strings.Index(s, "}}")
	}
	return -1
}

// render resolves selectors and expressions below n, returning a new tree.
func (p *parse) render(n *yaml.Node, field string) *yaml.Node {
	n = deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${{") || p.raw {
			return n
		}
		v, err := interpolate(n.Value, p.scope)
		if err != nil {
			p.errorf(n, field, "%v", err)
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Line: n.Line, Column: n.Column}
		}
		return valueNode(v, n)
	case yaml.SequenceNode:
		out := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: n.Line, Column: n.Column}
		for i, item := range n.Content {
			p.renderItem(deref(item), fmt.Sprintf("%s[%d]", field, i), out)
		}
		return out
	case yaml.MappingNode:
		if isSelector(n) {
			p.errorf(n, field, "an if:/then: selector can only be an item of a list; use ${{ a if cond else b }} for a single value")
			return n
		}
		out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
		for i := 0; i+1 < len(n.Content); i += 2 {
			out.Content = append(out.Content, n.Content[i], p.render(n.Content[i+1], join(field, n.Content[i].Value)))
		}
		return out
	}
	return n
}

// renderItem appends a rendered list item to out; an if:/then:/else: item contributes
// the items of the chosen branch (a list is spliced in), or nothing.
func (p *parse) renderItem(item *yaml.Node, field string, out *yaml.Node) {
	if !isSelector(item) {
		out.Content = append(out.Content, p.render(item, field))
		return
	}
	keys := p.mapping(item, field, []string{"if", "then", "else"}, []string{"if", "then", "else"})
	cond, then := keys["if"], keys["then"]
	if then == nil {
		p.errorf(item, field, "selector without then:")
		return
	}
	cond = deref(cond)
	if cond.Kind != yaml.ScalarNode {
		p.errorf(cond, field+".if", "expected an expression such as `linux` or `target_platform == \"win-64\"`")
		return
	}
	expr := strings.TrimSpace(cond.Value)
	if strings.HasPrefix(expr, "${{") {
		expr = strings.TrimSuffix(strings.TrimPrefix(expr, "${{"), "}}")
	}
	v, err := Eval(expr, p.scope)
	if err != nil {
		var u *UndefinedError
		if errors.As(err, &u) {
			p.errorf(cond, field+".if", "unknown selector variable %q (known: %s)", u.Name, strings.Join(u.Known, ", "))
		} else {
			p.errorf(cond, field+".if", "%v", err)
		}
		return
	}
	branch := then
	if !Truthy(v) {
		branch = keys["else"]
		if branch == nil {
			return
		}
	}
	branch = deref(branch)
	if branch.Kind == yaml.SequenceNode {
		for i, it := range branch.Content {
			p.renderItem(deref(it), fmt.Sprintf("%s[%d]", field, i), out)
		}
		return
	}
	p.renderItem(branch, field, out)
}

func isSelector(n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "if" {
			return true
		}
	}
	return false
}

// valueNode turns an expression result into a YAML node at the position of orig.
func valueNode(v Value, orig *yaml.Node) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Line: orig.Line, Column: orig.Column}
	switch v := v.(type) {
	case nil:
		n.Tag, n.Value = "!!null", ""
	case bool:
		n.Tag, n.Value = "!!bool", ToString(v)
	case int64:
		n.Tag, n.Value = "!!int", ToString(v)
	case []Value:
		n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
		for _, it := range v {
			n.Content = append(n.Content, valueNode(it, orig))
		}
	default:
		n.Tag, n.Value = "!!str", ToString(v)
	}
	return n
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return deref(n.Content[0])
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// str reads a scalar as text. Numbers keep their written form ("4.10" stays "4.10").
func (p *parse) str(n *yaml.Node, field string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, field, "expected a string, got %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

func (p *parse) int(n *yaml.Node, field string) (int, bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		if i, err := strconv.Atoi(n.Value); err == nil {
			return i, true
		}
	}
	p.errorf(n, field, "expected an integer, got %s", kindName(n))
	return 0, false
}

func (p *parse) bool(n *yaml.Node, field string) (bool, bool) {
	n = deref(n)
	var b bool
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" && n.Decode(&b) == nil {
		return b, true
	}
	p.errorf(n, field, "expected true or false, got %s", kindName(n))
	return false, false
}

// strList reads a list of strings; a single string is taken as a one-item list.
func (p *parse) strList(n *yaml.Node, field string) []string {
	var out []string
	for _, it := range p.strItems(n, field) {
		out = append(out, it.s)
	}
	return out
}

// strItem is a string of a list with its node, so that a problem with one item is
// reported on that item's line rather than the list's.
type strItem struct {
	s     string
	n     *yaml.Node
	field string
}

func (p *parse) strItems(n *yaml.Node, field string) []strItem {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []strItem{{n.Value, n, field}}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, field, "expected a list of strings, got %s", kindName(n))
		return nil
	}
	var out []strItem
	for i, it := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		if s, ok := p.str(it, f); ok {
			out = append(out, strItem{s, deref(it), f})
		}
	}
	return out
}

func (p *parse) pkg(r *Recipe, n *yaml.Node) {
	keys := p.mapping(n, "package", []string{"name", "version"}, []string{"name", "version"})
	if v, ok := keys["name"]; !ok {
		p.errorf(n, "package.name", "missing required field")
	} else if s, ok := p.str(v, "package.name"); ok {
		if !nameRe.MatchString(s) {
			p.errorf(v, "package.name", "%q is not a valid conda package name (lower-case letters, digits, '.', '_' and '-')", s)
		}
		r.Package.Name = s
	}
	if v, ok := keys["version"]; !ok {
		p.errorf(n, "package.version", "missing required field")
	} else if s, ok := p.str(v, "package.version"); ok {
		if !versionRe.MatchString(s) {
			p.errorf(v, "package.version", "%q is not a valid conda version (letters, digits, '.', '_', '+'; no '-' or spaces)", s)
		}
		r.Package.Version = s
	}
}

var sourceKeys = []string{"url", "sha256", "md5", "file_name", "target_directory", "path", "strip_components", "patches", "git", "use_gitignore"}

func (p *parse) sources(r *Recipe, n *yaml.Node) {
	n = deref(n)
	if n.Kind == yaml.MappingNode { // a single source, maybe a single selector
		n = &yaml.Node{Kind: yaml.SequenceNode, Line: n.Line, Content: []*yaml.Node{n}}
	}
	list := p.render(n, "source")
	if list.Kind != yaml.SequenceNode {
		p.errorf(list, "source", "expected a source mapping or a list of them")
		return
	}
	for i, item := range list.Content {
		field := fmt.Sprintf("source[%d]", i)
		keys := p.mapping(item, field, sourceKeys, sourceKeys)
		s := Source{Line: item.Line, StripComponents: -1}
		if v, ok := keys["git"]; ok {
			p.errorf(p.at(v), field+".git", "git sources are not supported: point url: at a release archive")
		}
		if v, ok := keys["patches"]; ok {
			for _, it := range p.strItems(v, field+".patches") {
				if err := checkRelPath(it.s, false); err != nil {
					p.errorf(it.n, it.field, "%v (patches are relative to the recipe folder)", err)
					continue
				}
				clean := path.Clean(it.s)
				if p.folder != nil {
					if _, err := fs.Stat(p.folder, clean); err != nil {
						p.errorf(it.n, it.field, "no patch file %s in the recipe folder", clean)
					}
				}
				s.Patches = append(s.Patches, clean)
			}
		}
		if v, ok := keys["url"]; ok {
			for _, u := range p.strItems(v, field+".url") {
				if !strings.Contains(u.s, "://") {
					p.errorf(u.n, u.field, "%q is not a URL", u.s)
				}
				s.URLs = append(s.URLs, u.s)
			}
		}
		if v, ok := keys["path"]; ok {
			if s.Path, ok = p.str(v, field+".path"); ok {
				if err := checkRelPath(s.Path, true); err != nil {
					p.errorf(v, field+".path", "%v", err)
				}
			}
		}
		switch {
		case len(s.URLs) == 0 && s.Path == "":
			p.errorf(item, field, "missing url: or path:")
		case len(s.URLs) > 0 && s.Path != "":
			p.errorf(item, field, "has both url: and path:; use one")
		}
		if v, ok := keys["sha256"]; ok {
			if s.SHA256, ok = p.str(v, field+".sha256"); ok && !sha256Re.MatchString(s.SHA256) {
				p.errorf(v, field+".sha256", "expected 64 hex digits, got %q", s.SHA256)
			}
			s.SHA256 = strings.ToLower(s.SHA256)
		}
		if v, ok := keys["md5"]; ok {
			if s.MD5, ok = p.str(v, field+".md5"); ok && !md5Re.MatchString(s.MD5) {
				p.errorf(v, field+".md5", "expected 32 hex digits, got %q", s.MD5)
			}
			s.MD5 = strings.ToLower(s.MD5)
		}
		if len(s.URLs) > 0 && s.SHA256 == "" {
			p.errorf(item, field+".sha256", "missing required field: a downloaded archive must be pinned by its sha256")
		}
		if v, ok := keys["file_name"]; ok {
			if s.FileName, ok = p.str(v, field+".file_name"); ok && !plainFileName(s.FileName) {
				p.errorf(v, field+".file_name", "must be a plain file name")
			}
		} else if len(s.URLs) > 0 && !plainFileName(urlFileName(s.URLs[0])) {
			// The archive is looked up under this name (ArchiveName): "..", say, would
			// name the folder above the source cache.
			p.errorf(keys["url"], field+".url", "%q does not end in a file name; set file_name:", s.URLs[0])
		}
		if v, ok := keys["target_directory"]; ok {
			if s.TargetDirectory, ok = p.str(v, field+".target_directory"); ok {
				if err := checkRelPath(s.TargetDirectory, false); err != nil {
					p.errorf(v, field+".target_directory", "%v", err)
				}
				s.TargetDirectory = path.Clean(s.TargetDirectory)
			}
		}
		if v, ok := keys["strip_components"]; ok {
			if c, ok := p.int(v, field+".strip_components"); ok {
				if c < 0 {
					p.errorf(v, field+".strip_components", "must be 0 or more")
				}
				s.StripComponents = c
			}
		}
		if v, ok := keys["use_gitignore"]; ok {
			p.bool(v, field+".use_gitignore")
		}
		r.Sources = append(r.Sources, s)
	}
}

// urlFileName is the last path segment of a URL, "" when it has none.
func urlFileName(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	i := strings.IndexByte(u, '/')
	if i < 0 {
		return "" // only a host
	}
	return u[strings.LastIndexByte(u, '/')+1:]
}

func plainFileName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\:\x00")
}

// buildKeys are the keys of build:. Of rattler-build's, variant (condachan builds one
// variant, the recipe as it is) and python (entry points and pyc compilation of Python
// packages) are refused unless empty.
var buildKeys = []string{"number", "string", "noarch", "skip", "script", "files", "links", "activation",
	"prefix_detection", "dynamic_linking", "post_process", "always_copy_files", "always_include_files",
	"merge_build_and_host_envs", "variant", "python"}

// build reads the build section. It renders each key itself: the script's commands keep
// their ${{ }} until the build runs.
func (p *parse) build(r *Recipe, raw *yaml.Node) {
	keys := p.mapping(raw, "build", buildKeys, buildKeys)
	for k, v := range keys {
		if k != "script" {
			keys[k] = p.render(v, "build."+k)
			p.keyOf[keys[k]] = p.at(v)
		}
	}
	p.buildKeys = keys
	if v, ok := keys["number"]; ok {
		if num, ok := p.int(v, "build.number"); ok {
			if num < 0 {
				p.errorf(v, "build.number", "must be 0 or more")
			}
			r.Build.Number = num
		}
	}
	if v, ok := keys["string"]; ok {
		if s, ok := p.str(v, "build.string"); ok {
			if !buildRe.MatchString(s) {
				p.errorf(v, "build.string", "%q is not a valid build string (letters, digits, '_', '.', '+')", s)
			}
			r.Build.String = s
		}
	}
	if v, ok := keys["noarch"]; ok {
		if s, ok := p.str(v, "build.noarch"); ok {
			switch s {
			case "generic":
				r.Build.Noarch = s
			case "python":
				p.errorf(v, "build.noarch", "noarch: python needs a Python install step; condachan builds noarch: generic packages")
			case "", "none":
			default:
				p.errorf(v, "build.noarch", "expected generic, got %q", s)
			}
		}
	}
	if v, ok := keys["skip"]; ok {
		// a list of conditions, any of which skips the platform
		for _, it := range p.strItems(v, "build.skip") {
			res, err := Eval(it.s, p.scope)
			var u *UndefinedError
			switch {
			case errors.As(err, &u):
				p.errorf(it.n, it.field, "unknown selector variable %q (known: %s)", u.Name, strings.Join(u.Known, ", "))
			case err != nil:
				p.errorf(it.n, it.field, "%v", err)
			case Truthy(res) && p.skipped == nil:
				p.skipped = &Error{File: p.file, Line: it.n.Line, Field: "build.skip", err: ErrSkipped,
					Msg: fmt.Sprintf("the recipe skips target platform %s (%s)", r.TargetPlatform, it.s)}
			}
		}
	}
	if v, ok := keys["script"]; ok {
		r.Build.Script = p.script(r, v, "build.script")
	} else {
		r.Build.Script = p.defaultScript(r)
	}
	if v, ok := keys["prefix_detection"]; ok {
		p.prefixDetection(r, v)
	}
	if v, ok := keys["dynamic_linking"]; ok {
		p.dynamicLinking(r, v)
	}
	if v, ok := keys["post_process"]; ok {
		p.postProcess(r, v)
	}
	if v, ok := keys["always_copy_files"]; ok {
		r.Build.AlwaysCopyFiles = p.globsOrBool(v, "build.always_copy_files")
	}
	if v, ok := keys["always_include_files"]; ok {
		r.Build.AlwaysIncludeFiles = p.globsOrBool(v, "build.always_include_files")
	}
	if v, ok := keys["merge_build_and_host_envs"]; ok {
		r.Build.MergeBuildAndHostEnvs, _ = p.bool(v, "build.merge_build_and_host_envs")
	}
	for _, k := range []string{"variant", "python"} {
		if v, ok := keys[k]; ok {
			if d := deref(v); !(d.Kind == yaml.MappingNode && len(d.Content) == 0) && !(d.Kind == yaml.ScalarNode && d.Tag == "!!null") {
				why := map[string]string{
					"variant": "condachan builds the recipe as written, one variant; variant keys shape a variant matrix it does not make",
					"python":  "entry points and pyc compilation are for Python packages, which condachan does not build",
				}[k]
				p.errorf(p.at(v), "build."+k, "%s", why)
			}
		}
	}
	if v, ok := keys["files"]; ok {
		if d := deref(v); d.Kind == yaml.MappingNode || (d.Kind == yaml.SequenceNode && len(d.Content) > 0 && deref(d.Content[0]).Kind == yaml.ScalarNode) {
			r.Build.FileGlobs = p.fileGlobs(d, "build.files")
		} else {
			p.files(r, v)
		}
	}
	if v, ok := keys["links"]; ok {
		p.links(r, v)
	}
	if v, ok := keys["activation"]; ok {
		p.activation(r, v)
	}
}

func (p *parse) files(r *Recipe, n *yaml.Node) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "build.files", "expected a list of {from:, to:, include:, exclude:} mappings")
		return
	}
	keys := []string{"from", "to", "include", "exclude", "executable"}
	for i, item := range n.Content {
		field := fmt.Sprintf("build.files[%d]", i)
		item = deref(item)
		if item.Kind == yaml.ScalarNode {
			p.errorf(item, field, "expected a mapping such as {from: blender, to: opt/blender}: a list of build.files is either all globs (rattler-build's form) or all mappings (condachan's)")
			continue
		}
		m := p.mapping(item, field, keys, keys)
		rule := FileRule{Line: item.Line, From: ".", To: "."}
		if v, ok := m["from"]; ok {
			if rule.From, ok = p.str(v, field+".from"); ok {
				if err := checkRelPath(rule.From, true); err != nil {
					p.errorf(v, field+".from", "%v", err)
				}
				rule.From = path.Clean(rule.From)
			}
		}
		if v, ok := m["to"]; ok {
			if rule.To, ok = p.str(v, field+".to"); ok {
				if err := checkRelPath(rule.To, true); err != nil {
					p.errorf(v, field+".to", "%v", err)
				}
				rule.To = path.Clean(rule.To)
			}
		}
		if v, ok := m["include"]; ok {
			rule.Include = p.globs(v, field+".include")
		}
		if v, ok := m["exclude"]; ok {
			rule.Exclude = p.globs(v, field+".exclude")
		}
		if v, ok := m["executable"]; ok {
			rule.Executable = p.globs(v, field+".executable")
		}
		r.Build.Files = append(r.Build.Files, rule)
	}
}

func (p *parse) globs(n *yaml.Node, field string) []string {
	var gs []string
	for _, g := range p.strItems(n, field) {
		if err := checkGlob(g.s); err != nil {
			p.errorf(g.n, g.field, "%v", err)
		}
		gs = append(gs, g.s)
	}
	return gs
}

func (p *parse) links(r *Recipe, n *yaml.Node) {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "build.links", "expected a list of {path:, target:} mappings")
		return
	}
	keys := []string{"path", "target"}
	seen := map[string]int{} // link path -> line
	for i, item := range n.Content {
		field := fmt.Sprintf("build.links[%d]", i)
		m := p.mapping(item, field, keys, keys)
		l := Link{Line: deref(item).Line}
		if v, ok := m["path"]; !ok {
			p.errorf(item, field+".path", "missing required field")
		} else if l.Path, ok = p.str(v, field+".path"); ok {
			if err := checkRelPath(l.Path, false); err != nil {
				p.errorf(v, field+".path", "%v", err)
				l.Path = ""
			} else {
				l.Path = path.Clean(l.Path)
				if line, dup := seen[l.Path]; dup {
					p.errorf(v, field+".path", "%q is already a link (line %d)", l.Path, line)
				}
				seen[l.Path] = v.Line
			}
		}
		if v, ok := m["target"]; !ok {
			p.errorf(item, field+".target", "missing required field")
		} else if l.Target, ok = p.str(v, field+".target"); ok {
			switch {
			case l.Target == "" || strings.HasPrefix(l.Target, "/") || strings.Contains(l.Target, "\\") || len(l.Target) >= 2 && l.Target[1] == ':':
				p.errorf(v, field+".target", "must be a relative path with / separators, like ../opt/app/app")
			case l.Path != "":
				// The target is resolved from the link's folder; it must stay in the
				// prefix (bin/x -> ../../etc/passwd was accepted).
				if to := path.Join(path.Dir(l.Path), l.Target); to == ".." || strings.HasPrefix(to, "../") {
					p.errorf(v, field+".target", "%q from %s points outside the prefix", l.Target, l.Path)
				}
			}
		}
		r.Build.Links = append(r.Build.Links, l)
	}
}

func (p *parse) activation(r *Recipe, n *yaml.Node) {
	keys := p.mapping(n, "build.activation", []string{"env", "path_prepend"}, []string{"env", "path_prepend"})
	if v, ok := keys["env"]; ok {
		v = deref(v)
		var pairs []*yaml.Node // key, value, key, value...
		switch v.Kind {
		case yaml.MappingNode:
			pairs = v.Content
		case yaml.SequenceNode: // - NAME: value items, which may use selectors
			for i, it := range v.Content {
				it = deref(it)
				// A selector's then: may set several variables at once, so any
				// mapping is taken, in its order.
				if it.Kind != yaml.MappingNode || len(it.Content) == 0 {
					p.errorf(it, fmt.Sprintf("build.activation.env[%d]", i), "expected a NAME: value mapping, got %s", kindName(it))
					continue
				}
				pairs = append(pairs, it.Content...)
			}
		default:
			p.errorf(v, "build.activation.env", "expected a mapping of NAME: value")
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(pairs); i += 2 {
			k, val := pairs[i], deref(pairs[i+1])
			field := "build.activation.env." + k.Value
			if !envNameRe.MatchString(k.Value) {
				p.errorf(k, field, "not a valid environment variable name")
				continue
			}
			if seen[k.Value] {
				p.errorf(k, field, "set twice")
				continue
			}
			if strings.EqualFold(k.Value, "PATH") || strings.EqualFold(k.Value, "CONDA_PREFIX") {
				p.errorf(k, field, "cannot be set here; use build.activation.path_prepend for PATH")
				continue
			}
			seen[k.Value] = true
			s, ok := p.str(val, field)
			if !ok {
				continue
			}
			if err := checkEnvRefs(s); err != nil {
				p.errorf(val, field, "%v", err)
			} else if err := CheckEnvValue(s); err != nil {
				p.errorf(val, field, "%v", err)
			}
			r.Build.Activation.Env = append(r.Build.Activation.Env, EnvVar{Line: k.Line, Name: k.Value, Value: s})
		}
	}
	if v, ok := keys["path_prepend"]; ok {
		for _, d := range p.strItems(v, "build.activation.path_prepend") {
			if err := checkRelPath(d.s, true); err != nil {
				p.errorf(d.n, d.field, "%v", err)
			} else if err := CheckPathEntry(d.s); err != nil {
				p.errorf(d.n, d.field, "%v", err)
			}
			r.Build.Activation.PathPrepend = append(r.Build.Activation.PathPrepend, path.Clean(d.s))
		}
	}
}

var requirementKeys = []string{"build", "host", "run", "run_constraints", "run_exports", "ignore_run_exports"}

func (p *parse) requirements(r *Recipe, n *yaml.Node) {
	keys := p.mapping(n, "requirements", requirementKeys, requirementKeys)
	if v, ok := keys["host"]; ok && len(p.strList(v, "requirements.host")) > 0 {
		p.errorf(p.at(v), "requirements.host", "condachan makes no host environment (the packages a build compiles and links against, installed into $PREFIX), so it cannot build this recipe faithfully; build it with rattler-build. For a repack, move what the package needs at run time to requirements.run")
	}
	if v, ok := keys["build"]; ok {
		p.buildRequirements(r, v)
	}
	if v, ok := keys["run"]; ok {
		r.Requirements.Run = p.specs(v, "requirements.run")
	}
	if v, ok := keys["run_constraints"]; ok {
		r.Requirements.RunConstraints = p.specs(v, "requirements.run_constraints")
	}
	if v, ok := keys["ignore_run_exports"]; ok {
		p.mapping(v, "requirements.ignore_run_exports", []string{"by_name", "from_package"}, []string{"by_name", "from_package"})
	}
	if v, ok := keys["run_exports"]; ok {
		v = deref(v)
		re := &r.Requirements.RunExports
		if v.Kind == yaml.SequenceNode {
			re.Weak = p.specs(v, "requirements.run_exports")
		} else {
			ks := []string{"weak", "strong", "noarch", "weak_constraints", "strong_constraints"}
			m := p.mapping(v, "requirements.run_exports", ks, ks)
			get := func(k string) []string {
				if x, ok := m[k]; ok {
					return p.specs(x, "requirements.run_exports."+k)
				}
				return nil
			}
			re.Weak, re.Strong, re.Noarch = get("weak"), get("strong"), get("noarch")
			re.WeakConstraints, re.StrongConstraints = get("weak_constraints"), get("strong_constraints")
		}
	}
}

// specs reads a list of match specs that go into the package (index.json depends and
// constrains, run_exports.json), in the repodata form conda and rattler both read:
// `studio-tools>=2.1` is written `studio-tools >=2.1`. What that form cannot hold (a
// channel, md5=...) is refused here, on the item's line.
func (p *parse) specs(n *yaml.Node, field string) []string {
	var list []string
	for _, s := range p.strItems(n, field) {
		c, err := matchspec.Canonical(s.s)
		if err != nil {
			p.errorf(s.n, s.field, "%v", err)
			continue
		}
		list = append(list, c)
	}
	return list
}

// toolSpec reads a requirement that condachan looks for on PATH and that the Deadline
// job has conda install (requirements.build, a script test's requirements). Any spec
// conda takes is accepted: it is normalised to the repodata form, or kept as written
// (trimmed) when it names a channel or another bracket key that form cannot hold.
func (p *parse) toolSpec(it strItem) (Requirement, bool) {
	ms, err := matchspec.Parse(it.s)
	if err != nil {
		p.errorf(it.n, it.field, "%v", err)
		return Requirement{}, false
	}
	spec := strings.TrimSpace(it.s)
	if c, err := matchspec.Canonical(it.s); err == nil {
		spec = c
	}
	return Requirement{Line: it.n.Line, Spec: spec, Name: ms.Name}, true
}

var aboutKeys = []string{"homepage", "repository", "documentation", "license", "license_file", "license_family", "summary", "description"}

func (p *parse) about(r *Recipe, n *yaml.Node) {
	// Slices, not maps: ranging over a map reported the errors in random order.
	old := [][2]string{{"home", "homepage"}, {"dev_url", "repository"}, {"doc_url", "documentation"}}
	allowed := append(append([]string{}, aboutKeys...), "home", "dev_url", "doc_url")
	keys := p.mapping(n, "about", allowed, aboutKeys)
	for _, o := range old {
		if v, ok := keys[o[0]]; ok {
			p.errorf(p.at(v), "about."+o[0], "this is the old meta.yaml name; v1 recipes use %s:", o[1])
		}
	}
	a := &r.About
	for _, f := range []struct {
		key string
		dst *string
	}{{"homepage", &a.Homepage}, {"repository", &a.Repository}, {"documentation", &a.Documentation},
		{"license", &a.License}, {"license_family", &a.LicenseFamily}, {"summary", &a.Summary}, {"description", &a.Description}} {
		if v, ok := keys[f.key]; ok {
			if s, ok := p.str(v, "about."+f.key); ok {
				*f.dst = strings.TrimSpace(s)
			}
		}
	}
	if v, ok := keys["license_file"]; ok {
		for _, f := range p.strItems(v, "about.license_file") {
			if err := checkRelPath(f.s, false); err != nil {
				p.errorf(f.n, f.field, "%v", err)
			}
			a.LicenseFile = append(a.LicenseFile, path.Clean(f.s))
		}
	}
}

// checkRelPath accepts clean-able relative slash paths that stay inside their root.
func checkRelPath(s string, allowDot bool) error {
	switch {
	case s == "":
		return errors.New("empty path")
	case strings.HasPrefix(s, "/") || (len(s) >= 2 && s[1] == ':'):
		return fmt.Errorf("%q is absolute; use a path relative to the prefix", s)
	case strings.Contains(s, "\\"):
		return fmt.Errorf("%q: use / as the separator", s)
	}
	c := path.Clean(s)
	if c == "." && !allowDot {
		return fmt.Errorf("%q names the root itself", s)
	}
	if c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Errorf("%q leaves the prefix", s)
	}
	return nil
}

func checkGlob(g string) error {
	if g == "" {
		return errors.New("empty glob")
	}
	if _, err := path.Match(strings.ReplaceAll(g, "**", "*"), ""); err != nil {
		return fmt.Errorf("bad glob %q: %v", g, err)
	}
	return nil
}

// checkEnvRefs validates $NAME / ${NAME} references in an activation value.
func checkEnvRefs(s string) error {
	_, err := splitEnvRefs(s)
	return err
}

// EnvPart is a literal run or a variable reference in an activation value.
type EnvPart struct {
	Literal string
	Var     string
}

// SplitEnvValue splits an activation value into literal text and $VAR references.
func SplitEnvValue(s string) []EnvPart {
	parts, _ := splitEnvRefs(s)
	return parts
}

func splitEnvRefs(s string) ([]EnvPart, error) {
	var parts []EnvPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, EnvPart{Literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			lit.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			lit.WriteByte('$')
			i++
			continue
		}
		rest := s[i+1:]
		var name string
		if strings.HasPrefix(rest, "{") {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ${ in %q", s)
			}
			name = rest[1:end]
			i += end + 1
		} else {
			j := 0
			for j < len(rest) && (rest[j] == '_' || rest[j] >= 'A' && rest[j] <= 'Z' || rest[j] >= 'a' && rest[j] <= 'z' || j > 0 && rest[j] >= '0' && rest[j] <= '9') {
				j++
			}
			name = rest[:j]
			i += j
		}
		if !envNameRe.MatchString(name) {
			return nil, fmt.Errorf("a $ must start a variable reference ($NAME or ${NAME}) in %q; write $$ for a literal $", s)
		}
		flush()
		parts = append(parts, EnvPart{Var: name})
	}
	flush()
	return parts, nil
}

// suggest returns the known word closest to s, if it is close.
func suggest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isPlatformVar(name string) bool {
	s, _ := PlatformScope("linux-64")
	_, ok := s[name]
	return ok
}

// jinjaWithoutDollar finds {{ not preceded by $.
var jinjaWithoutDollar = regexp.MustCompile(`(^|[^$]){{`)

// literalJinja warns about {{ expr }} written without its $: v1 recipes (and
// rattler-build) keep it as literal text, which is rarely what was meant (three of the
// Deadline Cloud sample recipes have it in their url).
func literalJinja(file string, root *yaml.Node) []string {
	var out []string
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || seen[n] || len(out) >= 10 {
			return
		}
		seen[n] = true
		if n.Kind == yaml.ScalarNode && jinjaWithoutDollar.MatchString(n.Value) {
			out = append(out, fmt.Sprintf("%s:%d: %q holds {{ }} without $, which v1 recipes keep as literal text; write ${{ }} to use the variable", file, n.Line, n.Value))
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
	return out
}

// linkScriptFiles warns about conda-build's link scripts beside recipe.yaml: conda-build
// installs post-link.sh as bin/.<name>-post-link.sh, rattler-build ignores the file, and
// so does condachan (the package must be what rattler-build makes), but not silently.
func linkScriptFiles(r *Recipe) []string {
	if r.Folder == nil || r.Package.Name == "" {
		return nil
	}
	var out []string
	for _, action := range []string{"pre-link", "post-link", "pre-unlink"} {
		for _, ext := range []string{".sh", ".bat"} {
			if _, err := fs.Stat(r.Folder, action+ext); err != nil {
				continue
			}
			dest := "$PREFIX/bin/." + r.Package.Name + "-" + action + ".sh"
			if ext == ".bat" {
				dest = "%PREFIX%\\Scripts\\." + r.Package.Name + "-" + action + ".bat"
			}
			out = append(out, fmt.Sprintf("%s: %s%s beside the recipe is not packaged (rattler-build ignores it; conda-build installed it): to ship it, copy it to %s in the build script", r.File, action, ext, dest))
		}
	}
	return out
}
