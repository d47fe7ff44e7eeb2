// Package condaversion parses conda version strings and orders them the way
// conda does (conda.models.version.VersionOrder). conda-index uses that order
// to pick the newest version of a package for channeldata.json and to sort
// the index pages; we use it for the same.
//
// The rules, as conda documents and implements them:
//
//   - Surrounding whitespace is removed (whatever Python's str.strip counts
//     as whitespace) and the string is lower-cased. An empty result is an
//     error.
//   - The only characters allowed are a-z, 0-9, '*', '.', '+', '!' and '_'.
//     A string that also has '-' but no '_' has every '-' turned into '_'
//     first; '-' and '_' together are an error.
//   - An optional epoch, a non-empty run of digits followed by '!', comes
//     first; without one the epoch is 0. More than one '!' is an error.
//   - An optional local version follows a single '+'; more than one '+', or
//     nothing before the '+', is an error.
//   - The version (and the local version) is split into components at '.'
//     and '_'. An empty component is an error ("1..2", "1.", ".1", "1.2+"),
//     except that one trailing '_' of the version proper stays attached to
//     the last component ("1.0.1_", the openssl convention).
//   - Each component is split into runs of digits, runs of '*' and runs of
//     anything else. Digit runs are integers (of any size). The run "post"
//     sorts above every other value; the run "dev" sorts below every string
//     except runs of '*'. Other runs are strings. A component that does not
//     start with a digit gets an integer 0 put in front of it, so
//     "1.1.a1" == "1.1.0a1".
//   - Versions are compared epoch first, then component by component, and
//     within a component part by part. Strings sort below integers, integers
//     numerically, strings by their bytes ('*' < "dev" < '_' < letters), and
//     "post" above all. A missing component or part counts as the integer 0,
//     so "1.1" == "1.1.0". Local versions are compared, the same way, only
//     when the rest is equal.
package condaversion

import (
	"cmp"
	"fmt"
	"strings"
	"unicode"
)

// Version is a parsed conda version. The zero Version compares equal to "0"
// and prints as "".
type Version struct {
	norm    string   // lower-cased, stripped, '-' turned into '_': conda's norm_version
	version [][]atom // epoch, then the components of the version proper
	local   [][]atom // components of the local version; nil if there is none
}

// atomKind values are ordered as conda orders the kinds: strings < integers
// < "post". The zero value is an integer so that the zero atom is the
// integer 0, conda's fill value.
type atomKind uint8

const (
	kindInt atomKind = iota
	kindStr
	kindPost
)

func (k atomKind) rank() int {
	switch k {
	case kindStr:
		return 0
	case kindInt:
		return 1
	default:
		return 2
	}
}

// atom is one part of a component.
type atom struct {
	kind atomKind
	// For kindInt, the decimal digits without leading zeros ("" is 0), so
	// integers of any size compare correctly. For kindStr, the string, with
	// "dev" stored as "DEV" so that it sorts below '_' and every lower-case
	// string but above '*', as conda does.
	s string
}

func compareAtoms(a, b atom) int {
	if a.kind != b.kind {
		return cmp.Compare(a.kind.rank(), b.kind.rank())
	}
	switch a.kind {
	case kindInt:
		if c := cmp.Compare(len(a.s), len(b.s)); c != 0 {
			return c
		}
		return strings.Compare(a.s, b.s)
	case kindStr:
		return strings.Compare(a.s, b.s)
	}
	return 0 // "post" == "post"
}

// Error reports a string that is not a valid conda version (conda raises
// InvalidVersionSpec for these).
type Error struct {
	Version string // the string given to Parse
	Reason  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid version %q: %s", e.Version, e.Reason)
}

// isPySpace reports whether Python's str.isspace holds for r: Go's
// unicode.IsSpace plus the separators U+001C..U+001F.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// allowed reports whether c may appear in a normalized version.
func allowed(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		return true
	}
	return c == '*' || c == '.' || c == '+' || c == '!' || c == '_'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// normalize strips, lower-cases and checks s as conda does, returning
// conda's norm_version or the reason s is invalid.
func normalize(s string) (string, string) {
	t := strings.TrimFunc(s, isPySpace)
	if t == "" {
		return "", "empty version string"
	}
	b := make([]byte, 0, len(t))
	hasDash, hasUnderscore, bad := false, false, false
	for _, r := range t {
		switch {
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		case r == '\u212a':
			// KELVIN SIGN: the one non-ASCII character that Python
			// lower-cases into the allowed set.
			r = 'k'
		}
		switch {
		case r == '-':
			hasDash = true
		case r == '_':
			hasUnderscore = true
		case r >= 0x80 || !allowed(byte(r)):
			bad = true
		}
		if r < 0x80 {
			b = append(b, byte(r))
		}
	}
	if bad || (hasDash && hasUnderscore) {
		return "", "invalid character(s)"
	}
	if hasDash {
		for i, c := range b {
			if c == '-' {
				b[i] = '_'
			}
		}
	}
	return string(b), ""
}

// Parse parses a conda version. It fails where conda's VersionOrder raises
// InvalidVersionSpec; the error is an *Error.
func Parse(s string) (Version, error) {
	fail := func(reason string) (Version, error) {
		return Version{}, &Error{Version: s, Reason: reason}
	}
	norm, reason := normalize(s)
	if reason != "" {
		return fail(reason)
	}

	rest := norm
	epoch := "0"
	if i := strings.IndexByte(rest, '!'); i >= 0 {
		epoch, rest = rest[:i], rest[i+1:]
		if strings.IndexByte(rest, '!') >= 0 {
			return fail("duplicated epoch separator '!'")
		}
		if epoch == "" || strings.IndexFunc(epoch, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
			return fail("epoch must be an integer")
		}
	}

	var localParts []string
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		local := rest[i+1:]
		rest = rest[:i]
		if strings.IndexByte(local, '+') >= 0 {
			return fail("duplicated local version separator '+'")
		}
		localParts = strings.Split(strings.ReplaceAll(local, "_", "."), ".")
	}
	if rest == "" {
		return fail("missing version before local version separator '+'")
	}

	// One trailing '_' stays with the last component (openssl-like
	// versions such as "1.0.1_").
	var parts []string
	if rest[len(rest)-1] == '_' {
		parts = strings.Split(strings.ReplaceAll(rest[:len(rest)-1], "_", "."), ".")
		parts[len(parts)-1] += "_"
	} else {
		parts = strings.Split(strings.ReplaceAll(rest, "_", "."), ".")
	}

	v := Version{norm: norm, version: make([][]atom, 0, 1+len(parts))}
	for _, p := range append([]string{epoch}, parts...) {
		c, ok := splitComponent(p)
		if !ok {
			return fail("empty version component")
		}
		v.version = append(v.version, c)
	}
	if localParts != nil {
		v.local = make([][]atom, 0, len(localParts))
		for _, p := range localParts {
			c, ok := splitComponent(p)
			if !ok {
				return fail("empty version component")
			}
			v.local = append(v.local, c)
		}
	}
	return v, nil
}

// splitComponent splits one component into runs of digits, runs of '*' and
// runs of other characters, putting an integer 0 first when the component
// does not start with a digit. It reports false for an empty component.
func splitComponent(p string) ([]atom, bool) {
	if p == "" {
		return nil, false
	}
	var out []atom
	if !isDigit(p[0]) {
		out = append(out, atom{kind: kindInt})
	}
	for i := 0; i < len(p); {
		j := i + 1
		switch {
		case isDigit(p[i]):
			for j < len(p) && isDigit(p[j]) {
				j++
			}
			out = append(out, atom{kind: kindInt, s: strings.TrimLeft(p[i:j], "0")})
		case p[i] == '*':
			for j < len(p) && p[j] == '*' {
				j++
			}
			out = append(out, atom{kind: kindStr, s: p[i:j]})
		default:
			for j < len(p) && !isDigit(p[j]) && p[j] != '*' {
				j++
			}
			switch run := p[i:j]; run {
			case "post":
				out = append(out, atom{kind: kindPost})
			case "dev":
				out = append(out, atom{kind: kindStr, s: "DEV"})
			default:
				out = append(out, atom{kind: kindStr, s: run})
			}
		}
		i = j
	}
	return out, true
}

// compareComponents compares two component lists lexicographically, a
// missing component or part counting as the integer 0.
func compareComponents(a, b [][]atom) int {
	for i := range max(len(a), len(b)) {
		var x, y []atom
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		for j := range max(len(x), len(y)) {
			var p, q atom
			if j < len(x) {
				p = x[j]
			}
			if j < len(y) {
				q = y[j]
			}
			if c := compareAtoms(p, q); c != 0 {
				return c
			}
		}
	}
	return 0
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after o in
// conda's order.
func (v Version) Compare(o Version) int {
	if c := compareComponents(v.version, o.version); c != 0 {
		return c
	}
	return compareComponents(v.local, o.local)
}

// String returns the normalized version: stripped, lower-cased and with '-'
// turned into '_' where conda does that.
func (v Version) String() string { return v.norm }

// Compare parses a and b and compares them in conda's order. A string that is
// not a valid version sorts before every valid one; two invalid strings
// compare as plain strings.
func Compare(a, b string) int {
	va, errA := Parse(a)
	vb, errB := Parse(b)
	switch {
	case errA != nil && errB != nil:
		return strings.Compare(a, b)
	case errA != nil:
		return -1
	case errB != nil:
		return 1
	}
	return va.Compare(vb)
}
