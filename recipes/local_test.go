package recipes

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindDirAndLabel(t *testing.T) {
	root := t.TempDir()
	flat := filepath.Join(root, "flat")
	catalogue := filepath.Join(root, "maya-2026")
	for _, d := range []string{flat, filepath.Join(catalogue, "recipe")} {
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "recipe.yaml"), []byte("package: {name: x, version: '1'}\n"), 0o644)
	}
	for _, c := range []struct{ arg, want, label string }{
		{flat, flat, "flat"},
		{filepath.Join(flat, "recipe.yaml"), flat, "flat"},
		{catalogue, filepath.Join(catalogue, "recipe"), "maya-2026"},
	} {
		got, ok := FindDir(c.arg)
		if !ok || got != c.want || Label(got) != c.label {
			t.Errorf("FindDir(%s) = %s, %v (label %s); want %s (%s)", c.arg, got, ok, Label(got), c.want, c.label)
		}
	}
	if _, ok := FindDir(filepath.Join(root, "none")); ok {
		t.Error("found a recipe in a folder that does not exist")
	}
}

func TestExport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	n, err := Export("blender-4.1", dir)
	if err != nil || n == 0 {
		t.Fatalf("%d files, %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "recipe.yaml")); err != nil {
		t.Error(err)
	}
	var target *TargetError
	if _, err := Export("blender-4.1", dir); !errors.As(err, &target) || !errors.Is(err, ErrNotEmpty) || err.Error() != dir+" is not empty: export into a new folder" {
		t.Errorf("a folder with files: %v", err)
	}
	var notShipped *NotShippedError
	if _, err := Export("nope", t.TempDir()); !errors.As(err, &notShipped) {
		t.Errorf("not shipped: %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte("package: {name: local-one, version: '1'}\n"), 0o644)
	if r, err := Load(dir, "linux-64"); err != nil || r.Package.Name != "local-one" {
		t.Errorf("a folder: %v, %v", r, err)
	}
	if r, err := Load("blender-4.1", "win-64"); err != nil || r.TargetPlatform != "win-64" {
		t.Errorf("a shipped recipe: %v, %v", r, err)
	}
	_, err := Load("houdini-20", "linux-64")
	var nf *NotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), `recipe "houdini-20" not found: not a folder with recipe.yaml, and not a shipped recipe (`) {
		t.Errorf("an unknown name: %v", err)
	}
}

func TestSummaries(t *testing.T) {
	got := Summaries()
	if len(got) != len(Names()) {
		t.Fatalf("%d summaries of %d recipes", len(got), len(Names()))
	}
	for _, s := range got {
		if s.Err != nil || s.Version == "" {
			t.Errorf("%s: %+v", s.Name, s)
		}
		if s.Name == "maya-rpm-example" && s.Version != "2026.0" {
			t.Errorf("maya-rpm-example version %s", s.Version)
		}
	}
}
