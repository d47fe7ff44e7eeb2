// Package recipe parses condachan recipes: the conda v1 recipe syntax (CEP 13/14, as in
// rattler-build) where it overlaps, plus declarative keys that describe a repack without a
// shell (files mapping, relative symlinks, activation variables). Parsing renders the
// recipe for one target platform: context variables are evaluated in order, `if:`
// selectors are resolved and ${{ }} expressions interpolated, and every error names the
// file, line and field.
package recipe

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/condachan/condachan/input"
)

// Recipe is a recipe rendered for one target platform.
type Recipe struct {
	// File is the recipe's path as given (for messages); Dir the folder holding it on
	// disk, or "" for a recipe embedded in the binary.
	File string
	Dir  string
	// Folder holds the recipe folder's files (recipe.yaml and anything beside it), copied
	// into info/recipe/.
	Folder fs.FS
	// Source is the recipe.yaml text as written.
	Source []byte

	TargetPlatform string
	Context        []ContextVar

	Package      Package
	Sources      []Source
	Build        Build
	Requirements Requirements
	// Tests are the tests as written (selectors resolved), for info/tests/tests.yaml;
	// TestSpecs the same, read for running.
	Tests     []any
	TestSpecs []Test
	About     About
	Extra     map[string]any

	// Warnings are things the recipe does that are allowed but likely not meant.
	Warnings []string

	scope Scope // the context and platform variables, for rendering scripts
}

// ContextVar is one evaluated context entry, in file order.
type ContextVar struct {
	Name  string
	Value Value
}

// Package is the package name and version.
type Package struct {
	Name    string
	Version string
}

// Source is one upstream input: a downloadable archive (URL) or a path relative to the
// recipe folder.
type Source struct {
	Line int // where it is declared, for messages

	URLs     []string
	SHA256   string
	MD5      string
	FileName string // local file name of the archive; defaults to the URL's last segment
	Path     string // path source, relative to the recipe folder

	// TargetDirectory is where the source's entries go in the source tree.
	TargetDirectory string
	// Patches are patch files in the recipe folder, applied to the source in SRC_DIR.
	Patches []string
	// StripComponents removes leading path components from every entry. -1 (the default)
	// strips the archive's single top-level folder when it has one, as rattler-build does.
	StripComponents int
}

// IsPath reports whether the source is a path in the recipe folder.
func (s Source) IsPath() bool { return s.Path != "" }

// ArchiveName is the file name the archive is looked up under.
func (s Source) ArchiveName() string {
	if s.FileName != "" {
		return s.FileName
	}
	if len(s.URLs) > 0 {
		u := s.URLs[0]
		if i := strings.IndexAny(u, "?#"); i >= 0 {
			u = u[:i]
		}
		return path.Base(u)
	}
	return path.Base(s.Path)
}

// Build holds build settings, condachan's declarative install, and the build script with
// the rattler-build keys that shape what the script leaves in the prefix.
type Build struct {
	Number     int
	String     string // build string; defaults to the build number
	Noarch     string // "", "generic" or "python"
	Files      []FileRule
	Links      []Link
	Activation Activation

	// Script is the build script: build.script, or build.sh / build.bat / build.ps1
	// beside recipe.yaml. Without one the package streams from the sources.
	Script Script
	// FileGlobs is rattler-build's form of build.files (globs, or include/exclude): it
	// selects which of the prefix's files go into the package. Files is condachan's form.
	FileGlobs          *FileGlobs
	AlwaysIncludeFiles []string // globs of prefix files packaged even when FileGlobs leaves them out
	AlwaysCopyFiles    []string // globs of files marked no_link (copied, never hard-linked, at install)
	PrefixDetection    PrefixDetection
	DynamicLinking     DynamicLinking
	PostProcess        []PostProcess
	// MergeBuildAndHostEnvs makes BUILD_PREFIX the same folder as PREFIX.
	MergeBuildAndHostEnvs bool
}

// Script is a build (or test) script: a file in the recipe folder, or inline commands.
type Script struct {
	Line int // where it is declared (0: found beside recipe.yaml)
	// File is a script file in the recipe folder (slash path), e.g. build.sh.
	File string
	// Content holds inline commands, one per item. Their ${{ }} expressions are rendered
	// when the build runs, when the build's variables (PREFIX, SRC_DIR, ...) are known.
	Content []string
	// Interpreter runs the script: bash, cmd or powershell.
	Interpreter string
	Env         []EnvVar // script.env, in order
	Secrets     []string // names of variables passed through from condachan's environment
	Cwd         string   // script.cwd, relative to PREFIX
}

// Empty reports whether there is no script.
func (s Script) Empty() bool { return s.File == "" && len(s.Content) == 0 }

// FileGlobs is rattler-build's build.files: a path is packaged when it matches an
// include glob (or there are none) and no exclude glob.
type FileGlobs struct {
	Line    int
	Include []string
	Exclude []string
}

// PrefixDetection is build.prefix_detection: which files holding the build prefix are
// recorded for prefix replacement at install.
type PrefixDetection struct {
	Ignore            bool     // ignore: true, no file gets a placeholder
	IgnoreGlobs       []string // ignore: [globs]
	IgnoreBinaryFiles bool
	ForceText         []string // force_file_type.text
	ForceBinary       []string // force_file_type.binary
}

// DynamicLinking is build.dynamic_linking.
type DynamicLinking struct {
	Line int
	// BinaryRelocation is rattler-build's default (true): it rewrites the RPATHs of
	// the package's ELF and Mach-O files. RelocationGlobs, when set, limit it.
	BinaryRelocation    bool
	RelocationSet       bool // binary_relocation is in the recipe
	RelocationGlobs     []string
	Rpaths              []string
	RpathAllowlist      []string
	MissingDSOAllowlist []string
	OverlinkingError    bool // overlinking_behavior: error
	OverdependingError  bool // overdepending_behavior: error
}

// PostProcess is one build.post_process regex replacement.
type PostProcess struct {
	Line        int
	Files       []string // globs
	Regex       string
	Replacement string
}

// FileRule maps part of the source tree into the prefix. Files not matched by any rule are
// left out; with no rules at all the whole source tree lands at the prefix root.
type FileRule struct {
	Line    int
	From    string   // directory in the source tree, "." for all of it
	To      string   // directory in the prefix, "." for its root
	Include []string // globs relative to From; empty means everything
	Exclude []string
	// Executable globs mark files 0755 whatever the source says (zips written on Windows
	// and folders embedded in the binary carry no Unix modes).
	Executable []string
}

// Link is a relative symlink created in the prefix.
type Link struct {
	Line   int
	Path   string // prefix-relative location of the link
	Target string // relative link target, as `ln -s` takes it
}

// Activation is rendered into etc/conda/activate.d and deactivate.d scripts.
type Activation struct {
	Env         []EnvVar
	PathPrepend []string // prefix-relative directories put in front of PATH
}

// EnvVar is one activation variable. Value may refer to $CONDA_PREFIX and to variables
// set before it, as $NAME or ${NAME}; `$$` is a literal dollar.
type EnvVar struct {
	Line  int
	Name  string
	Value string
}

// Requirements are the dependency lists written into index.json and run_exports.json,
// and the build requirements: tools a build script needs, found on PATH.
// Run, RunConstraints and RunExports hold match specs in the repodata form
// `name [version [build]]` (matchspec.Canonical), as the recipe loader writes them.
type Requirements struct {
	Build          []Requirement
	Run            []string
	RunConstraints []string
	RunExports     RunExports
}

// Requirement is one entry of requirements.build.
type Requirement struct {
	Line int
	// Spec is in the repodata form (matchspec.Canonical, e.g. "patchelf >=0.17"), or as
	// written when it names a channel or bracket key that form cannot hold
	// ("conda-forge::cmake"): conda installs it in the Deadline job.
	Spec string
	Name string // the package name, e.g. "patchelf"
}

// RunExports is info/run_exports.json.
type RunExports struct {
	Weak              []string `json:"weak,omitempty"`
	Strong            []string `json:"strong,omitempty"`
	Noarch            []string `json:"noarch,omitempty"`
	WeakConstraints   []string `json:"weak_constrains,omitempty"`
	StrongConstraints []string `json:"strong_constrains,omitempty"`
}

// Empty reports whether there is nothing to export.
func (r RunExports) Empty() bool {
	return len(r.Weak)+len(r.Strong)+len(r.Noarch)+len(r.WeakConstraints)+len(r.StrongConstraints) == 0
}

// About is the about section.
type About struct {
	Homepage      string
	Repository    string
	Documentation string
	License       string
	LicenseFile   []string
	LicenseFamily string
	Summary       string
	Description   string
}

// BuildString is the build string of the package: the recipe's, or the build number.
func (r *Recipe) BuildString() string {
	if r.Build.String != "" {
		return r.Build.String
	}
	return fmt.Sprint(r.Build.Number)
}

// Subdir is the conda subdir the package goes to.
func (r *Recipe) Subdir() string {
	if r.Build.Noarch != "" {
		return "noarch"
	}
	return r.TargetPlatform
}

// FileName is <name>-<version>-<build>.conda.
func (r *Recipe) FileName() string {
	return fmt.Sprintf("%s-%s-%s.conda", r.Package.Name, r.Package.Version, r.BuildString())
}

var (
	// Names as conda accepts them (CEP 26, lower case enforced by conda's index).
	nameRe = regexp.MustCompile(`^[a-z0-9_][a-z0-9_.\-]*$`)
	// Versions: no '-' (it separates name, version and build in file names), no spaces.
	versionRe = regexp.MustCompile(`^([0-9]+!)?[A-Za-z0-9_.+]+$`)
	buildRe   = regexp.MustCompile(`^[A-Za-z0-9_.+]+$`)
	envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	sha256Re  = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	md5Re     = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
)

// Platforms lists the conda subdirs condachan can target.
var Platforms = []string{
	"linux-64", "linux-aarch64", "linux-ppc64le", "linux-s390x", "linux-32", "linux-armv7l",
	"osx-64", "osx-arm64",
	"win-64", "win-arm64", "win-32",
	"noarch",
}

// PlatformScope returns the selector variables for a target platform, the names
// rattler-build defines. An unknown platform is an error matching input.ErrInvalid.
func PlatformScope(target string) (Scope, error) {
	os, arch, ok := strings.Cut(target, "-")
	if !ok && target != "noarch" {
		return nil, input.Mark(fmt.Errorf("unknown target platform %q (known: %s)", target, strings.Join(Platforms, ", ")))
	}
	known := false
	for _, p := range Platforms {
		if p == target {
			known = true
		}
	}
	if !known {
		return nil, input.Mark(fmt.Errorf("unknown target platform %q (known: %s)", target, strings.Join(Platforms, ", ")))
	}
	s := Scope{
		"target_platform": target,
		"host_platform":   target,
		"build_platform":  target,
		"linux":           os == "linux",
		"osx":             os == "osx",
		"win":             os == "win",
		"unix":            os == "linux" || os == "osx",
	}
	for _, a := range []string{"x86", "x86_64", "aarch64", "arm64", "armv7l", "ppc64le", "s390x"} {
		s[a] = false
	}
	switch arch {
	case "": // noarch: no architecture (this once defined a variable named "")
	case "64":
		s["x86_64"] = true
	case "32":
		s["x86"] = true
	default:
		s[arch] = true
	}
	for _, p := range Platforms {
		s[strings.ReplaceAll(p, "-", "")] = p == target
	}
	return s, nil
}

// CheckPathEntry refuses a build.activation.path_prepend entry holding a character outside
// [A-Za-z0-9._+@/ -]. Entries go verbatim into sh, cmd.exe and PowerShell scripts (inside
// their double quotes) and into PATH itself, where ; : % $ ! ^ & ` " and the typographic
// quotes each mean something to one of them. A small set that none of them treats
// specially keeps every script literal without per-shell escaping, and keeps the exact
// string match deactivation relies on to take the entry out of PATH again.
func CheckPathEntry(s string) error {
	for i, r := range s {
		if !isPathEntryRune(r) {
			return fmt.Errorf("%q holds %s at byte %d, which PATH entries may not hold (allowed: letters, digits, space and . _ + @ / -)", s, describeRune(r), i)
		}
	}
	return nil
}

func isPathEntryRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._+@/ -", r)
}

// CheckEnvValue refuses an activation value that the cmd.exe script cannot carry
// literally (sh and PowerShell escape everything): `set "NAME=value"` ends at a line
// break, a double quote inside it exposes what follows to cmd.exe's parser, and a '!' is
// eaten when delayed expansion is on (cmd /V:ON or the registry default), with no escape
// that works both with and without it. Control characters are refused too: NUL cannot be
// in an environment variable at all and the others are not what anyone means to set.
func CheckEnvValue(s string) error {
	for i, r := range s {
		var why string
		switch {
		case r == '\r' || r == '\n':
			why = "a line break ends the cmd.exe command"
		case r == '"':
			why = "cmd.exe cannot carry a double quote in set \"NAME=value\""
		case r == '!':
			why = "cmd.exe drops it when delayed expansion is on"
		case r < 0x20 && r != '\t' || r == 0x7f:
			why = "control characters are not allowed"
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			why = "the value is not valid UTF-8"
		default:
			continue
		}
		return fmt.Errorf("the value holds %s at byte %d: %s", describeRune(r), i, why)
	}
	return nil
}

// describeRune names a character for messages: quoted when printable, always with its
// code point, so that look-alikes (a typographic quote, a non-breaking space) are told
// apart.
func describeRune(r rune) string {
	if r < 0x20 || r == 0x7f {
		return fmt.Sprintf("\\x%02x", r)
	}
	return fmt.Sprintf("%q (U+%04X)", r, r)
}
