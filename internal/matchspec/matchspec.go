// Package matchspec reads conda match specs, as recipes and repodata depends/constrains
// lists write them, and renders them in the repodata form `name [version [build]]` that
// conda and rattler both read the same way.
//
// conda (conda/models/match_spec.py, _parse_spec_str and VersionSpec) and rattler
// (rattler_conda_types match_spec/parse.rs and the version spec parser) accept many
// spellings of one requirement and disagree on some of them: rattler's strict mode
// refuses a bare version (`foo 2.1`, "did you mean ==2.1 or 2.1.*?"), globs after most
// operators and channels it cannot resolve, and conda gives `=2.1` two meanings depending
// on whether a build string follows. Canonical picks, for every spec it accepts, the one
// spelling that conda, rattler lenient and rattler strict all parse to the same
// requirement, and refuses what cannot be written in that form.
//
// The canonical form:
//
//   - The name is lower-cased (conda names are lower case; both tools compare names
//     case-insensitively). It must be a CEP 26 name: ASCII letters, digits, '.', '_' and
//     '-', starting with a letter, digit or a single '_' (or "__" for virtual packages
//     such as __glibc), with no two separators in a row. Globs (`*`, `py*`) and regexes
//     are refused.
//   - Name, version and build are separated by one space; the version holds no spaces
//     (`foo >= 2.1` is `foo >=2.1`, `foo >=1 , <2` is `foo >=1,<2`). An absent or `*`
//     version is left out (`foo *` is `foo`) unless a build follows (`foo * py_0`).
//   - A version is a list of constraints joined by ',' (and) and '|' (or, binding
//     looser), each rendered as:
//     `1.2` and `==1.2` become `==1.2` (conda and rattler lenient read a bare version as
//     exact, rattler strict refuses it as ambiguous);
//     `1.2*`, `1.2.*`, `=1.2`, `=1.2*` and `=1.2.*` become `1.2.*` (starts-with);
//     except that `=1.2` directly followed by a build (`foo=1.2=py_0`, `foo =1.2 py_0`)
//     is exact for conda and rattler lenient and becomes `==1.2 py_0`;
//     `>=1.2.*` becomes `>=1.2` (both tools drop the glob);
//     `!=1.2*` becomes `!=1.2.*` (not starts-with);
//     `>1.2`, `>=1.2`, `<1.2`, `<=1.2`, `!=1.2` and `~=1.2` are kept.
//     Refused: `==1.2.*`, `>1.2.*`, `<1.2.*`, `<=1.2.*` and `~=1.2.*` (conda and rattler
//     read them differently), '*' inside a version (`1.*.3`), regexes (`^1\.2$`, which
//     rattler does not support), and parentheses (conda strips `(...)` from a spec as
//     its legacy `(target=...)` section, so a grouped version does not survive it).
//   - A build string is kept as written (letters, digits, '_', '.', '+', with '*' as a
//     glob); `*` alone means any build and is left out. It may follow the version after
//     a space or after '=' (`foo=1.2=py_0`).
//   - The bracket form is read and its version and build moved into place:
//     `foo[version='>=2.1', build=py*]` is `foo >=2.1 py*`. Values are quoted with ' or "
//     (they must be when they hold ',' or a space); pairs are separated by ',' or spaces.
//     A version or build given both positionally and in brackets is refused (rattler
//     strict refuses it; conda and rattler lenient let the bracket win silently).
//
// Parse also accepts what the repodata form cannot express but conda can install, for
// specs that are handed to conda rather than written into a package: a channel
// (`conda-forge::cmake`, `conda-forge/linux-64::cmake`, `[channel=...]`,
// `[subdir=...]`) and the other bracket keys (build_number, md5, sha256, fn, url,
// license, license_family, track_features, features, namespace, when, extras, flags).
// Canonical refuses them, saying what to write instead. Both refuse comments ('#'),
// `; if` conditions, feature specs (`foo@`), package URLs and paths, ':' namespaces,
// unbalanced brackets and quotes, control and non-ASCII characters.
package matchspec

import (
	"fmt"
	"regexp"
	"strings"
)

// Error says what is wrong with a match spec and what to write instead.
type Error struct {
	Spec   string // the spec as given
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("match spec %q: %s", e.Spec, e.Reason)
}

// Spec is a parsed match spec.
type Spec struct {
	Name    string // lower case
	Version string // canonical version expression; "" for any version
	Build   string // build string or glob; "" for any build
	// Channel and Subdir come from `channel/subdir::name` or [channel=...], [subdir=...].
	Channel string
	Subdir  string
	// Keys are the other bracket keys (build_number, md5, ...), in the order written.
	Keys []Key
}

// Key is one bracket key=value pair.
type Key struct {
	Name, Value string
}

// String renders name, version and build in the repodata form; Channel, Subdir and Keys
// are left out (Canonical refuses specs that have them).
func (s Spec) String() string {
	switch {
	case s.Build != "":
		v := s.Version
		if v == "" {
			v = "*"
		}
		return s.Name + " " + v + " " + s.Build
	case s.Version != "":
		return s.Name + " " + s.Version
	}
	return s.Name
}

// Canonical returns spec in the repodata form `name [version [build]]`, or an *Error.
// Canonical of its own output returns that output.
func Canonical(spec string) (string, error) {
	s, err := Parse(spec)
	if err != nil {
		return "", err
	}
	bare := Spec{Name: s.Name, Version: s.Version, Build: s.Build}.String()
	if s.Channel != "" || s.Subdir != "" {
		where := s.Channel
		if s.Subdir != "" {
			if where != "" {
				where += "/"
			}
			where += s.Subdir
		}
		return "", &Error{spec, fmt.Sprintf("names the channel or subdir %q, which a package's depends/constrains cannot hold: "+
			"installers take every dependency from the channels the user installs from (rattler cannot even parse a channel there); "+
			"write %q and have users add the channel", where, bare)}
	}
	if len(s.Keys) > 0 {
		k := s.Keys[0]
		return "", &Error{spec, fmt.Sprintf("[%s=...] cannot be written in a package's depends/constrains, which hold only `name version build`; "+
			"drop it (write %q) or express it with the version and build string", k.Name, bare)}
	}
	return bare, nil
}

// Parse reads a match spec. It accepts channels and bracket keys that the repodata form
// cannot express (see the package doc); Canonical refuses those.
func Parse(spec string) (Spec, error) {
	p := parser{spec: spec}
	s, reason := p.parse()
	if reason != "" {
		return Spec{}, &Error{spec, reason}
	}
	return s, nil
}

type parser struct{ spec string }

var (
	otherKeys = map[string]bool{
		"build_number": true, "fn": true, "url": true, "md5": true, "sha256": true,
		"license": true, "license_family": true, "track_features": true, "features": true,
		"namespace": true, "when": true, "extras": true, "flags": true, "name": true,
	}
	knownKeys = "version, build, channel, subdir, build_number, md5, sha256, fn, url, license, license_family, track_features, features, namespace, when, extras, flags"

	platforms = map[string]bool{
		"noarch": true, "linux-64": true, "linux-32": true, "linux-aarch64": true, "linux-armv6l": true,
		"linux-armv7l": true, "linux-ppc64le": true, "linux-ppc64": true, "linux-s390x": true,
		"linux-riscv32": true, "linux-riscv64": true, "osx-64": true, "osx-arm64": true,
		"win-64": true, "win-32": true, "win-arm64": true, "zos-z": true, "freebsd-64": true,
		"emscripten-wasm32": true, "wasi-wasm32": true,
	}

	// A version without operator or glob: epoch, components joined by single '.' or
	// '_', an optional trailing '_', and a local part after '+'.
	versionRe = regexp.MustCompile(`^([0-9]+!)?[A-Za-z0-9]+([._][A-Za-z0-9]+)*_?(\+[A-Za-z0-9]+([._][A-Za-z0-9]+)*_?)?$`)
	buildRe   = regexp.MustCompile(`^[A-Za-z0-9_.+*]+$`)
)

func (p *parser) parse() (Spec, string) {
	in := p.spec
	for i, r := range in {
		if r < 0x20 || r == 0x7f {
			return Spec{}, fmt.Sprintf("holds the control character \\x%02x at byte %d", r, i)
		}
		if r > 0x7e {
			return Spec{}, fmt.Sprintf("holds %q (U+%04X) at byte %d; match specs are ASCII (a look-alike of a quote, dash or space?)", r, r, i)
		}
	}
	in = strings.TrimSpace(in)
	if in == "" {
		return Spec{}, "empty: write a package name, e.g. \"python >=3.10\""
	}

	// The bracket section: a balanced [...] ending the spec, quotes inside it.
	head, brackets, hasBrackets := in, "", false
	if strings.HasSuffix(in, "]") {
		hasBrackets = true
		open, reason := findBrackets(in)
		if reason != "" {
			return Spec{}, reason
		}
		head, brackets = in[:open], in[open+1:len(in)-1]
	}
	if i := strings.IndexAny(head, "[]"); i >= 0 {
		if head[i] == '[' && !strings.Contains(head[i:], "]") {
			return Spec{}, "unbalanced brackets: '[' is never closed"
		}
		if head[i] == ']' && !strings.Contains(head[:i], "[") {
			return Spec{}, "unbalanced brackets: ']' without '['"
		}
		return Spec{}, "a [key=value] section must come last, and only once"
	}
	if reason := checkHead(head); reason != "" {
		return Spec{}, reason
	}

	var s Spec
	var keys []Key
	if hasBrackets {
		var reason string
		if keys, reason = parseBrackets(brackets); reason != "" {
			return Spec{}, reason
		}
	}
	var bVersion, bBuild *string
	for i := range keys {
		k := keys[i]
		switch k.Name {
		case "version":
			bVersion = &keys[i].Value
		case "build":
			bBuild = &keys[i].Value
		case "channel":
			s.Channel, s.Subdir = splitChannel(k.Value)
		case "subdir":
			s.Subdir = k.Value
		default:
			s.Keys = append(s.Keys, k)
		}
	}

	// channel::name
	head = strings.TrimSpace(head)
	if i := strings.LastIndex(head, "::"); i >= 0 {
		ch := strings.TrimSpace(head[:i])
		if ch == "" {
			return Spec{}, "'::' without a channel before it: write the package name alone"
		}
		if strings.ContainsAny(ch, " \t") {
			return Spec{}, fmt.Sprintf("the channel %q holds a space", ch)
		}
		if s.Channel == "" && s.Subdir == "" {
			s.Channel, s.Subdir = splitChannel(ch)
		}
		head = strings.TrimSpace(head[i+2:])
	}
	if strings.Contains(head, ":") {
		return Spec{}, "':' is not part of a match spec here (a channel is written channel::name; namespaces are not supported)"
	}

	// The name ends at a space or where a version operator starts.
	end := strings.IndexAny(head, " \t<>=!~")
	if end < 0 {
		end = len(head)
	}
	name, rest := head[:end], strings.TrimSpace(head[end:])
	if reason := checkName(name); reason != "" {
		return Spec{}, reason
	}
	s.Name = strings.ToLower(name)

	var pos *versionExpr
	posBuild := ""
	if rest != "" {
		v, b, reason := parseVersionAndBuild(rest, true)
		if reason != "" {
			return Spec{}, reason
		}
		pos, posBuild = v, b
	}
	if bVersion != nil && pos != nil {
		return Spec{}, fmt.Sprintf("gives the version twice, as %q and in [version=%q]: keep one", rest, *bVersion)
	}
	if bBuild != nil && posBuild != "" {
		return Spec{}, fmt.Sprintf("gives the build twice, as %q and in [build=%q]: keep one", posBuild, *bBuild)
	}
	build := posBuild
	if bBuild != nil {
		b := strings.TrimSpace(*bBuild)
		if reason := checkBuild(b); reason != "" {
			return Spec{}, reason
		}
		build = b
	}
	if build == "*" {
		build = ""
	}
	version := ""
	switch {
	case pos != nil:
		version = pos.render(posBuild != "")
	case bVersion != nil:
		v, b, reason := parseVersionAndBuild(*bVersion, false)
		if reason == "" && b != "" {
			reason = fmt.Sprintf("[version=%q] holds more than a version: give the build as [build=...]", *bVersion)
		}
		if reason != "" {
			return Spec{}, reason
		}
		version = v.render(false)
	}
	if version == "*" {
		version = ""
	}
	s.Version, s.Build = version, build
	return s, ""
}

// findBrackets finds the '[' opening the bracket section that ends the spec.
func findBrackets(in string) (int, string) {
	depth, open := 0, -1
	var quote byte
	for i := 0; i < len(in); i++ {
		c := in[i]
		if quote != 0 {
			if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			if depth > 0 {
				quote = c
			}
		case '[':
			if depth == 0 {
				if open >= 0 {
					return 0, "a [key=value] section must come last, and only once"
				}
				open = i
			}
			depth++
		case ']':
			if depth == 0 {
				return 0, "unbalanced brackets: ']' without '['"
			}
			depth--
		}
	}
	switch {
	case quote != 0:
		return 0, fmt.Sprintf("unbalanced quotes: %c is never closed", quote)
	case depth != 0 || open < 0:
		return 0, "unbalanced brackets: '[' is never closed"
	}
	return open, ""
}

// checkHead refuses what conda or rattler read as something other than name, version
// and build.
func checkHead(h string) string {
	t := strings.TrimSpace(h)
	switch {
	case strings.Contains(t, "#"):
		return "'#' starts a comment in a match spec; put comments in the YAML (a ' #' outside quotes)"
	case strings.Contains(t, ";"):
		return "';' (a `; if` condition) is not supported: select requirements with the recipe's if:/then:"
	case !strings.Contains(t, "::") && (strings.Contains(t, "://") || strings.HasPrefix(t, "/") || strings.HasPrefix(t, "./") ||
		strings.HasPrefix(t, "~/") || strings.HasSuffix(t, ".conda") || strings.HasSuffix(t, ".tar.bz2") || len(t) > 1 && t[1] == ':'):
		return "a package URL or file is not a requirement: name the package (and version) instead"
	case strings.HasSuffix(t, "@"):
		return "feature specs (name@) are not supported: name the package"
	case strings.ContainsAny(t, "()"):
		return "parentheses are not supported: conda strips (...) from a spec as its legacy (target=...) section; write the version without them (',' binds tighter than '|': >=1,<2|>=3)"
	case strings.ContainsAny(t, `'"`):
		return "quotes belong inside a [key='value'] section only"
	case strings.ContainsAny(t, "^$"):
		return "regular expressions are not supported (rattler refuses them); write the version with operators, e.g. >=1.2,<1.3"
	}
	return ""
}

func splitChannel(c string) (channel, subdir string) {
	c = strings.TrimSpace(c)
	if i := strings.LastIndex(c, "/"); i >= 0 && platforms[c[i+1:]] {
		return c[:i], c[i+1:]
	}
	return c, ""
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isSep(c byte) bool { return c == '.' || c == '_' || c == '-' }

// checkName applies CEP 26 to the lower-cased name.
func checkName(name string) string {
	if name == "" {
		return "no package name before the version: write e.g. \"python >=3.10\""
	}
	if strings.ContainsAny(name, "*?") {
		return fmt.Sprintf("%q is a pattern, not a package name: name one package", name)
	}
	var bad []string
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && !isSep(c) {
			bad = append(bad, fmt.Sprintf("%q", c))
		}
	}
	if len(bad) > 0 {
		return fmt.Sprintf("the package name %q holds %s; names hold letters, digits, '.', '_' and '-'", name, strings.Join(bad, ", "))
	}
	body := strings.ToLower(name)
	switch {
	case strings.HasPrefix(body, "__"): // virtual package
		body = body[2:]
		if body == "" || !isAlnum(body[0]) {
			return fmt.Sprintf("%q is not a valid virtual package name (__ then a letter or digit)", name)
		}
	case body[0] == '_':
		body = body[1:]
	case !isAlnum(body[0]):
		return fmt.Sprintf("the package name %q must start with a letter, digit or '_'", name)
	}
	for i := 1; i < len(body); i++ {
		if isSep(body[i]) && isSep(body[i-1]) {
			return fmt.Sprintf("the package name %q has two separators in a row (%q), which conda refuses (CEP 26)", name, body[i-1:i+1])
		}
	}
	return ""
}

func checkBuild(b string) string {
	switch {
	case b == "":
		return "empty build string"
	case strings.ContainsAny(b[:1], "<>=!~"):
		return fmt.Sprintf("%q looks like a second version constraint after a space: join constraints with ',' (>=1,<2)", b)
	case !buildRe.MatchString(b):
		for i := 0; i < len(b); i++ {
			if c := b[i]; !isAlnum(c) && !strings.ContainsRune("_.+*", rune(c)) {
				if c == ' ' {
					return "expected `name [version [build]]`, got more fields: join version constraints with ',' (>=1,<2), and give at most one build string"
				}
				return fmt.Sprintf("the build string %q holds %q; build strings hold letters, digits, '_', '.', '+' and '*' as a glob", b, c)
			}
		}
	}
	return ""
}

type term struct {
	op   string // "", "=", "==", "!=", "<", "<=", ">", ">=", "~="
	core string // the version without glob; "" with any
	glob bool   // a trailing * or .*
	any  bool   // the version is "*"
	raw  string
}

type versionExpr struct {
	terms []term
	seps  []byte // ',' or '|' between terms
}

var operators = []string{"==", "!=", "<=", ">=", "~=", "<", ">", "="}

func isVersionChar(c byte) bool { return isAlnum(c) || strings.IndexByte("._+!*", c) >= 0 }

// parseVersionAndBuild reads `version[ build]` or `version=build`. Spaces may stand
// around operators, ',' and '|'.
func parseVersionAndBuild(s string, allowBuild bool) (*versionExpr, string, string) {
	e := &versionExpr{}
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	for {
		skip()
		start := i
		op := ""
		for _, o := range operators {
			if strings.HasPrefix(s[i:], o) {
				op = o
				break
			}
		}
		i += len(op)
		if i < len(s) && strings.IndexByte("<>=!~", s[i]) >= 0 {
			j := i
			for j < len(s) && strings.IndexByte("<>=!~", s[j]) >= 0 {
				j++
			}
			return nil, "", fmt.Sprintf("%q is not a version operator (use ==, !=, <, <=, >, >=, ~= or =)", s[start:j])
		}
		skip()
		b := i
		for i < len(s) && isVersionChar(s[i]) {
			i++
		}
		body := s[b:i]
		if body == "" {
			if op != "" {
				return nil, "", fmt.Sprintf("the operator %s has no version after it", op)
			}
			if i >= len(s) {
				return nil, "", "expected a version after ',' or '|'"
			}
			return nil, "", fmt.Sprintf("expected a version, found %q", s[i:i+1])
		}
		t, reason := makeTerm(op, body)
		if reason != "" {
			return nil, "", reason
		}
		t.raw = strings.TrimSpace(s[start:i])
		e.terms = append(e.terms, t)
		if i < len(s) && s[i] == '=' {
			// conda's version=build
			build := strings.TrimSpace(s[i+1:])
			if !allowBuild {
				return nil, "", "a build string cannot follow the version here"
			}
			if reason := checkBuild(build); reason != "" {
				return nil, "", reason
			}
			return e, build, ""
		}
		spaced := i < len(s) && (s[i] == ' ' || s[i] == '\t')
		skip()
		if i >= len(s) {
			return e, "", ""
		}
		if c := s[i]; c == ',' || c == '|' {
			e.seps = append(e.seps, c)
			i++
			continue
		}
		if !spaced {
			if s[i] == '-' {
				return nil, "", fmt.Sprintf("'-' in the version %q: conda versions have no '-' (write '_' or '.')", body+s[i:])
			}
			return nil, "", fmt.Sprintf("unexpected %q after the version %q", s[i:i+1], body)
		}
		build := s[i:]
		if !allowBuild {
			return nil, "", fmt.Sprintf("unexpected %q after the version", build)
		}
		if reason := checkBuild(build); reason != "" {
			return nil, "", reason
		}
		return e, build, ""
	}
}

func makeTerm(op, body string) (term, string) {
	t := term{op: op}
	if body == "*" {
		t.any = true
		switch op {
		case "", "=":
			return t, ""
		}
		return t, fmt.Sprintf("%s* means nothing: leave the version out for any version", op)
	}
	core := body
	if c, ok := strings.CutSuffix(core, ".*"); ok {
		core, t.glob = c, true
	} else if c, ok := strings.CutSuffix(core, "*"); ok {
		core, t.glob = c, true
	}
	if strings.Contains(core, "*") {
		return t, fmt.Sprintf("%q: a '*' inside a version is a pattern rattler does not support; only a trailing .* (starts-with) is", body)
	}
	if !versionRe.MatchString(core) {
		return t, fmt.Sprintf("%q is not a valid version (letters and digits in components joined by '.' or '_', an optional N! epoch and +local part)", body)
	}
	t.core = core
	if t.glob {
		switch op {
		case "", "=", "!=":
		case ">=":
			t.glob = false // conda and rattler both read >=1.2.* as >=1.2
		default:
			return t, fmt.Sprintf("%s%s: conda and rattler read a glob after %s differently; write %s%s, or %s.* for starts-with", op, body, op, op, core, core)
		}
	}
	return t, ""
}

// render writes the canonical version. exactEq is set for a positional version followed
// by a positional build, where conda reads a lone =1.2 as ==1.2.
func (e *versionExpr) render(exactEq bool) string {
	var b strings.Builder
	for i, t := range e.terms {
		if i > 0 {
			b.WriteByte(e.seps[i-1])
		}
		switch {
		case t.any:
			b.WriteString("*")
		case t.op == "" && t.glob, t.op == "=" && t.glob:
			b.WriteString(t.core + ".*")
		case t.op == "" || t.op == "==":
			b.WriteString("==" + t.core)
		case t.op == "=":
			if exactEq && len(e.terms) == 1 {
				b.WriteString("==" + t.core)
			} else {
				b.WriteString(t.core + ".*")
			}
		case t.op == "!=" && t.glob:
			b.WriteString("!=" + t.core + ".*")
		default:
			b.WriteString(t.op + t.core)
		}
	}
	return b.String()
}

// parseBrackets reads `key=value, key='value' key2="v"`.
func parseBrackets(s string) ([]Key, string) {
	var keys []Key
	seen := map[string]bool{}
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	for {
		skip()
		if i >= len(s) {
			break
		}
		k := i
		for i < len(s) && (isAlnum(s[i]) || s[i] == '_' || s[i] == '-') {
			i++
		}
		key := s[k:i]
		skip()
		if key == "" || i >= len(s) || s[i] != '=' {
			if len(keys) > 0 && (keys[len(keys)-1].Name == "version" || keys[len(keys)-1].Name == "build") {
				return nil, fmt.Sprintf("expected key=value in brackets at %q: a value holding ',' must be quoted, e.g. version='>=1,<2'", s[k:])
			}
			return nil, fmt.Sprintf("expected key=value in brackets at %q", s[k:])
		}
		i++
		skip()
		var value string
		switch {
		case i < len(s) && (s[i] == '\'' || s[i] == '"'):
			q := s[i]
			j := strings.IndexByte(s[i+1:], q)
			if j < 0 {
				return nil, fmt.Sprintf("unbalanced quotes: %c is never closed", q)
			}
			value = s[i+1 : i+1+j]
			i += j + 2
		case i < len(s) && s[i] == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return nil, "unbalanced brackets in a [key=[list]] value"
			}
			value = s[i : i+j+1]
			i += j + 1
		default:
			v := i
			for i < len(s) && s[i] != ',' && s[i] != ' ' && s[i] != '\t' {
				if s[i] == '\'' || s[i] == '"' || s[i] == '[' || s[i] == ']' {
					return nil, fmt.Sprintf("unexpected %q in the unquoted value of %s: quote the whole value", s[i:i+1], key)
				}
				i++
			}
			value = s[v:i]
		}
		if strings.TrimSpace(value) == "" {
			return nil, fmt.Sprintf("[%s=] has no value", key)
		}
		switch {
		case key == "version" || key == "build" || key == "channel" || key == "subdir" || otherKeys[key]:
		default:
			return nil, fmt.Sprintf("unknown bracket key %q (known: %s)", key, knownKeys)
		}
		if seen[key] {
			return nil, fmt.Sprintf("[%s=...] is given twice", key)
		}
		seen[key] = true
		keys = append(keys, Key{key, value})
		skip()
		if i < len(s) {
			if s[i] == ',' {
				i++
				skip()
				if i >= len(s) {
					return nil, "trailing ',' in brackets"
				}
			} else if s[i-1] != ' ' && s[i-1] != '\t' && s[i-1] != '\'' && s[i-1] != '"' && s[i-1] != ']' {
				return nil, fmt.Sprintf("unexpected %q in brackets", s[i:i+1])
			}
		}
	}
	if len(keys) == 0 {
		return nil, "empty brackets: write [key=value] or leave them out"
	}
	return keys, ""
}
