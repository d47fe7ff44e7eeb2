package pkgbuild_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/pkgbuild/condapkg"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

// windowsZip writes a zip as old Windows tools make them: member names with backslashes.
func windowsZip(t *testing.T, dir string, names ...string) (path, sum string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: time.Unix(1700000000, 0)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("content of " + n))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "winapp-1.0-windows-x64.zip")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(buf.Bytes())
	return path, hex.EncodeToString(s[:])
}

func winRecipe(t *testing.T, sum string) *recipe.Recipe {
	t.Helper()
	src := "package: {name: winapp, version: \"1.0\"}\n" +
		"source:\n  url: https://example.invalid/winapp-1.0-windows-x64.zip\n  sha256: " + sum + "\n" +
		"build:\n  files:\n    - to: Library/winapp\n  activation:\n    path_prepend:\n      - Library/winapp/bin\n" +
		"about: {license: MIT}\n"
	r, err := recipe.Parse("recipe.yaml", []byte(src), nil, "win-64")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// packagePaths reads info/paths.json of a built package.
func packagePaths(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := condapkg.NewReader(bytes.NewReader(data), int64(len(data)), filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	files, err := r.InfoFiles("info/paths.json")
	if err != nil {
		t.Fatal(err)
	}
	var pj struct {
		Paths []struct {
			Path string `json:"_path"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(files["info/paths.json"], &pj); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pj.Paths {
		out = append(out, p.Path)
	}
	return out
}

// A zip made on Windows, with backslash separators, builds a win-64 package whose paths
// use "/" (as conda expects on every platform), with its top folder stripped.
func TestWindowsZipWithBackslashNames(t *testing.T) {
	dir := t.TempDir()
	zipPath, sum := windowsZip(t, dir, `winapp-1.0\bin\winapp.exe`, `winapp-1.0\bin\plugins\a.dll`, `winapp-1.0\README.txt`)
	res, err := pkgbuild.Build(context.Background(), pkgbuild.Options{
		Recipe: winRecipe(t, sum), SourceArchives: []string{zipPath}, OutputDir: filepath.Join(dir, "out"), Timestamp: time.Unix(1700000000, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Subdir != "win-64" || res.Path != filepath.Join(dir, "out", "win-64", "winapp-1.0-0.conda") {
		t.Errorf("result %s in %s", res.Path, res.Subdir)
	}
	paths := packagePaths(t, res.Path)
	for _, want := range []string{"Library/winapp/bin/winapp.exe", "Library/winapp/bin/plugins/a.dll", "Library/winapp/README.txt"} {
		if !slices.Contains(paths, want) {
			t.Errorf("package lacks %s: %q", want, paths)
		}
	}
	for _, p := range paths {
		if strings.Contains(p, `\`) || strings.Contains(p, ":") {
			t.Errorf("package path %q is not a clean / path", p)
		}
	}
	// The activation script for cmd.exe puts the folder on PATH with backslashes.
	if !slices.Contains(paths, "etc/conda/activate.d/winapp_activate.bat") {
		t.Errorf("no .bat activation script: %q", paths)
	}
}

// Members that name a drive or an absolute Windows path are refused, naming the member.
func TestWindowsZipWithDriveOrRootIsRefused(t *testing.T) {
	for _, evil := range []string{`C:\Windows\evil.dll`, `C:evil.dll`, `\Windows\evil.dll`, `winapp-1.0\..\..\evil.dll`} {
		dir := t.TempDir()
		zipPath, sum := windowsZip(t, dir, `winapp-1.0\bin\winapp.exe`, evil)
		_, err := pkgbuild.Build(context.Background(), pkgbuild.Options{
			Recipe: winRecipe(t, sum), SourceArchives: []string{zipPath}, OutputDir: filepath.Join(dir, "out"), Timestamp: time.Unix(1700000000, 0),
		})
		if err == nil {
			t.Errorf("%s: built", evil)
			continue
		}
		if !strings.Contains(err.Error(), evil) {
			t.Errorf("%s: the error does not name the member: %v", evil, err)
		}
		if entries, _ := os.ReadDir(filepath.Join(dir, "out", "win-64")); len(entries) > 0 {
			t.Errorf("%s: output left behind", evil)
		}
	}
}
