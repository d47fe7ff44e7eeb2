// Package globset matches slash paths with the glob rules rattler-build uses for the
// recipe keys it reads as glob lists (build.files, prefix_detection, always_copy_files,
// tests' package_contents, ...): the Rust globset crate's syntax with `*` and `?` also
// matching `/`, `**` for any number of folders, `{a,b}` alternatives, `[...]` classes
// and `\` escapes. Patterns are compiled to anchored regular expressions.
package globset

import (
	"fmt"
	"regexp"
	"strings"
)

// Glob is one compiled pattern.
type Glob struct {
	Source string
	re     *regexp.Regexp
}

// Match reports whether the whole path matches.
func (g *Glob) Match(p string) bool { return g.re.MatchString(p) }

// Compile compiles a pattern as globset does (empty alternatives allowed).
func Compile(pattern string) (*Glob, error) {
	expr, err := translate(pattern)
	if err != nil {
		return nil, fmt.Errorf("glob %q: %w", pattern, err)
	}
	re, err := regexp.Compile(`(?s)^` + expr + `$`)
	if err != nil {
		return nil, fmt.Errorf("glob %q: %w", pattern, err)
	}
	return &Glob{Source: pattern, re: re}, nil
}

// CompilePath compiles a pattern the way rattler-build's GlobVec does for paths: a
// leading "./" is dropped, "." means everything, a trailing "/" means everything in
// that folder, and any other pattern also matches everything below what it names
// (`bin` matches `bin` and `bin/x`).
func CompilePath(pattern string) (*Glob, error) {
	p := strings.TrimPrefix(pattern, "./")
	switch {
	case p == "" || p == ".":
		p = "**"
	case strings.HasSuffix(p, "/"):
		p += "**"
	default:
		p += "{,/**}"
	}
	g, err := Compile(p)
	if err != nil {
		return nil, fmt.Errorf("glob %q: %w", pattern, errorsUnwrapMsg(err))
	}
	g.Source = pattern
	return g, nil
}

func errorsUnwrapMsg(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 {
		return fmt.Errorf("%s", msg[i+2:])
	}
	return err
}

// Set is an include/exclude list, rattler-build's GlobVec: a path matches when it
// matches an include glob (or there are none) and no exclude glob. A set with neither
// matches nothing.
type Set struct {
	Include []*Glob
	Exclude []*Glob
}

// NewSet compiles include and exclude patterns with CompilePath.
func NewSet(include, exclude []string) (*Set, error) {
	s := &Set{}
	for _, p := range include {
		g, err := CompilePath(p)
		if err != nil {
			return nil, err
		}
		s.Include = append(s.Include, g)
	}
	for _, p := range exclude {
		g, err := CompilePath(p)
		if err != nil {
			return nil, err
		}
		s.Exclude = append(s.Exclude, g)
	}
	return s, nil
}

// Empty reports whether the set has no globs at all.
func (s *Set) Empty() bool { return s == nil || len(s.Include)+len(s.Exclude) == 0 }

// Match applies the set to a path.
func (s *Set) Match(p string) bool {
	if s.Empty() {
		return false
	}
	if len(s.Include) > 0 && !anyMatch(s.Include, p) {
		return false
	}
	return !anyMatch(s.Exclude, p)
}

// MatchAny reports whether any of globs matches p.
func MatchAny(globs []*Glob, p string) bool { return anyMatch(globs, p) }

func anyMatch(globs []*Glob, p string) bool {
	for _, g := range globs {
		if g.Match(p) {
			return true
		}
	}
	return false
}

// translate turns a glob into a regular expression body.
func translate(pat string) (string, error) {
	var b strings.Builder
	inAlt := false
	altStart := 0
	i := 0
	for i < len(pat) {
		c := pat[i]
		switch {
		case c == '*' && i+1 < len(pat) && pat[i+1] == '*':
			// ** is recursive only as a whole component; elsewhere it is two *s.
			start := i == 0 || pat[i-1] == '/' || (inAlt && (i == altStart || pat[i-1] == ','))
			endAt := i + 2
			end := endAt == len(pat) || pat[endAt] == '/' || (inAlt && (pat[endAt] == ',' || pat[endAt] == '}'))
			switch {
			case start && end && endAt < len(pat) && pat[endAt] == '/':
				b.WriteString(`(?:.*/)?`)
				i = endAt + 1
			case start && end:
				b.WriteString(`.*`)
				i = endAt
			default:
				b.WriteString(`.*`)
				i = endAt
			}
			continue
		case c == '*':
			b.WriteString(`.*`)
		case c == '?':
			b.WriteString(`.`)
		case c == '\\':
			if i+1 >= len(pat) {
				return "", fmt.Errorf("dangling escape \\ at the end")
			}
			i++
			b.WriteString(regexp.QuoteMeta(pat[i : i+1]))
		case c == '[':
			j := i + 1
			if j < len(pat) && (pat[j] == '!' || pat[j] == '^') {
				j++
			}
			if j < len(pat) && pat[j] == ']' {
				j++ // a ] first in the class is literal
			}
			for j < len(pat) && pat[j] != ']' {
				j++
			}
			if j >= len(pat) {
				return "", fmt.Errorf("unclosed character class [")
			}
			class := pat[i+1 : j]
			neg := false
			if strings.HasPrefix(class, "!") || strings.HasPrefix(class, "^") {
				neg, class = true, class[1:]
			}
			b.WriteByte('[')
			if neg {
				b.WriteByte('^')
			}
			for k := 0; k < len(class); k++ {
				ch := class[k]
				if ch == '\\' || ch == '[' || ch == ']' || ch == '^' {
					b.WriteByte('\\')
				}
				b.WriteByte(ch)
			}
			b.WriteByte(']')
			i = j
		case c == '{':
			if inAlt {
				return "", fmt.Errorf("nested alternatives {...{...}} are not allowed")
			}
			inAlt, altStart = true, i+1
			b.WriteString(`(?:`)
		case c == '}' && inAlt:
			inAlt = false
			b.WriteString(`)`)
		case c == ',' && inAlt:
			b.WriteString(`|`)
			altStart = i + 1
		default:
			b.WriteString(regexp.QuoteMeta(pat[i : i+1]))
		}
		i++
	}
	if inAlt {
		return "", fmt.Errorf("unclosed alternative {")
	}
	return b.String(), nil
}
