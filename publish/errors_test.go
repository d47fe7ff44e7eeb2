package publish

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel"
)

func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x-1-0.conda")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckFiles([]string{file}); err != nil {
		t.Fatalf("a file: %v", err)
	}
	missing := filepath.Join(dir, "nope.conda")
	for _, tc := range []struct {
		path string
		is   error
		want string
	}{
		{missing, fs.ErrNotExist, "package file " + missing + " does not exist: pass the path of a built .conda or .tar.bz2 package"},
		{dir, ErrIsFolder, "package file " + dir + " is a folder: pass the .conda or .tar.bz2 files in it"},
	} {
		err := CheckFiles([]string{file, tc.path})
		var pf *PackageFileError
		if !errors.As(err, &pf) || pf.File != tc.path || !errors.Is(err, tc.is) || err.Error() != tc.want {
			t.Errorf("CheckFiles(%s) = %v", tc.path, err)
		}
	}
}

func TestSourceArchives(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "src.tar.gz")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	local, remote, err := SourceArchives(t.Context(), []string{file}, channel.Options{})
	if err != nil || len(local) != 1 || local[0] != file || len(remote) != 0 {
		t.Fatalf("SourceArchives(local) = %v, %v, %v", local, remote, err)
	}
	_, _, err = SourceArchives(t.Context(), []string{filepath.Join(dir, "gone.zip")}, channel.Options{})
	var le *LocalArchiveError
	if !errors.As(err, &le) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing local archive: %v", err)
	}
	_, _, err = SourceArchives(t.Context(), []string{"s3://bucket"}, channel.Options{})
	var ue *ArchiveURIError
	if !errors.As(err, &ue) || !strings.HasSuffix(err.Error(), ": expected s3://bucket/key") {
		t.Errorf("bucket without key: %v", err)
	}
}
