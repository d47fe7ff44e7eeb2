package main

import (
	"os"
	"path/filepath"
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
