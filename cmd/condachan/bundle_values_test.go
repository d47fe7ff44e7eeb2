package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/condachan/condachan/internal/testkit"
)

// buildStringRecipe writes a recipe folder that sets build.string, which refuses a build
// number override.
func buildStringRecipe(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pinned")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, dir, "recipe.yaml", []byte(`package:
  name: pinned
  version: "1.0"
source:
  url: https://example.invalid/pinned-1.0.tar.gz
  sha256: `+testkit.SHA256([]byte("x"))+`
build:
  number: 4
  string: py_4
about:
  license: MIT
  summary: test package
`))
	return dir
}

// The job runs `condachan build --build-number <BuildNumber>`, which refuses a recipe
// with build.string: such a bundle keeps the recipe's number (BuildNumber empty, so the
// step passes no --build-number) unless --build-number is given, which is refused here.
func TestBundleWriteBuildNumber(t *testing.T) {
	noDeadline(t)
	pinned := buildStringRecipe(t)
	plain := urlRecipeDir(t, "sample-1.0-linux.tar.gz", []byte("x"))
	// The archives, as the job would stream them from S3.
	archive := map[string]string{pinned: "s3://b-1/src/pinned-1.0.tar.gz", plain: "s3://b-1/src/sample-1.0-linux.tar.gz"}
	ok := []struct {
		name   string
		recipe string
		flags  []string
		want   string
	}{
		{"build.string, no flag: the recipe's", pinned, nil, ""},
		{"build.string, empty flag", pinned, []string{"--build-number", ""}, ""},
		{"no build.string, no flag: auto", plain, nil, "auto"},
		{"a number", plain, []string{"--build-number", "12"}, "12"},
		{"zero", plain, []string{"--build-number", "0"}, "0"},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "job")
			args := append([]string{"bundle", "write", dir, "--recipe", c.recipe, "--source-archive", archive[c.recipe], "--channel", "s3://b-1/c"}, c.flags...)
			code, _, stderr := runJob(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if got, ok := readBundle(t, dir)["BuildNumber"]; !ok || got != c.want {
				t.Errorf("BuildNumber = %q (written: %v), want %q", got, ok, c.want)
			}
		})
	}
	refused := []struct {
		name   string
		recipe string
		flags  []string
		want   []string
	}{
		{"build.string and auto", pinned, []string{"--build-number", "auto"}, []string{"--build-number auto", "build.string (py_4)"}},
		{"build.string and a number", pinned, []string{"--build-number", "5"}, []string{"--build-number 5", "build.string"}},
		{"negative", plain, []string{"--build-number", "-1"}, []string{`--build-number "-1"`, "auto, a number of 0 or more"}},
		{"not a number", plain, []string{"--build-number", "next"}, []string{`--build-number "next"`, "auto, a number of 0 or more"}},
		{"a fraction", plain, []string{"--build-number", "1.5"}, []string{`--build-number "1.5"`}},
	}
	for _, c := range refused {
		for _, command := range []string{"bundle", "submit"} {
			t.Run(command+"/"+c.name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "job")
				args := []string{"bundle", "write", dir}
				if command == "submit" {
					args = []string{"submit", "--dry-run", "--bundle-dir", dir}
				}
				args = append(args, "--recipe", c.recipe, "--source-archive", archive[c.recipe], "--channel", "s3://b-1/c")
				code, _, stderr := runJob(t, append(args, c.flags...)...)
				if code != exitUsage {
					t.Errorf("exit %d, want %d: %s", code, exitUsage, stderr)
				}
				for _, w := range c.want {
					if !strings.Contains(stderr, w) {
						t.Errorf("stderr lacks %q:\n%s", w, stderr)
					}
				}
				if _, err := os.Stat(dir); err == nil {
					t.Error("a refused job left a bundle folder")
				}
			})
		}
	}
	// submit writes the same value.
	dir := filepath.Join(t.TempDir(), "job")
	if code, _, stderr := runJob(t, "submit", "--dry-run", "--bundle-dir", dir, "--recipe", pinned, "--source-archive", archive[pinned], "--channel", "s3://b-1/c"); code != 0 {
		t.Fatalf("submit: %d %s", code, stderr)
	}
	if got := readBundle(t, dir)["BuildNumber"]; got != "" {
		t.Errorf("submit: BuildNumber = %q, want the recipe's (empty)", got)
	}
}

// A relative local --channel is written as the absolute path this machine sees: the
// worker would resolve it against its session folder.
func TestBundleWriteLocalChannelIsAbsolute(t *testing.T) {
	noDeadline(t)
	t.Chdir(t.TempDir())
	dir := filepath.Join(t.TempDir(), "job")
	code, _, stderr := runJob(t, "bundle", "write", dir, "--index", "--channel", "./relchan")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	abs, _ := filepath.Abs("relchan")
	if got := readBundle(t, dir)["CondaChannel"]; got != abs {
		t.Errorf("CondaChannel = %q, want %q", got, abs)
	}
	if !strings.Contains(stderr, "note: "+abs+" is not an S3 channel") {
		t.Errorf("note:\n%s", stderr)
	}

	dir = filepath.Join(t.TempDir(), "job")
	code, _, stderr = runJob(t, "submit", "--dry-run", "--bundle-dir", dir, "--index", "--channel", "relchan")
	if got := readBundle(t, dir)["CondaChannel"]; code != 0 || got != abs {
		t.Errorf("submit: exit %d, CondaChannel = %q, want %q: %s", code, got, abs, stderr)
	}

	if runtime.GOOS != "windows" {
		// A Windows path, for Windows workers, is not made a path under this folder.
		dir = filepath.Join(t.TempDir(), "job")
		code, _, stderr = runJob(t, "bundle", "write", dir, "--index", "--channel", `C:\conda\channel`, "--worker-os", "windows")
		if got := readBundle(t, dir)["CondaChannel"]; code != 0 || got != `C:\conda\channel` {
			t.Errorf("a Windows path: exit %d, CondaChannel = %q: %s", code, got, stderr)
		}
	}
}
