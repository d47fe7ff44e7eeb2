// Package prefixscan finds the files of a package that hold the build prefix, as
// rattler-build's prefix detection does, while the files stream into the package: a
// file is text when its first 1024 bytes are UTF-8 without a NUL (content_inspector's
// rule), binary otherwise, and one that holds the prefix is recorded in paths.json with
// prefix_placeholder and file_mode so that conda rewrites it at install. The recipe's
// prefix_detection keys (ignore, ignore_binary_files, force_file_type) decide first.
package prefixscan

import (
	"bytes"
	"fmt"

	"github.com/condachan/condachan/internal/globset"
)

// Mode is paths.json's file_mode.
type Mode string

const (
	Text   Mode = "text"
	Binary Mode = "binary"
)

// Rules are a build's prefix detection settings.
type Rules struct {
	// Prefix is the build prefix as the script saw it (PREFIX).
	Prefix string
	// SlashPrefix is the prefix with forward slashes, also looked for in text files
	// when the build ran on Windows ("" otherwise).
	SlashPrefix       string
	Ignore            bool
	IgnoreGlobs       []*globset.Glob
	IgnoreBinaryFiles bool
	ForceText         []*globset.Glob
	ForceBinary       []*globset.Glob
	// WindowsTarget: conda never rewrites binary files of Windows packages, so they get
	// no placeholder.
	WindowsTarget bool
}

// NewRules compiles the recipe's globs.
func NewRules(prefix, slashPrefix string, ignore bool, ignoreGlobs []string, ignoreBinary bool, forceText, forceBinary []string, windowsTarget bool) (*Rules, error) {
	r := &Rules{Prefix: prefix, SlashPrefix: slashPrefix, Ignore: ignore, IgnoreBinaryFiles: ignoreBinary, WindowsTarget: windowsTarget}
	for _, set := range []struct {
		src []string
		dst *[]*globset.Glob
	}{{ignoreGlobs, &r.IgnoreGlobs}, {forceText, &r.ForceText}, {forceBinary, &r.ForceBinary}} {
		for _, p := range set.src {
			g, err := globset.CompilePath(p)
			if err != nil {
				return nil, err
			}
			*set.dst = append(*set.dst, g)
		}
	}
	return r, nil
}

// Scanner follows one file's bytes. Write them all, then ask Result.
type Scanner struct {
	rules  *Rules
	path   string
	forced Mode
	head   []byte // the first sniffLen bytes, for the text/binary decision
	found  [2]bool
	tails  [2][]byte // the last len(needle)-1 bytes seen, for matches across writes
}

// sniffLen is how much of a file decides whether it is text (content_inspector).
const sniffLen = 1024

// Scan starts scanning the file at the package path p; it returns nil when the rules
// leave the file out of prefix detection.
func (r *Rules) Scan(p string) *Scanner {
	if r == nil || r.Ignore || globset.MatchAny(r.IgnoreGlobs, p) {
		return nil
	}
	s := &Scanner{rules: r, path: p}
	switch {
	case globset.MatchAny(r.ForceBinary, p):
		s.forced = Binary
	case globset.MatchAny(r.ForceText, p):
		s.forced = Text
	}
	return s
}

func (s *Scanner) needles() []string {
	if s.rules.SlashPrefix != "" && s.rules.SlashPrefix != s.rules.Prefix {
		return []string{s.rules.Prefix, s.rules.SlashPrefix}
	}
	return []string{s.rules.Prefix}
}

// Write scans the next bytes of the file.
func (s *Scanner) Write(p []byte) (int, error) {
	if len(s.head) < sniffLen {
		s.head = append(s.head, p[:min(len(p), sniffLen-len(s.head))]...)
	}
	for i, needle := range s.needles() {
		if s.found[i] || needle == "" {
			continue
		}
		n := []byte(needle)
		if tail := s.tails[i]; len(tail) > 0 {
			// a match that starts in the previous write
			joined := append(append([]byte{}, tail...), p[:min(len(p), len(n)-1)]...)
			if bytes.Contains(joined, n) {
				s.found[i] = true
				continue
			}
		}
		if bytes.Contains(p, n) {
			s.found[i] = true
			continue
		}
		s.tails[i] = lastBytes(s.tails[i], p, len(n)-1)
	}
	return len(p), nil
}

// lastBytes returns the last n bytes of tail followed by p, reusing tail's array.
func lastBytes(tail, p []byte, n int) []byte {
	if len(p) >= n {
		return append(tail[:0], p[len(p)-n:]...)
	}
	joined := append(tail, p...)
	if len(joined) > n {
		joined = append(joined[:0], joined[len(joined)-n:]...)
	}
	return joined
}

// IsText applies content_inspector's rule to the first bytes of a file: a UTF-8 byte
// order mark or no NUL means text; UTF-16 and UTF-32 (by their byte order marks), PDF
// and PNG are binary, as rattler-build counts them.
func IsText(head []byte) bool {
	switch {
	case bytes.HasPrefix(head, []byte{0xef, 0xbb, 0xbf}):
		return true
	case bytes.HasPrefix(head, []byte{0xff, 0xfe}), bytes.HasPrefix(head, []byte{0xfe, 0xff}),
		bytes.HasPrefix(head, []byte{0, 0, 0xfe, 0xff}),
		bytes.HasPrefix(head, []byte("%PDF")), bytes.HasPrefix(head, []byte("\x89PNG")):
		return false
	}
	return bytes.IndexByte(head[:min(len(head), sniffLen)], 0) < 0
}

// Result is the file's paths.json placeholder and mode, or "" when it has none.
func (s *Scanner) Result() (placeholder string, mode Mode, err error) {
	if s == nil {
		return "", "", nil
	}
	text := IsText(s.head)
	if text && s.forced != Binary {
		ns := s.needles()
		switch {
		case len(ns) == 2 && s.found[0] && s.found[1]:
			return "", "", fmt.Errorf("%s holds the build prefix both with backslashes and with forward slashes; conda can replace only one form", s.path)
		case s.found[0]:
			placeholder = ns[0]
		case len(ns) == 2 && s.found[1]:
			placeholder = ns[1]
		default:
			return "", "", nil
		}
		return placeholder, orMode(s.forced, Text), nil
	}
	if s.rules.IgnoreBinaryFiles || s.rules.WindowsTarget || !s.found[0] {
		return "", "", nil
	}
	return s.rules.Prefix, orMode(s.forced, Binary), nil
}

func orMode(forced, detected Mode) Mode {
	if forced != "" {
		return forced
	}
	return detected
}
