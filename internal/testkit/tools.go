// Package testkit holds helpers shared by condachan's tests: finding the external tools
// the tests check our output with (readers that are not ours), and generating source
// trees and archives on the fly, so that no binary test data is committed. The binary
// never imports it.
package testkit

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Python is the interpreter that has Debian's conda packages (python3-conda-package-
// streaming, conda-package-handling, python3-zstandard). A python3 earlier on PATH (e.g.
// pyenv) does not have them, so the system one is used.
const Python = "/usr/bin/python3"

// SetupHint tells a developer how to get the external tools.
const SetupHint = "run ./scripts/test.sh (it installs them), or: apt-get install conda-package-handling python3-conda-package-streaming libarchive-tools xz-utils zstd bzip2 patchelf bc makeself gcc rpm"

// Tool returns the path of an external program the tests need. A missing tool fails the
// test: these tools are what proves our output is readable by others, so a silent skip
// would hide exactly the failures the tests exist for.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("test needs %s, which is not installed: %s", name, SetupHint)
	}
	return p
}

// RequirePythonModules fails the test unless Python can import every module.
func RequirePythonModules(t testing.TB, modules ...string) {
	t.Helper()
	if _, err := os.Stat(Python); err != nil {
		t.Fatalf("test needs %s: %s", Python, SetupHint)
	}
	script := "import " + strings.Join(modules, ", ")
	if out, err := exec.Command(Python, "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("test needs the Python modules %s: %v\n%s\n%s", strings.Join(modules, ", "), err, out, SetupHint)
	}
}

// Run runs a command and fails the test with its output when it fails.
func Run(t testing.TB, dir string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.Bytes()
}

// RepoRoot walks up from the working directory to the nearest go.mod: the repository,
// whose .cache/tools holds the servers and clients the tests install.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && fi.Mode().IsRegular() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
