// Package pkgtest runs a recipe's tests on the package it built, as rattler-build does
// after a build: package_contents tests check the package's paths, and script tests run
// in a prefix the package was installed into the way conda installs it (prefix
// replacement, post-link script), activated (its activate.d scripts sourced), with
// bash (set -e, set -x) or cmd.exe. Tests for a platform this machine cannot run are
// skipped with a line that says so; a failing test fails.
package pkgtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/condachan/condachan/internal/globset"
	"github.com/condachan/condachan/pkgbuild/buildscript"
	"github.com/condachan/condachan/pkgbuild/install"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

// Options configure a test run.
type Options struct {
	// PackagePath is the built package, FileName its name (the file may be a temporary).
	PackagePath string
	FileName    string
	// WorkDir receives the test prefix and the test scripts' folders; it must exist.
	WorkDir       string
	BuildPlatform string // this machine's subdir
	CPUCount      int
	// Log receives the whole output and the report lines; Output shows them live.
	Log, Output io.Writer
}

// Failure is a test that failed.
type Failure struct {
	Test int // index in tests:
	Line int
	Kind string
	Err  error
}

func (f *Failure) Error() string {
	return fmt.Sprintf("tests[%d] (%s test, line %d) failed: %v", f.Test, f.Kind, f.Line, f.Err)
}

func (f *Failure) Unwrap() error { return f.Err }

// Report says what ran.
type Report struct {
	Passed  []string
	Skipped []string
}

// Run runs the recipe's tests.
func Run(ctx context.Context, r *recipe.Recipe, opts Options) (*Report, error) {
	rep := &Report{}
	say := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...) + "\n"
		for _, w := range []io.Writer{opts.Log, opts.Output} {
			if w != nil {
				io.WriteString(w, line)
			}
		}
	}
	info, err := install.Inspect(opts.PackagePath, opts.FileName)
	if err != nil {
		return nil, err
	}
	var prefix string // the package installed, made for the first script test
	for i, t := range r.TestSpecs {
		label := fmt.Sprintf("tests[%d] (%s, line %d)", i, t.Kind, t.Line)
		switch t.Kind {
		case "package_contents":
			if err := checkContents(t.Contents, info.Paths, recipe.IsWindows(info.Subdir), info.Subdir); err != nil {
				return rep, &Failure{Test: i, Line: t.Line, Kind: t.Kind, Err: err}
			}
			say("test %s passed", label)
			rep.Passed = append(rep.Passed, label)
		case "script":
			if why := cannotRun(info.Subdir, opts.BuildPlatform, t.Script.Interpreter, runtime.GOOS == "windows"); why != "" {
				say("test %s skipped: %s", label, why)
				rep.Skipped = append(rep.Skipped, label+": "+why)
				continue
			}
			if prefix == "" {
				if prefix, err = installForTests(ctx, opts, info, say); err != nil {
					return rep, &Failure{Test: i, Line: t.Line, Kind: t.Kind, Err: err}
				}
			}
			say("test %s: running", label)
			if err := runScript(ctx, r, t, i, prefix, info, opts); err != nil {
				return rep, &Failure{Test: i, Line: t.Line, Kind: t.Kind, Err: err}
			}
			say("test %s passed", label)
			rep.Passed = append(rep.Passed, label)
		default:
			why := fmt.Sprintf("condachan does not run %s tests (they need a %s environment it does not make)", t.Kind, t.Kind)
			say("test %s skipped: %s", label, why)
			rep.Skipped = append(rep.Skipped, label+": "+why)
		}
	}
	return rep, nil
}

// cannotRun tells why this machine cannot run a test script ("" when it can): a package
// for another OS or CPU, or a script for a Windows shell (a noarch package built for a
// Windows target) on another OS.
func cannotRun(subdir, buildPlatform, interpreter string, onWindows bool) string {
	switch {
	case subdir != "noarch" && subdir != buildPlatform:
		return fmt.Sprintf("a %s package's tests run on %s machines, and this one is %s", subdir, subdir, buildPlatform)
	case !onWindows && interpreter != recipe.Bash:
		return fmt.Sprintf("the test is a %s script, which runs on Windows, and this machine is %s", interpreter, buildPlatform)
	}
	return ""
}

// installForTests installs the package into a fresh prefix under the work folder.
func installForTests(ctx context.Context, opts Options, info *install.Result, say func(string, ...any)) (string, error) {
	prefix := filepath.Join(opts.WorkDir, "test_env")
	say("installing %s into %s for its tests", opts.FileName, prefix)
	var ws []io.Writer
	for _, w := range []io.Writer{opts.Log, opts.Output} {
		if w != nil {
			ws = append(ws, w)
		}
	}
	out := io.MultiWriter(ws...)
	if _, err := install.Package(ctx, opts.PackagePath, prefix, install.Options{RunLinkScripts: true, Output: out, FileName: opts.FileName}); err != nil {
		return "", fmt.Errorf("install into a test prefix: %w", err)
	}
	return prefix, nil
}

// MissingRequirementError is a requirement of a script test that is not on PATH: only
// the package itself is installed into the test prefix, so the requirement must be on
// this machine, or the build must skip its tests.
type MissingRequirementError struct {
	Spec string // as the recipe writes it
	Line int    // of the recipe
	Name string // the command
}

func (e *MissingRequirementError) Error() string {
	return fmt.Sprintf("its requirement %s (line %d) is not on PATH: condachan installs only the package itself into the test prefix; install %s on this machine, or build without tests", e.Spec, e.Line, e.Name)
}

// runScript runs one script test in the activated test prefix.
func runScript(ctx context.Context, r *recipe.Recipe, t recipe.Test, idx int, prefix string, info *install.Result, opts Options) error {
	for _, req := range t.Requirements {
		if !onPath(req.Name) {
			return &MissingRequirementError{Spec: req.Spec, Line: req.Line, Name: req.Name}
		}
	}
	dir := filepath.Join(opts.WorkDir, fmt.Sprintf("test-%d", idx))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	vars := buildscript.PackageTestVars(buildscript.Layout{
		Prefix: prefix, SrcDir: dir, Name: info.Name, Version: info.Version, BuildNumber: info.BuildNumber,
		BuildString: info.Build, Target: info.Subdir, HostPlatform: hostOf(info.Subdir, opts.BuildPlatform),
		BuildPlatform: opts.BuildPlatform, CPUCount: opts.CPUCount,
	})
	spec := buildscript.Spec{
		Name:        fmt.Sprintf("tests[%d] script", idx),
		Interpreter: t.Script.Interpreter,
		WorkDir:     dir,
		Vars:        vars,
		Secret:      t.Script.Secrets,
		Activate:    []string{prefix},
		Windows:     runtime.GOOS == "windows",
		Log:         opts.Log,
		Output:      opts.Output,
	}
	for _, e := range t.Script.Env {
		spec.Env = append(spec.Env, buildscript.Var{Name: e.Name, Value: e.Value})
	}
	if t.Script.Cwd != "" {
		spec.Cwd = filepath.Join(prefix, filepath.FromSlash(t.Script.Cwd))
	}
	if t.Script.File != "" {
		data, err := readRecipeFile(r, t.Script.File)
		if err != nil {
			return err
		}
		spec.Content = []string{string(data)}
	} else {
		spec.Content = t.Script.Content
	}
	return buildscript.Run(ctx, spec)
}

func readRecipeFile(r *recipe.Recipe, name string) ([]byte, error) {
	if r.Folder == nil {
		return nil, fmt.Errorf("no recipe folder to read %s from", name)
	}
	f, err := r.Folder.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func hostOf(subdir, buildPlatform string) string {
	if subdir == "noarch" {
		return buildPlatform
	}
	return subdir
}

func onPath(name string) bool {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		for _, ext := range []string{"", ".exe", ".bat", ".cmd"} {
			if st, err := os.Stat(filepath.Join(dir, name+ext)); err == nil && !st.IsDir() {
				return true
			}
		}
	}
	return false
}

// checkContents runs a package_contents test against the package's paths.
func checkContents(pc recipe.PackageContents, paths []install.PathEntry, windows bool, subdir string) error {
	var all []string
	for _, p := range paths {
		all = append(all, p.Path)
	}
	var problems []string
	var matchedAny []*globset.Glob // every exists glob, for strict
	check := func(key string, cg recipe.ContentGlobs, expand func(string) [][]string) {
		for _, g := range cg.Exists {
			for _, group := range expand(g) {
				globs := compileAll(group)
				matchedAny = append(matchedAny, globs...)
				if !anyPathMatches(all, globs) {
					problems = append(problems, fmt.Sprintf("%s %q: no path matches %s", key, g, strings.Join(group, " or ")))
				}
			}
		}
		for _, g := range cg.NotExists {
			for _, group := range expand(g) {
				for _, p := range all {
					if globset.MatchAny(compileAll(group), p) {
						problems = append(problems, fmt.Sprintf("%s not_exists %q: the package holds %s", key, g, p))
						break
					}
				}
			}
		}
	}
	check("files", pc.Files, func(g string) [][]string { return [][]string{{g}} })
	check("include", pc.Include, func(g string) [][]string {
		if windows {
			return [][]string{{"Library/include/" + g}}
		}
		return [][]string{{"include/" + g}}
	})
	check("bin", pc.Bin, func(g string) [][]string { return [][]string{binGlobs(g, windows)} })
	check("lib", pc.Lib, func(g string) [][]string { return libGlobs(g, windows, strings.HasPrefix(subdir, "osx-")) })
	check("site_packages", pc.SitePackages, func(g string) [][]string { return [][]string{sitePackagesGlobs(g, windows, subdir == "noarch")} })
	if pc.Strict {
		for _, p := range all {
			if !globset.MatchAny(matchedAny, p) {
				problems = append(problems, fmt.Sprintf("strict: %s is not matched by any exists glob", p))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("package_contents:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

func compileAll(globs []string) []*globset.Glob {
	var out []*globset.Glob
	for _, g := range globs {
		if c, err := globset.Compile(g); err == nil {
			out = append(out, c)
		}
	}
	return out
}

func anyPathMatches(paths []string, globs []*globset.Glob) bool {
	for _, p := range paths {
		if globset.MatchAny(globs, p) {
			return true
		}
	}
	return false
}

// binGlobs are where a program g may be, as rattler-build looks for it.
func binGlobs(g string, windows bool) []string {
	if !windows {
		return []string{"bin/" + g}
	}
	var out []string
	for _, dir := range []string{"Library/bin/", "Scripts/", "bin/", "Library/mingw-w64/bin/", "Library/usr/bin/", ""} {
		out = append(out, dir+g+"{,.exe,.bat,.cmd,.com,.ps1}")
	}
	return out
}

// libGlobs are where a library g may be; each inner list must match (Windows import
// libraries need both the DLL and the .lib).
func libGlobs(g string, windows, macos bool) [][]string {
	switch {
	case windows && strings.HasSuffix(g, ".dll"):
		return [][]string{{"Library/bin/" + g}}
	case windows && strings.HasSuffix(g, ".lib"):
		return [][]string{{"Library/lib/" + g}}
	case windows:
		return [][]string{{"Library/bin/" + g + ".dll"}, {"Library/lib/" + g + ".lib"}}
	case macos && (strings.HasSuffix(g, ".dylib") || strings.HasSuffix(g, ".a")):
		return [][]string{{"lib/" + g}}
	case macos:
		return [][]string{{"lib/{,lib}" + g + ".dylib", "lib/{,lib}" + g + ".*.dylib"}}
	case strings.HasSuffix(g, ".so") || strings.Contains(g, ".so.") || strings.HasSuffix(g, ".a"):
		return [][]string{{"lib/" + g}}
	}
	return [][]string{{"lib/{,lib}" + g + ".so", "lib/{,lib}" + g + ".so.*"}}
}

// sitePackagesGlobs are where a Python module or file g may be.
func sitePackagesGlobs(g string, windows, noarch bool) []string {
	base := "lib/python*/site-packages"
	switch {
	case noarch:
		base = "site-packages"
	case windows:
		base = "Lib/site-packages"
	}
	if strings.Contains(g, "/") {
		return []string{base + "/" + g}
	}
	mod := strings.ReplaceAll(g, ".", "/")
	return []string{base + "/" + mod + ".py", base + "/" + mod + "/__init__.py"}
}
