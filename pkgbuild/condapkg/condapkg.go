// Package condapkg reads and writes the .conda package container (CEP 34/35): a STORED ZIP
// holding metadata.json, pkg-<stem>.tar.zst and info-<stem>.tar.zst, in that order, each
// tar.zst one zstd frame. It is the single place where condachan touches that format; the
// build writes packages with it and the index reads their metadata with it.
package condapkg

import (
	"bytes"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

const (
	// MetadataMember is the first member of every .conda.
	MetadataMember = "metadata.json"
	// FormatVersion is the conda_pkg_format_version this package writes and reads.
	FormatVersion = 2
	// Extension is the file name extension of the format.
	Extension = ".conda"
)

// Metadata is the content of metadata.json.
type Metadata struct {
	FormatVersion int `json:"conda_pkg_format_version"`
}

// PkgMember is the name of the member holding the installed files.
func PkgMember(stem string) string { return "pkg-" + stem + ".tar.zst" }

// InfoMember is the name of the member holding info/.
func InfoMember(stem string) string { return "info-" + stem + ".tar.zst" }

// Stem returns the file name of a .conda without its extension, or "" if name is not one.
func Stem(name string) string {
	base := path.Base(strings.ReplaceAll(name, "\\", "/"))
	if !strings.HasSuffix(base, Extension) || len(base) == len(Extension) {
		return ""
	}
	return strings.TrimSuffix(base, Extension)
}

func checkStem(stem string) error {
	if stem == "" || strings.ContainsAny(stem, "/\\\x00") || stem == "." || stem == ".." {
		return fmt.Errorf("invalid package file name %q", stem+Extension)
	}
	return nil
}

// CheckPath rejects a path that could land outside the prefix when extracted: absolute
// paths, drive letters, backslashes, "." or ".." components, empty components and
// invalid UTF-8. Control characters (\x00-\x1f, \x7f) are refused too: Windows cannot
// create such names, and a newline in a name breaks info/files (one path a line) and
// every tool that prints paths.
func CheckPath(p string) error {
	if p == "" {
		return fmt.Errorf("empty path")
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("path %q is not valid UTF-8", p)
	}
	if i := strings.IndexFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
		return fmt.Errorf("path %q contains the control character \\x%02x", p, p[i])
	}
	switch {
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("path %q is absolute: entries must be relative to the prefix", p)
	case strings.Contains(p, "\\"):
		return fmt.Errorf("path %q contains a backslash", p)
	case len(p) >= 2 && p[1] == ':':
		return fmt.Errorf("path %q starts with a drive letter", p)
	}
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "..":
			return fmt.Errorf("path %q has a \"..\" component and would leave the prefix", p)
		case ".", "":
			return fmt.Errorf("path %q is not clean (empty or \".\" component)", p)
		}
	}
	return nil
}

// CheckLinkTarget rejects a symlink at linkPath (a checked, prefix-relative path) whose
// target is absolute or resolves outside the prefix. Backslashes count as separators (they
// are on Windows). A ".." after a name component is refused too: the lexical result may be
// inside, but the name can itself be a symlink (a/c -> .), and the system resolves ".."
// from where that link points, so a/b -> c/../../x would land outside. Leading ".."
// components followed by names are what relative links in packages look like.
func CheckLinkTarget(linkPath, target string) error {
	switch {
	case target == "":
		return fmt.Errorf("symlink %s has an empty target", linkPath)
	case !utf8.ValidString(target):
		return fmt.Errorf("symlink %s: target %q is not valid UTF-8", linkPath, target)
	case strings.ContainsRune(target, 0):
		return fmt.Errorf("symlink %s: target contains a NUL byte", linkPath)
	case strings.HasPrefix(target, "/") || strings.HasPrefix(target, "\\") || (len(target) >= 2 && target[1] == ':'):
		return fmt.Errorf("symlink %s -> %s is absolute: it would point outside the prefix; make it relative", linkPath, target)
	}
	depth := strings.Count(linkPath, "/") // directories above the link inside the prefix
	named := false
	for _, c := range strings.Split(strings.ReplaceAll(target, "\\", "/"), "/") {
		switch c {
		case "", ".":
		case "..":
			if named {
				return fmt.Errorf("symlink %s -> %s has \"..\" after a name, which may resolve outside the prefix through another link; simplify the target", linkPath, target)
			}
			depth--
			if depth < 0 {
				return fmt.Errorf("symlink %s -> %s resolves outside the prefix", linkPath, target)
			}
		default:
			named = true
			depth++
		}
	}
	return nil
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
