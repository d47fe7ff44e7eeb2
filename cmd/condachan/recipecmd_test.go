package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/recipes"
)

func TestRecipeExport(t *testing.T) {
	for _, name := range recipes.Names() {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "edit", name)
			code, stdout, stderr := runCLI(t, "recipe", "export", name, dir)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "wrote recipe "+name) || !strings.Contains(stderr, "condachan build --recipe") {
				t.Errorf("output:\n%s%s", stdout, stderr)
			}
			// The same files, byte for byte; scripts executable; the folder readable.
			n := 0
			fs.WalkDir(recipes.FS, name, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				n++
				want, _ := fs.ReadFile(recipes.FS, p)
				got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(p, name+"/"))))
				if err != nil || string(got) != string(want) {
					t.Errorf("%s: %v (same bytes: %v)", p, err, string(got) == string(want))
				}
				return nil
			})
			if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o755 {
				t.Errorf("folder mode: %v %v", st, err)
			}
			if st, err := os.Stat(filepath.Join(dir, "build.sh")); err == nil && st.Mode().Perm() != 0o755 {
				t.Errorf("build.sh mode %v", st.Mode())
			}
			entries, _ := os.ReadDir(filepath.Dir(dir))
			if len(entries) != 1 {
				t.Errorf("export left %d entries beside the folder", len(entries))
			}
			// The copy loads as a recipe folder.
			if _, err := recipes.Load(dir, "linux-64"); err != nil {
				t.Errorf("the exported recipe does not load: %v", err)
			}
		})
	}

	// Into an empty folder: fine. Into a folder with files, or an unknown name: refused,
	// nothing written.
	empty := t.TempDir()
	if code, _, stderr := runCLI(t, "recipe", "export", "condachan-example", empty); code != 0 {
		t.Errorf("empty folder: exit %d: %s", code, stderr)
	}
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "notes.txt"), []byte("mine"), 0o644)
	code, _, stderr := runCLI(t, "recipe", "export", "condachan-example", full)
	if code != exitUsage || !strings.Contains(stderr, "is not empty") {
		t.Errorf("folder with files: exit %d: %s", code, stderr)
	}
	if entries, _ := os.ReadDir(full); len(entries) != 1 {
		t.Errorf("a refused export wrote into the folder: %d entries", len(entries))
	}
	parent := t.TempDir()
	code, _, stderr = runCLI(t, "recipe", "export", "houdini-20", filepath.Join(parent, "h"))
	if code != exitUsage || !strings.Contains(stderr, `"houdini-20" is not a shipped recipe (shipped: `) {
		t.Errorf("unknown recipe: exit %d: %s", code, stderr)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("a refused export left %d entries", len(entries))
	}
	code, stdout, _ := runCLI(t, "recipe", "list")
	if code != 0 || !strings.Contains(stdout, "maya-rpm-example\t2026.0\t") {
		t.Errorf("recipe list: exit %d:\n%s", code, stdout)
	}
}
