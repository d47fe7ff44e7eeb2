package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeBuildStringRecipe writes a recipe that sets build.string, with its payload.
func writeBuildStringRecipe(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tool")
	if err := os.MkdirAll(filepath.Join(dir, "payload", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"recipe.yaml": `context:
  number: 2
package: {name: tool, version: "1.0"}
source:
  path: payload
build:
  number: ${{ number }}
  string: custom_${{ number }}
  noarch: generic
`,
		"payload/bin/tool": "#!/bin/sh\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A build number given for a recipe that sets build.string would not show in the
// package name: refused as a usage error, before anything is reserved in the channel.
func TestBuildNumberWithExplicitBuildString(t *testing.T) {
	recipeDir := writeBuildStringRecipe(t)
	recipeFile := filepath.Join(recipeDir, "recipe.yaml")
	ch := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr []string
		built   string // package file expected under the output folder
	}{
		{name: "no override builds", code: exitOK, built: "noarch/tool-1.0-custom_2.conda"},
		{name: "number", args: []string{"--build-number", "3"}, code: exitUsage,
			wantErr: []string{"--build-number 3: " + recipeFile + " sets build.string (custom_2)", "drop one of them"}},
		{name: "same number", args: []string{"--build-number", "2"}, code: exitUsage, wantErr: []string{recipeFile, "drop one of them"}},
		{name: "auto", args: []string{"--build-number", "auto", "--channel", ch}, code: exitUsage,
			wantErr: []string{"--build-number auto: " + recipeFile + " sets build.string", "drop one of them"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
			out := t.TempDir()
			args := append([]string{"build", "--recipe", recipeDir, "-o", out, "--progress", "none"}, tt.args...)
			code, stdout, stderr := runCLI(t, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if tt.built != "" {
				if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(tt.built))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	// Refused before the channel was touched: nothing reserved, nothing written.
	if entries, err := os.ReadDir(ch); err != nil || len(entries) != 0 {
		t.Errorf("channel after the refused builds: %v %v", entries, err)
	}
}

// writeScriptRecipe writes a recipe folder with a build.sh and a test.
func writeScriptRecipe(t *testing.T, buildSh, test string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "scripted")
	files := map[string]string{
		"recipe.yaml": "package: {name: scripted, version: \"1.0\"}\nbuild:\n  dynamic_linking:\n    binary_relocation: false\ntests:\n  - script:\n      - " + test + "\n",
		"build.sh":    buildSh,
	}
	for name, data := range files {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestBuildScriptRecipe(t *testing.T) {
	good := "mkdir -p \"$PREFIX/bin\"\nprintf '#!/bin/sh\\necho scripted %s\\n' \"$PKG_VERSION\" > \"$PREFIX/bin/scripted\"\nchmod +x \"$PREFIX/bin/scripted\"\n"
	t.Run("builds, tests, reports", func(t *testing.T) {
		out := t.TempDir()
		code, stdout, stderr := runCLI(t, "build", "--recipe", writeScriptRecipe(t, good, "scripted | grep -q 'scripted 1.0'"), "-o", out, "--progress", "none", "--json")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var res struct {
			Path        string   `json:"path"`
			Log         string   `json:"log"`
			TestsPassed []string `json:"tests_passed"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("--json: %v\n%s", err, stdout)
		}
		if res.Log != filepath.Join(out, "linux-64", "scripted-1.0-0.build.log") || len(res.TestsPassed) != 1 {
			t.Errorf("--json = %+v", res)
		}
		if !strings.Contains(stderr, "+ scripted") || !strings.Contains(stderr, "test tests[0] (script, line 6) passed") {
			t.Errorf("the script and test output are not shown live:\n%s", stderr)
		}
	})
	t.Run("a failing script exits 1, --keep-work keeps the folder", func(t *testing.T) {
		out := t.TempDir()
		code, _, stderr := runCLI(t, "build", "--recipe", writeScriptRecipe(t, "echo about to fail\nfalse\n", "true"), "-o", out, "--progress", "none", "--keep-work")
		if code != exitFailure || !strings.Contains(stderr, "condachan: build.sh failed with exit code 1") || !strings.Contains(stderr, "the build folder is kept: ") {
			t.Fatalf("exit %d:\n%s", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(out, ".condachan-work", "scripted-1.0-0", "work", "conda_build.sh")); err != nil {
			t.Errorf("--keep-work did not keep the build folder: %v", err)
		}
		// the next build takes the kept folder over
		code, _, stderr = runCLI(t, "build", "--recipe", writeScriptRecipe(t, good, "true"), "-o", out, "--progress", "none")
		if code != exitOK {
			t.Errorf("a build after --keep-work: exit %d: %s", code, stderr)
		}
	})
	t.Run("a failing test exits 1, --no-test skips it", func(t *testing.T) {
		out := t.TempDir()
		rdir := writeScriptRecipe(t, good, "scripted | grep -q 'version 2'")
		code, _, stderr := runCLI(t, "build", "--recipe", rdir, "-o", out, "--progress", "none")
		if code != exitFailure || !strings.Contains(stderr, "tests[0] (script test, line 6) failed") {
			t.Fatalf("exit %d:\n%s", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(out, "linux-64", "scripted-1.0-0.conda")); err == nil {
			t.Error("a package whose test failed was written")
		}
		if code, _, stderr = runCLI(t, "build", "--recipe", rdir, "-o", out, "--progress", "none", "--no-test"); code != exitOK {
			t.Errorf("--no-test: exit %d: %s", code, stderr)
		}
	})
}

// A build that fails leaves no output folder behind (issue 15): not OUTPUT, not
// OUTPUT/<subdir>, when it made them; the log of a failed script build is the one thing
// kept, in OUTPUT/<subdir>, where the error says it is.
func TestFailedBuildLeavesNoOutputFolder(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "tool-1.0.tar")
	if err := os.WriteFile(archive, []byte("not a tar, and not what the recipe's sha256 says"), 0o644); err != nil {
		t.Fatal(err)
	}
	rdir := filepath.Join(dir, "tool")
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		t.Fatal(err)
	}
	recipeYAML := "package: {name: tool, version: \"1.0\"}\nsource:\n  url: https://example.invalid/tool-1.0.tar\n  sha256: " + strings.Repeat("ab", 32) + "\n"
	if err := os.WriteFile(filepath.Join(rdir, "recipe.yaml"), []byte(recipeYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("OUTPUT and its parent missing", func(t *testing.T) {
		parent := filepath.Join(t.TempDir(), "new")
		out := filepath.Join(parent, "channel")
		code, _, stderr := runCLI(t, "build", "--recipe", rdir, "--source-archive", archive, "--target-platform", "linux-64", "-o", out, "--progress", "none")
		if code == exitOK || !strings.Contains(stderr, "sha256 mismatch") {
			t.Fatalf("exit %d:\n%s", code, stderr)
		}
		if _, err := os.Lstat(parent); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was left behind (%v)", parent, err)
		}
	})
	t.Run("OUTPUT exists", func(t *testing.T) {
		out := t.TempDir()
		code, _, stderr := runCLI(t, "build", "--recipe", rdir, "--source-archive", archive, "--target-platform", "linux-64", "-o", out, "--progress", "none")
		if code == exitOK {
			t.Fatalf("exit %d:\n%s", code, stderr)
		}
		if entries, err := os.ReadDir(out); err != nil || len(entries) != 0 {
			t.Errorf("the output folder holds %v (%v), want nothing", entries, err)
		}
	})
	t.Run("a failing script keeps only its log", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "channel")
		code, _, stderr := runCLI(t, "build", "--recipe", writeScriptRecipe(t, "false\n", "true"), "-o", out, "--progress", "none")
		log := filepath.Join(out, "linux-64", "scripted-1.0-0.build.log")
		if code != exitFailure || !strings.Contains(stderr, "full log: "+log) {
			t.Fatalf("exit %d:\n%s", code, stderr)
		}
		var left []string
		filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
			if err == nil && p != out {
				left = append(left, p)
			}
			return nil
		})
		if want := []string{filepath.Dir(log), log}; !slices.Equal(left, want) {
			t.Errorf("left behind %q, want %q", left, want)
		}
	})
}
