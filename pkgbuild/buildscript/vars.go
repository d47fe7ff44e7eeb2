// Package buildscript runs a recipe's build script the way rattler-build runs it: the
// same wrapper files in SRC_DIR (build_env.sh / conda_build.sh, or their .bat forms), the
// same interpreters (bash; cmd.exe and PowerShell on Windows), the same variables
// (PREFIX, SRC_DIR, PKG_VERSION, ...) in an environment cleared of everything else, the
// working directory SRC_DIR. The script's output streams live and into a log; a failure
// reports the exit code and the last lines.
package buildscript

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Var is one environment variable of the script.
type Var struct {
	Name, Value string
}

// Layout is what the variables are computed from.
type Layout struct {
	Prefix      string // PREFIX: where the script installs (the padded host prefix)
	BuildPrefix string // BUILD_PREFIX
	SrcDir      string // SRC_DIR, where the sources are and the script runs
	RecipeDir   string // RECIPE_DIR
	BuildDir    string // BUILD_DIR, the folder holding the others

	Name        string
	Version     string
	BuildNumber int
	BuildString string

	Target string // the package's subdir (noarch for noarch packages)
	// HostPlatform is the subdir the script runs for: Target, or BuildPlatform for noarch.
	HostPlatform  string
	BuildPlatform string // the subdir of this machine
	CPUCount      int
	Timestamp     time.Time // SOURCE_DATE_EPOCH
}

// Vars lists the variables rattler-build sets for a build script, in a fixed order
// (rattler-build's env_vars.rs: vars, os_vars; strict environment isolation).
func Vars(l Layout) []Var {
	windows := strings.HasPrefix(l.HostPlatform, "win-")
	arch := l.HostPlatform[strings.LastIndexByte(l.HostPlatform, '-')+1:]
	cross := "0"
	if l.Target != l.BuildPlatform {
		cross = "1"
	}
	python := l.Prefix + "/bin/python"
	if windows {
		python = l.Prefix + `\python.exe`
	}
	vars := []Var{
		{"PYTHONNOUSERSITE", "1"},
		{"ARCH", arch},
		{"CONDA_DEFAULT_ENV", l.Prefix},
		{"PREFIX", l.Prefix},
		{"BUILD_PREFIX", l.BuildPrefix},
		{"RECIPE_DIR", l.RecipeDir},
		{"SRC_DIR", l.SrcDir},
		{"BUILD_DIR", l.BuildDir},
		{"PIP_NO_BUILD_ISOLATION", "False"},
		{"PIP_NO_DEPENDENCIES", "True"},
		{"PIP_IGNORE_INSTALLED", "True"},
		{"PIP_CACHE_DIR", filepath.Join(l.BuildDir, "pip_cache")},
		{"PIP_NO_INDEX", "True"},
		{"PKG_NAME", l.Name},
		{"PKG_VERSION", l.Version},
		{"PKG_BUILDNUM", strconv.Itoa(l.BuildNumber)},
		{"PKG_BUILD_STRING", l.BuildString},
		{"CONDA_BUILD_CROSS_COMPILATION", cross},
		{"SUBDIR", l.Target},
		{"build_platform", l.BuildPlatform},
		{"target_platform", l.Target},
		{"host_platform", l.HostPlatform},
		{"CONDA_BUILD_STATE", "BUILD"},
		{"SOURCE_DATE_EPOCH", strconv.FormatInt(l.Timestamp.Unix(), 10)},
		{"PYTHON", python},
		{"CPU_COUNT", strconv.Itoa(l.CPUCount)},
		{"LANG", "C.UTF-8"},
		{"LC_ALL", "C.UTF-8"},
		{"SHLIB_EXT", shlibExt(l.HostPlatform)},
	}
	switch {
	case windows:
		lib := l.Prefix + `\Library`
		vars = append(vars,
			Var{"SCRIPTS", l.Prefix + `\Scripts`},
			Var{"LIBRARY_PREFIX", lib},
			Var{"LIBRARY_BIN", lib + `\bin`},
			Var{"LIBRARY_INC", lib + `\include`},
			Var{"LIBRARY_LIB", lib + `\lib`},
			Var{"CYGWIN_PREFIX", cygwinPath(l.Prefix)},
			Var{"USERPROFILE", l.SrcDir},
		)
	default:
		vars = append(vars,
			Var{"PKG_CONFIG_PATH", l.Prefix + "/lib/pkgconfig"},
			Var{"CMAKE_GENERATOR", "Unix Makefiles"},
			Var{"HOME", l.SrcDir},
			Var{"USER", "condachan"},
			Var{"SHELL", "/bin/bash"},
			Var{"EDITOR", "/bin/false"},
			Var{"TERM", "xterm-256color"},
		)
		if strings.HasPrefix(l.HostPlatform, "linux-") {
			vars = append(vars, Var{"LD_RUN_PATH", l.Prefix + "/lib"}, Var{"BUILD", linuxTriple(l.BuildPlatform)})
		}
		if strings.HasPrefix(l.HostPlatform, "osx-") {
			osxArch, target := "x86_64", "10.9"
			if arch == "arm64" {
				osxArch, target = "arm64", "11.0"
			}
			vars = append(vars, Var{"OSX_ARCH", osxArch}, Var{"MACOSX_DEPLOYMENT_TARGET", target})
		}
	}
	return vars
}

// Names lists the variables Vars sets for a platform, for checking the ${{ }}
// expressions of inline scripts.
func Names(hostPlatform string) []string {
	var names []string
	for _, v := range Vars(Layout{HostPlatform: hostPlatform, BuildPlatform: hostPlatform, Target: hostPlatform}) {
		names = append(names, v.Name)
	}
	return names
}

func shlibExt(platform string) string {
	switch {
	case strings.HasPrefix(platform, "win-"):
		return ".dll"
	case strings.HasPrefix(platform, "osx-"):
		return ".dylib"
	}
	return ".so"
}

// linuxTriple is rattler-build's BUILD value for a Linux build machine.
func linuxTriple(platform string) string {
	arch := platform[strings.LastIndexByte(platform, '-')+1:]
	switch arch {
	case "64":
		return "x86_64-conda_cos6-linux-gnu"
	case "32":
		return "i686-conda_cos6-linux-gnu"
	case "ppc64le":
		return "powerpc64le-conda_cos7-linux-gnu"
	}
	return arch + "-conda_cos7-linux-gnu"
}

// cygwinPath turns C:\a\b into /cygdrive/c/a/b.
func cygwinPath(p string) string {
	drive := "c"
	rest := p
	if len(p) >= 2 && p[1] == ':' {
		drive, rest = strings.ToLower(p[:1]), p[2:]
	}
	return "/cygdrive/" + drive + strings.ReplaceAll(rest, `\`, "/")
}

// passThrough are the variables of condachan's own environment a script sees, as in
// rattler-build's strict isolation; everything else is cleared. PATH is always kept.
var passThrough = []string{"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "SSH_AUTH_SOCK", "DISPLAY",
	"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"}

// windowsPassThrough are kept as well on Windows: what cmd.exe, installers and MSBuild
// need to work at all.
var windowsPassThrough = []string{"SYSTEMROOT", "WINDIR", "COMSPEC", "TEMP", "TMP", "PATHEXT",
	"ALLUSERSPROFILE", "APPDATA", "CommonProgramFiles", "CommonProgramFiles(x86)", "CommonProgramW6432",
	"COMPUTERNAME", "HOMEDRIVE", "HOMEPATH", "LOCALAPPDATA", "LOGONSERVER", "NUMBER_OF_PROCESSORS",
	"ProgramData", "ProgramFiles", "ProgramFiles(x86)", "ProgramW6432", "PROMPT", "PSModulePath", "PUBLIC",
	"SystemDrive", "USERDOMAIN", "USERNAME", "PROCESSOR_ARCHITEW6432", "PROCESSOR_ARCHITECTURE", "PROCESSOR_IDENTIFIER"}

// Environ is the script process's environment: the pass-through variables of parent
// (and on Windows the system's), PATH, the build variables, then the secrets.
func Environ(lookup func(string) (string, bool), vars []Var, secrets []string, windows bool) ([]string, error) {
	var env []string
	keep := passThrough
	if windows {
		keep = append(append([]string{}, passThrough...), windowsPassThrough...)
	}
	pathName := "PATH"
	if windows {
		pathName = "Path"
	}
	if v, ok := lookup("PATH"); ok {
		env = append(env, pathName+"="+v)
	}
	for _, k := range keep {
		if v, ok := lookup(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for _, v := range vars {
		env = append(env, v.Name+"="+v.Value)
	}
	for _, s := range secrets {
		v, ok := lookup(s)
		if !ok {
			return nil, fmt.Errorf("the script's secret %s is not set in condachan's environment", s)
		}
		env = append(env, s+"="+v)
	}
	return env, nil
}

// PackageTestVars lists the variables a package test runs with (rattler-build's test_vars and
// os_vars for the test prefix): l.Prefix is the prefix the package was installed into,
// l.SrcDir the folder the test runs in. There is no SRC_DIR, RECIPE_DIR or BUILD_PREFIX.
func PackageTestVars(l Layout) []Var {
	windows := strings.HasPrefix(l.HostPlatform, "win-")
	cross := "0"
	if l.Target != l.BuildPlatform {
		cross = "1"
	}
	vars := []Var{
		{"CONDA_BUILD_STATE", "TEST"},
		{"SUBDIR", l.Target},
		{"target_platform", l.Target},
		{"build_platform", l.BuildPlatform},
		{"host_platform", l.HostPlatform},
		{"CONDA_BUILD_CROSS_COMPILATION", cross},
		{"PKG_NAME", l.Name},
		{"PKG_VERSION", l.Version},
		{"PKG_BUILD_STRING", l.BuildString},
		{"PKG_BUILDNUM", strconv.Itoa(l.BuildNumber)},
		{"PKG_BUILD_NUMBER", strconv.Itoa(l.BuildNumber)},
		{"PREFIX", l.Prefix},
		{"CPU_COUNT", strconv.Itoa(l.CPUCount)},
		{"LANG", "C.UTF-8"},
		{"LC_ALL", "C.UTF-8"},
		{"SHLIB_EXT", shlibExt(l.HostPlatform)},
	}
	if l.Target != "noarch" {
		vars = append(vars, Var{"ARCH", l.Target[strings.LastIndexByte(l.Target, '-')+1:]})
	}
	if windows {
		vars = append(vars, Var{"USERPROFILE", l.SrcDir})
	} else {
		vars = append(vars, Var{"HOME", l.SrcDir}, Var{"USER", "condachan"}, Var{"SHELL", "/bin/bash"}, Var{"TERM", "xterm-256color"})
	}
	return vars
}
