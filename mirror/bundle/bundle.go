// Package bundle reads and writes condachan mirror bundles: one uncompressed POSIX tar
// (PAX) that holds the lock files of some environments and every package they need. `mirror
// pack` writes one on a connected machine; `mirror --from` publishes it on the other side of
// an air gap. Packages are compressed already and a bundle may be 50 GB or more, so both
// sides stream: only the lock files and the list of entries are ever held in memory.
//
// A bundle holds, in this order:
//
//	condachan-mirror/VERSION                   "1\n"
//	condachan-mirror/locks/<n>-<name>          the lock files as given, n = 1, 2, ...
//	condachan-mirror/pkgs/<subdir>/<filename>  packages, each with the PAX records
//	                                           CONDACHAN.sha256 (and CONDACHAN.md5) of its bytes
//	condachan-mirror/manifest.json             {"version":1,"locks":[...],"packages":[...]}
//
// The locks come first so that a reader knows what to look for before the packages go by;
// the manifest comes last, so that its presence means the bundle is complete. A file named
// like the bundle is always complete: the Writer builds <path>.partial and renames it only
// once the manifest is written and synced (see Create for how a partial one is resumed).
package bundle

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Version is the bundle format this package writes and reads.
const Version = 1

// Limits on what a reader holds in memory, whatever a bundle's headers claim.
const (
	MaxLocksSize    = 64 << 20 // the lock files together
	MaxManifestSize = 64 << 20
)

const (
	root          = "condachan-mirror/"
	versionName   = root + "VERSION"
	versionData   = "1\n"
	locksDir      = root + "locks/"
	pkgsDir       = root + "pkgs/"
	manifestName  = root + "manifest.json"
	paxSHA256     = "CONDACHAN.sha256"
	paxMD5        = "CONDACHAN.md5"
	partialSuffix = ".partial"
)

// LockFile is a lock file as the user gave it: Name is its base name (pixi.lock), Data its
// bytes, unchanged.
type LockFile struct {
	Name string
	Data []byte
}

// Entry is a package in a bundle. SHA256 and MD5 are lower-case hex; MD5 is "" when the
// packer did not know it.
type Entry struct {
	Subdir   string `json:"subdir"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	MD5      string `json:"md5,omitempty"`
}

// Path is the entry's place in a channel: <subdir>/<filename>.
func (e Entry) Path() string { return e.Subdir + "/" + e.Filename }

// problem says what makes e unfit for a bundle, or "". The names end up as paths in a
// channel or on disk, so only plain conda names pass: no separators, no dot-files, no "..".
func (e Entry) problem() string {
	switch {
	case !isSubdir(e.Subdir):
		return fmt.Sprintf("subdir %q is not a conda subdir name (like linux-64 or noarch)", e.Subdir)
	case !isPackageName(e.Filename):
		return fmt.Sprintf("file name %q is not a conda package's (a plain name ending .conda or .tar.bz2)", e.Filename)
	case e.Size < 0:
		return fmt.Sprintf("size %d is negative", e.Size)
	case !isHex(e.SHA256, 64):
		return fmt.Sprintf("sha256 %q is not 64 lower-case hex digits", e.SHA256)
	case e.MD5 != "" && !isHex(e.MD5, 32):
		return fmt.Sprintf("md5 %q is not 32 lower-case hex digits", e.MD5)
	}
	return ""
}

// isSubdir accepts subdir-shaped names (linux-64, noarch, emscripten-wasm32) rather than
// channel.KnownSubdirs: the publisher decides which subdirs a channel takes.
func isSubdir(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isPackageName accepts the bytes conda file names use (as serve does), no leading dot.
func isPackageName(s string) bool {
	stem, ok := strings.CutSuffix(s, ".conda")
	if !ok {
		stem, ok = strings.CutSuffix(s, ".tar.bz2")
	}
	if !ok || stem == "" || len(s) > 255 || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._-+!~=,@", c) >= 0) {
			return false
		}
	}
	return true
}

// isLockName accepts any base name a user may give a lock file, but nothing that could
// name another folder when the caller writes it out.
func isLockName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 255 || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '/' || c == '\\' {
			return false
		}
	}
	return true
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// lockEntry is the tar name of the n-th lock file (n from 1): numbered, since two
// environments' locks are often both called pixi.lock.
func lockEntry(n int, name string) string { return fmt.Sprintf("%s%d-%s", locksDir, n, name) }

// manifest is manifest.json: what the bundle holds, in order.
type manifest struct {
	Version  int      `json:"version"`
	Locks    []string `json:"locks"` // entry names under locks/: "1-pixi.lock"
	Packages []Entry  `json:"packages"`
}

// FormatError is a bundle that is not laid out as this package writes them: an unexpected,
// unsafe, duplicate or non-file entry, a missing or malformed record, an oversized lock file
// or manifest, or a manifest that disagrees with the entries.
type FormatError struct {
	Bundle  string
	Entry   string // the tar entry's name; "" for the file as a whole
	Problem string
}

func (e *FormatError) Error() string {
	if e.Entry == "" {
		return fmt.Sprintf("%s is not a condachan mirror bundle: %s", e.Bundle, e.Problem)
	}
	return fmt.Sprintf("mirror bundle %s: entry %q: %s", e.Bundle, e.Entry, e.Problem)
}

// VersionError is a bundle of another format version, made by another condachan.
type VersionError struct {
	Bundle  string
	Version string // the VERSION entry, trimmed
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("mirror bundle %s has format version %q; this condachan reads version %d: publish it with the condachan version that packed it", e.Bundle, e.Version, Version)
}

// IncompleteError is a bundle that ends before its manifest: packing it, or copying it,
// was interrupted.
type IncompleteError struct {
	Bundle string
	After  string // the last entry read whole, "" if none
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("mirror bundle %s is incomplete: it ends before its manifest (after entry %q), so packing or copying it was interrupted; run pack again with the same lock files (it resumes where it stopped) and copy the finished file", e.Bundle, e.After)
}

// HashMismatchError is package bytes that differ from the hash they should have: when
// writing, the one the caller expects; when reading, the one recorded in the bundle.
type HashMismatchError struct {
	Bundle    string
	Entry     Entry
	Algo      string // "sha256" or "md5"
	Want, Got string
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("mirror bundle %s: %s: %s is %s, expected %s", e.Bundle, e.Entry.Path(), e.Algo, e.Got, e.Want)
}

// SizeMismatchError is package bytes given to Writer.Add that are not Entry.Size long.
type SizeMismatchError struct {
	Bundle string
	Entry  Entry
	Got    int64
}

func (e *SizeMismatchError) Error() string {
	return fmt.Sprintf("mirror bundle %s: %s: got %d bytes, expected %d", e.Bundle, e.Entry.Path(), e.Got, e.Entry.Size)
}

// ConflictError is a package added under the name of another one already in the bundle:
// two lock files pin different packages with one file name, and a channel holds one.
type ConflictError struct {
	Bundle    string
	Have, Add Entry
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("mirror bundle %s already holds %s with sha256 %s; another package of that name has sha256 %s (the lock files disagree about it)", e.Bundle, e.Have.Path(), e.Have.SHA256, e.Add.SHA256)
}
