package s3test

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"github.com/condachan/condachan/internal/testkit"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The versitygw release the tests are written against.
const (
	VersitygwModule  = "github.com/versity/versitygw"
	VersitygwVersion = "v1.8.0"
	versitygwPackage = VersitygwModule + "/cmd/versitygw@" + VersitygwVersion
	installTimeout   = 15 * time.Minute
)

var binary struct {
	once sync.Once
	path string
	note string
	err  error
}

// Binary returns the path of a versitygw binary, looking in order at
// $CONDACHAN_TOOLS_DIR/versitygw, <repo>/.cache/tools/versitygw (the repo root is the
// nearest directory above the working directory with a go.mod) and PATH. When there is
// none it installs versitygw v1.8.0 with `go install` into $CONDACHAN_TOOLS_DIR, or
// <repo>/.cache/tools, holding a lock file there so that test binaries running in
// parallel install it once. It fails the test when there is no binary to be had.
func Binary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		binary.path, binary.note, binary.err = findOrInstall()
	})
	if binary.err != nil {
		t.Fatalf("versitygw is needed for the S3 tests and could not be had: %v\n"+
			"run ./scripts/test.sh (it installs it), or: GOBIN=$PWD/.cache/tools go install %s", binary.err, versitygwPackage)
	}
	if binary.note != "" {
		t.Log(binary.note)
	}
	return binary.path
}

func exeName() string {
	if runtime.GOOS == "windows" {
		return "versitygw.exe"
	}
	return "versitygw"
}

func findOrInstall() (path, note string, err error) {
	path, toolsDir, err := find()
	if err != nil {
		return "", "", err
	}
	if path == "" {
		if path, err = install(toolsDir); err != nil {
			return "", "", err
		}
	}
	return path, versionNote(path), nil
}

// find looks for an installed versitygw; when there is none it returns the directory to
// install it into.
func find() (path, toolsDir string, err error) {
	toolsDir = os.Getenv("CONDACHAN_TOOLS_DIR")
	var candidates []string
	if toolsDir != "" {
		candidates = append(candidates, filepath.Join(toolsDir, exeName()))
	}
	root, rootErr := testkit.RepoRoot()
	if root != "" {
		repoTools := filepath.Join(root, ".cache", "tools")
		candidates = append(candidates, filepath.Join(repoTools, exeName()))
		if toolsDir == "" {
			toolsDir = repoTools
		}
	}
	for _, c := range candidates {
		if isExecutable(c) {
			return c, toolsDir, nil
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, toolsDir, nil
	}
	if toolsDir == "" {
		return "", "", fmt.Errorf("it is not on PATH, CONDACHAN_TOOLS_DIR is not set and there is no repository to install it into (%v)", rootErr)
	}
	return "", toolsDir, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	return runtime.GOOS == "windows" || fi.Mode().Perm()&0o111 != 0
}

// versionNote warns about a binary that is not the release the tests expect.
func versionNote(path string) string {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("note: cannot tell which versitygw %s is (%v); the tests expect %s", path, err, VersitygwVersion)
	}
	if info.Main.Path == VersitygwModule && info.Main.Version == VersitygwVersion {
		return ""
	}
	return fmt.Sprintf("note: %s is %s %s; the tests expect %s %s", path, info.Main.Path, info.Main.Version, VersitygwModule, VersitygwVersion)
}

// install runs `go install` into a private directory under dir and renames the result into
// place, so that nobody ever sees a half-written binary, all under an exclusive lock on
// dir/.versitygw.lock that makes test binaries running in parallel wait for the first.
func install(dir string) (string, error) {
	target := filepath.Join(dir, exeName())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockPath(filepath.Join(dir, ".versitygw.lock"))
	if err != nil {
		return "", fmt.Errorf("lock %s: %w", dir, err)
	}
	defer unlock()
	if isExecutable(target) { // another process installed it while we waited
		return target, nil
	}
	tmp, err := os.MkdirTemp(dir, ".install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "install", versitygwPackage)
	cmd.Dir = tmp // outside any module, so no go.mod or go.work is involved
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("GOBIN=%s go install %s: %v\n%s", dir, versitygwPackage, err, strings.TrimSpace(string(out)))
	}
	built := filepath.Join(tmp, exeName())
	if _, err := os.Stat(built); err != nil {
		return "", fmt.Errorf("go install %s left no %s: %w", versitygwPackage, exeName(), err)
	}
	if err := os.Rename(built, target); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	return target, nil
}
