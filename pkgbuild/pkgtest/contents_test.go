package pkgtest

import (
	"strings"
	"testing"

	"github.com/condachan/condachan/pkgbuild/install"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

func entries(paths ...string) []install.PathEntry {
	var out []install.PathEntry
	for _, p := range paths {
		out = append(out, install.PathEntry{Path: p})
	}
	return out
}

func TestCheckContents(t *testing.T) {
	unix := entries("bin/houdini", "opt/houdini/bin/hython", "lib/libHoudiniUT.so.20.5", "lib/libz.so", "include/hou.h",
		"lib/python3.11/site-packages/hou/__init__.py", "lib/python3.11/site-packages/hrpyc.py")
	win := entries("Library/bin/houdini.exe", "Library/bin/HoudiniUT.dll", "Library/lib/HoudiniUT.lib", "Scripts/hython.bat", "Library/include/hou.h", "Lib/site-packages/hou/__init__.py")
	e := func(g ...string) recipe.ContentGlobs { return recipe.ContentGlobs{Exists: g} }
	tests := []struct {
		name    string
		pc      recipe.PackageContents
		paths   []install.PathEntry
		subdir  string
		problem string // "" when it passes
	}{
		{"files", recipe.PackageContents{Files: e("opt/houdini/bin/*")}, unix, "linux-64", ""},
		{"files missing", recipe.PackageContents{Files: e("opt/nuke/**")}, unix, "linux-64", `files "opt/nuke/**": no path matches`},
		{"bin", recipe.PackageContents{Bin: e("houdini")}, unix, "linux-64", ""},
		{"lib by name", recipe.PackageContents{Lib: e("HoudiniUT", "z")}, unix, "linux-64", ""},
		{"lib by file", recipe.PackageContents{Lib: e("libz.so")}, unix, "linux-64", ""},
		{"include", recipe.PackageContents{Include: e("hou.h")}, unix, "linux-64", ""},
		{"site_packages modules", recipe.PackageContents{SitePackages: e("hou", "hrpyc")}, unix, "linux-64", ""},
		{"not_exists", recipe.PackageContents{Files: recipe.ContentGlobs{NotExists: []string{"include/**"}}}, unix, "linux-64", `not_exists "include/**": the package holds include/hou.h`},
		{"strict", recipe.PackageContents{Files: e("bin/*", "opt/**", "lib/**"), Strict: true}, unix, "linux-64", "strict: include/hou.h is not matched"},
		{"windows bin with extension", recipe.PackageContents{Bin: e("houdini", "hython")}, win, "win-64", ""},
		{"windows lib needs the dll and the import lib", recipe.PackageContents{Lib: e("HoudiniUT")}, win, "win-64", ""},
		{"windows lib without import lib", recipe.PackageContents{Lib: e("houdini")}, win, "win-64", "Library/lib/houdini.lib"},
		{"windows include and site-packages", recipe.PackageContents{Include: e("hou.h"), SitePackages: e("hou")}, win, "win-64", ""},
	}
	for _, tt := range tests {
		err := checkContents(tt.pc, tt.paths, strings.HasPrefix(tt.subdir, "win-"), tt.subdir)
		switch {
		case tt.problem == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem)):
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.problem)
		}
	}
}

func TestCannotRun(t *testing.T) {
	for _, tc := range []struct {
		subdir, build, interpreter string
		onWindows                  bool
		why                        string // "" when it can run
	}{
		{"win-64", "linux-64", recipe.Cmd, false, "a win-64 package's tests run on win-64 machines, and this one is linux-64"},
		{"linux-aarch64", "linux-64", recipe.Bash, false, "a linux-aarch64 package's tests run on linux-aarch64 machines, and this one is linux-64"},
		{"linux-64", "linux-64", recipe.Bash, false, ""},
		{"noarch", "linux-64", recipe.Bash, false, ""},
		// A noarch package built for a Windows target has Windows test scripts.
		{"noarch", "linux-64", recipe.Cmd, false, "the test is a cmd script, which runs on Windows, and this machine is linux-64"},
		{"noarch", "osx-arm64", recipe.PowerShell, false, "the test is a powershell script, which runs on Windows, and this machine is osx-arm64"},
		{"noarch", "win-64", recipe.Cmd, true, ""},
		{"win-64", "win-64", recipe.Bash, true, ""},
	} {
		if why := cannotRun(tc.subdir, tc.build, tc.interpreter, tc.onWindows); why != tc.why {
			t.Errorf("%s %s package on %s: %q, want %q", tc.subdir, tc.interpreter, tc.build, why, tc.why)
		}
	}
}
