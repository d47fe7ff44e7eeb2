//go:build windows

package pkgbuild_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/condachan/condachan/pkgbuild"
)

// On Windows, archives and folders given with drive letters, backslashes or forward
// slashes are all found.
func TestWindowsArchivePathsOnWindows(t *testing.T) {
	dir := t.TempDir() // C:\Users\...\Temp\...
	zipPath, sum := windowsZip(t, dir, `winapp-1.0\bin\winapp.exe`)
	if filepath.VolumeName(zipPath) == "" {
		t.Fatalf("temp path %s has no drive", zipPath)
	}
	for name, opts := range map[string]pkgbuild.Options{
		"backslashes":     {SourceArchives: []string{zipPath}},
		"forward slashes": {SourceArchives: []string{filepath.ToSlash(zipPath)}},
		"search folder":   {SearchDirs: []string{filepath.ToSlash(dir)}},
	} {
		out := filepath.Join(t.TempDir(), "out")
		opts.Recipe = winRecipe(t, sum)
		opts.OutputDir = filepath.ToSlash(out)
		opts.Timestamp = time.Unix(1700000000, 0)
		res, err := pkgbuild.Build(context.Background(), opts)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, err := os.Stat(filepath.Join(out, "win-64", "winapp-1.0-0.conda")); err != nil {
			t.Errorf("%s: %v (result %s)", name, err, res.Path)
		}
	}
}
