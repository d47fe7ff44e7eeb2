// Package lockfile reads the lock files people produce on a connected machine — conda
// explicit files, pixi.lock and conda-lock.yml — and returns the conda package files they
// pin, with the hashes to verify them by, so that `condachan mirror` can copy exactly those
// files into a studio channel for machines that cannot reach the internet.
//
// It only reads: nothing is fetched. Anything the mirror could not reproduce faithfully on
// another machine (PyPI packages, local files, source packages, packages without a hash)
// is refused with an error naming the file, the line and the entry.
package lockfile

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/input"
)

// Format is the kind of lock file.
type Format string

const (
	Explicit  Format = "explicit"       // conda list --explicit, conda-lock --kind explicit
	PixiLock  Format = "pixi.lock"      // pixi's lock file
	CondaLock Format = "conda-lock.yml" // conda-lock's unified lock file
)

// Package is one conda package file a lock pins.
type Package struct {
	URL                  string // where upstream serves it (https://.../<subdir>/<file>), without a #fragment
	Subdir               string // linux-64, noarch, ...: the URL's parent folder
	Filename             string // <name>-<version>-<build>.conda or .tar.bz2
	Name, Version, Build string // from the file name
	SHA256               string // lowercase hex, "" when the lock has none
	MD5                  string // lowercase hex, "" when the lock has none
	Size                 int64  // 0 when unknown
	Origin               string // "file:line" where the entry was read, for messages
}

// Lock is what a lock file pins.
type Lock struct {
	Path     string
	Format   Format
	Packages []Package // in lock order, one per Subdir/Filename
}

// Options select part of a lock.
type Options struct {
	// Environments are the pixi.lock environments to read (default: all).
	Environments []string
	// Platforms are the platforms to read, as the lock names them (default: all; pixi.lock
	// version 7 may give a platform a name other than its subdir). Explicit files are
	// for one platform, so there the packages are selected by subdir; noarch ones stay.
	Platforms []string
}

// MaxSize is the largest lock file read. Real ones are a few MiB; this bounds the memory
// a hostile or mistaken file can make us use.
const MaxSize = 64 << 20

// Error is a lock file entry that cannot be mirrored, or a lock that cannot be read.
type Error struct {
	File  string
	Line  int    // 0: the whole file
	Entry string // the package concerned, "" for none
	Msg   string
	// Selection is set when what was asked for (Options: environments, platforms) does
	// not fit the lock, rather than the lock being wrong: it matches input.ErrInvalid.
	Selection bool
}

func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Entry != "" {
		s += fmt.Sprintf(": package %q", e.Entry)
	}
	return s + ": " + e.Msg
}

// Is makes an error of the selection match input.ErrInvalid: the options are at fault.
func (e *Error) Is(target error) bool { return e.Selection && target == input.ErrInvalid }

// PyPIError lists the PyPI packages in the selected part of a lock, all at once so that
// one look at the message shows everything there is to change.
type PyPIError struct {
	File    string
	Entries []string // name (and version) or URL of each PyPI package
}

func (e *PyPIError) Error() string {
	q := make([]string, len(e.Entries))
	for i, s := range e.Entries {
		q[i] = strconv.Quote(s)
	}
	return fmt.Sprintf("%s: %d PyPI package(s): %s; condachan mirrors conda packages only: "+
		"lock these from a conda channel instead, or leave out the environments and platforms that use them",
		e.File, len(e.Entries), list(q))
}

// Read opens a lock file, recognizes its format by its content and reads it.
func Read(file string, opts Options) (*Lock, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading lock file: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxSize {
		return nil, tooBig(file)
	}
	return Parse(f, file, opts)
}

// Parse reads a lock file from r; name is the file's name in the Lock and in messages.
func Parse(r io.Reader, name string, opts Options) (*Lock, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading lock file %s: %w", name, err)
	}
	if len(data) > MaxSize {
		return nil, tooBig(name)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	p := &parser{file: name, opts: opts, seen: map[string]int{}}
	if hasExplicitMarker(data) {
		p.format = Explicit
		err = p.explicit(string(data))
	} else {
		err = p.yamlLock(data)
	}
	if err != nil {
		return nil, err
	}
	if len(p.pypi.list) > 0 {
		return nil, &PyPIError{File: name, Entries: p.pypi.list}
	}
	return &Lock{Path: name, Format: p.format, Packages: p.pkgs}, nil
}

func tooBig(name string) error {
	return &Error{File: name, Msg: fmt.Sprintf("larger than %d MiB, which no real lock file is; is this the right file?", MaxSize>>20)}
}

// parser holds what one Parse has read so far.
type parser struct {
	file    string
	format  Format
	opts    Options
	pkgs    []Package
	seen    map[string]int // Subdir/Filename → index in pkgs
	pypi    nameSet
	subdirs nameSet // explicit files: the subdirs other than noarch, before filtering
}

func (p *parser) errorf(line int, entry, format string, args ...any) *Error {
	return &Error{File: p.file, Line: line, Entry: entry, Msg: fmt.Sprintf(format, args...)}
}

// selectionErrorf is an error of the Options asked for: environments or platforms the
// lock does not have.
func (p *parser) selectionErrorf(format string, args ...any) *Error {
	e := p.errorf(0, "", format, args...)
	e.Selection = true
	return e
}

// claim is what a lock says about a package besides its URL; "" where it says nothing.
type claim struct {
	name, version, build string
	subdir               string // must equal the URL's subdir
	platform             string // the subdir it was locked for: the URL's must be it or noarch
	md5, sha256, size    string
	hint                 string // how to get a lock with hashes, for this format
}

// newPackage checks a locked package against its URL and what the lock claims about it.
func (p *parser) newPackage(line int, rawURL string, c claim) (Package, error) {
	pkg := Package{Origin: fmt.Sprintf("%s:%d", p.file, line)}
	entry := cmp.Or(c.name, entryName(rawURL))
	u, err := packageURL(rawURL)
	if err != nil {
		return pkg, p.errorf(line, entry, "%v", err)
	}
	// The escaped path, so that the file name and subdir are what the server is asked for.
	dir, file := path.Split(u.EscapedPath())
	pkg.URL, _, _ = strings.Cut(rawURL, "#")
	pkg.Subdir, pkg.Filename = path.Base(dir), file
	if !channel.IsSubdir(pkg.Subdir) {
		return pkg, p.errorf(line, entry, "the folder above the package file in %s is %q, not a conda subdir (linux-64, noarch, ...); condachan mirrors packages from conda channels only", redact(rawURL), pkg.Subdir)
	}
	if pkg.Name, pkg.Version, pkg.Build, err = splitFilename(file); err != nil {
		return pkg, p.errorf(line, entry, "%v", err)
	}
	if err := crossCheck(pkg, c); err != nil {
		return pkg, p.errorf(line, entry, "%v; the lock contradicts itself, so regenerate it", err)
	}
	if pkg.MD5, err = hexHash(c.md5, 32, "md5"); err == nil {
		pkg.SHA256, err = hexHash(c.sha256, 64, "sha256")
	}
	if err == nil && c.size != "" {
		if pkg.Size, err = strconv.ParseInt(c.size, 10, 64); err != nil || pkg.Size < 0 {
			err = fmt.Errorf("size %q is not a byte count", c.size)
		}
	}
	if err != nil {
		return pkg, p.errorf(line, entry, "%v", err)
	}
	if pkg.MD5 == "" && pkg.SHA256 == "" {
		return pkg, p.errorf(line, entry, "has neither sha256 nor md5, so what is fetched could not be verified; %s", c.hint)
	}
	return pkg, nil
}

// packageURL parses a package URL: http(s) only, since the mirror fetches it from
// another machine than the one that wrote the lock.
func packageURL(raw string) (*url.URL, error) {
	if strings.Contains(raw, "${") {
		return nil, fmt.Errorf("URL %s has an environment variable in it; condachan does not expand them: write the lock with the URL spelled out", redact(raw))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q is not a URL", redact(raw))
	case u.Scheme == "file":
		return nil, fmt.Errorf("%s is a file on the machine that wrote the lock and cannot be fetched from elsewhere; publish it to a channel and lock it from there", redact(raw))
	case u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.Opaque != "":
		return nil, fmt.Errorf("%s is not an http(s) URL of a package file", redact(raw))
	}
	return u, nil
}

// splitFilename splits <name>-<version>-<build>.conda|.tar.bz2 on its last two dashes
// (names have dashes, versions and builds none), and refuses characters conda file names
// never have, since the name becomes a key in the mirror's channel.
func splitFilename(file string) (name, version, build string, err error) {
	stem, ok := strings.CutSuffix(file, ".conda")
	if !ok {
		stem, ok = strings.CutSuffix(file, ".tar.bz2")
	}
	if !ok {
		return "", "", "", fmt.Errorf("%q is not a conda package file (.conda or .tar.bz2)", file)
	}
	for _, r := range file {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("._+!-", r)) {
			return "", "", "", fmt.Errorf("package file name %q has a character conda file names do not have (%q)", file, r)
		}
	}
	i := strings.LastIndexByte(stem, '-')
	j := strings.LastIndexByte(stem[:max(i, 0)], '-')
	if j <= 0 || i-j < 2 || i == len(stem)-1 || stem[0] == '.' {
		return "", "", "", fmt.Errorf("package file name %q is not <name>-<version>-<build>", file)
	}
	return stem[:j], stem[j+1 : i], stem[i+1:], nil
}

// crossCheck compares the file name and folder with what the lock says.
func crossCheck(pkg Package, c claim) error {
	for _, f := range [...]struct{ what, lock, url string }{
		{"name", c.name, pkg.Name}, {"version", c.version, pkg.Version},
		{"build", c.build, pkg.Build}, {"subdir", c.subdir, pkg.Subdir},
	} {
		if f.lock != "" && f.lock != f.url {
			return fmt.Errorf("the lock gives %s %q but the package file %s/%s says %q", f.what, f.lock, pkg.Subdir, pkg.Filename, f.url)
		}
	}
	if c.platform != "" && pkg.Subdir != c.platform && pkg.Subdir != "noarch" {
		return fmt.Errorf("locked for platform %s but the package file is in %s/", c.platform, pkg.Subdir)
	}
	return nil
}

// hexHash checks a hex digest of n digits; "" stays "".
func hexHash(s string, n int, what string) (string, error) {
	if s == "" {
		return "", nil
	}
	s = strings.ToLower(s)
	if len(s) != n || strings.Trim(s, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%s %q is not %d hex digits", what, s, n)
	}
	return s, nil
}

// add appends a package unless the same subdir/file is there already. The same file twice
// is normal (several environments, conda-lock categories); with different hashes it means
// two channels serve different files under one name, and the mirror can hold only one.
func (p *parser) add(pkg Package) error {
	key := pkg.Subdir + "/" + pkg.Filename
	i, ok := p.seen[key]
	if !ok {
		p.seen[key] = len(p.pkgs)
		p.pkgs = append(p.pkgs, pkg)
		return nil
	}
	return p.merge(&p.pkgs[i], pkg)
}

// merge completes old, the first entry of a file, with what a later one knows.
func (p *parser) merge(old *Package, pkg Package) error {
	differ := func(a, b string) bool { return a != "" && b != "" && a != b }
	if differ(old.SHA256, pkg.SHA256) || differ(old.MD5, pkg.MD5) || old.Size != 0 && pkg.Size != 0 && old.Size != pkg.Size {
		return &Error{File: p.file, Entry: pkg.Filename, Msg: fmt.Sprintf(
			"locked twice with different hashes or sizes, at %s (%s) and at %s (%s); a channel holds one file of a name: lock it from one channel only, or regenerate the lock if it is damaged",
			old.Origin, redact(old.URL), pkg.Origin, redact(pkg.URL))}
	}
	old.SHA256 = cmp.Or(old.SHA256, pkg.SHA256)
	old.MD5 = cmp.Or(old.MD5, pkg.MD5)
	old.Size = cmp.Or(old.Size, pkg.Size)
	return nil
}

// redact hides a URL's credentials: locks of private channels can carry them, and
// messages end up in logs. Anything else is returned as it is.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		u.User = url.User("REDACTED")
		return u.String()
	}
	return raw
}

// entryName names a package by its URL in messages: the file name when there is one.
func entryName(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if base := path.Base(u.Path); strings.HasSuffix(base, ".conda") || strings.HasSuffix(base, ".tar.bz2") {
			return base
		}
	}
	return redact(raw)
}

// selected reports whether s is in the filter (an empty filter selects everything).
func selected(filter []string, s string) bool {
	return len(filter) == 0 || slices.Contains(filter, s)
}

// nameSet is an ordered set of names, for messages; a map so that hostile locks with
// millions of names do not make adding them quadratic.
type nameSet struct {
	list []string
	seen map[string]bool
}

func (s *nameSet) add(name string) {
	if !s.seen[name] {
		if s.seen == nil {
			s.seen = map[string]bool{}
		}
		s.seen[name] = true
		s.list = append(s.list, name)
	}
}

// missing returns the filter's names that are not in the set.
func (s *nameSet) missing(filter []string) []string {
	var out []string
	for _, f := range filter {
		if !s.seen[f] && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// list renders names for messages, the first 20 of them.
func list(names []string) string {
	const most = 20
	switch {
	case len(names) == 0:
		return "none"
	case len(names) > most:
		return fmt.Sprintf("%s and %d more", strings.Join(names[:most], ", "), len(names)-most)
	}
	return strings.Join(names, ", ")
}
