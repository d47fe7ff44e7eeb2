package srcdir

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/pkgbuild/archive"
)

func archiveSource(t *testing.T, name string, data []byte) Source {
	t.Helper()
	p := testkit.WriteFile(t, t.TempDir(), name, data)
	return Source{Name: name, Path: p, SHA256: testkit.SHA256(data), Extract: true, StripComponents: -1}
}

func TestStage(t *testing.T) {
	app := testkit.Tree{
		"bin/app":     {Data: []byte("#!/bin/sh\necho app\n"), Mode: 0o755},
		"lib/a.so.1":  {Data: []byte("lib"), Mode: 0o755},
		"lib/a.so":    {Link: "a.so.1"},
		"share/x.txt": {Data: []byte("x\n"), Mode: 0o644},
	}
	tgz := testkit.Compress(t, app.Tar(t, testkit.TarOptions{Top: "app-1.0", DirEntries: true}), "gzip")
	flat := testkit.Compress(t, app.Tar(t, testkit.TarOptions{}), "xz")
	zip := testkit.Tree{"one.txt": {Data: []byte("1\n"), Mode: 0o644}, "two/two.txt": {Data: []byte("2\n"), Mode: 0o644}}.Zip(t, "")
	installer := []byte("#!/bin/sh\necho installing\n")
	folder := t.TempDir()
	testkit.Tree{"cfg/site.json": {Data: []byte("{}\n"), Mode: 0o644}}.WriteDir(t, folder)

	tests := []struct {
		name    string
		sources []Source
		want    testkit.Tree
	}{
		{"an archive loses its single top folder", []Source{archiveSource(t, "app-1.0.tar.gz", tgz)}, app},
		{"an archive without one keeps everything", []Source{archiveSource(t, "app.tar.xz", flat)}, app},
		{"into target_directory", []Source{func() Source {
			s := archiveSource(t, "app-1.0.tar.gz", tgz)
			s.TargetDirectory = "installer/app"
			return s
		}()}, app.Prefixed("installer/app")},
		{"strip_components", []Source{func() Source {
			s := archiveSource(t, "app-1.0.tar.gz", tgz)
			s.StripComponents = 2
			return s
		}()}, testkit.Tree{"app": app["bin/app"], "a.so.1": app["lib/a.so.1"], "a.so": app["lib/a.so"], "x.txt": app["share/x.txt"]}},
		{"a file kept as it is", []Source{{Name: "vendor.run", Path: testkit.WriteFile(t, t.TempDir(), "vendor.run", installer), SHA256: testkit.SHA256(installer), TargetDirectory: "installer"}},
			testkit.Tree{"installer/vendor.run": {Data: installer, Mode: 0o755}}},
		{"file_name keeps an archive packed", []Source{{Name: "app-1.0.tar.gz", Path: testkit.WriteFile(t, t.TempDir(), "app-1.0.tar.gz", tgz), SHA256: testkit.SHA256(tgz), FileName: "payload.tgz"}},
			testkit.Tree{"payload.tgz": {Data: tgz, Mode: 0o755}}},
		{"several sources, one folder each and a shared one", []Source{
			archiveSource(t, "app-1.0.tar.gz", tgz),
			func() Source { s := archiveSource(t, "extra.zip", zip); return s }(),
			{Name: "cfg", Path: folder, IsDir: true, StripComponents: -1},
		}, func() testkit.Tree {
			tr := testkit.Tree{}
			for p, n := range app {
				tr[p] = n
			}
			tr["one.txt"], tr["two/two.txt"] = testkit.Node{Data: []byte("1\n"), Mode: 0o644}, testkit.Node{Data: []byte("2\n"), Mode: 0o644}
			tr["cfg/site.json"] = testkit.Node{Data: []byte("{}\n"), Mode: 0o644}
			return tr
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := Stage(context.Background(), dir, tt.sources, Options{}); err != nil {
				t.Fatalf("Stage: %v", err)
			}
			if d := testkit.Diff(tt.want, testkit.ReadDirTree(t, dir)); d != "" {
				t.Errorf("SRC_DIR differs:\n%s", d)
			}
		})
	}
}

func TestStageHardLinksAndPatches(t *testing.T) {
	tr := testkit.Tree{"src/main.c": {Data: []byte("int main(void) {\n    return 1;\n}\n"), Mode: 0o644}}
	data := tr.Tar(t, testkit.TarOptions{Top: "proj-2.0"})
	s := archiveSource(t, "proj-2.0.tar", data)
	s.Patches = []Patch{{Name: "fix.patch", Data: []byte("--- a/src/main.c\n+++ b/src/main.c\n@@ -1,3 +1,3 @@\n int main(void) {\n-    return 1;\n+    return 0;\n }\n")}}
	dir := t.TempDir()
	var logged []string
	if err := Stage(context.Background(), dir, []Source{s}, Options{Log: func(l string) { logged = append(logged, l) }}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "src/main.c"))
	if string(got) != "int main(void) {\n    return 0;\n}\n" || len(logged) != 1 || !strings.Contains(logged[0], "applied fix.patch to proj-2.0.tar (-p1, 1 file(s))") {
		t.Errorf("main.c = %q, log %q", got, logged)
	}
}

func TestStageRefuses(t *testing.T) {
	good := testkit.Tree{"a.txt": {Data: []byte("a"), Mode: 0o644}}
	escaping := testkit.Tree{"bin/x": {Link: "../../../etc/passwd"}}
	absolute := testkit.Tree{"bin/x": {Link: "/usr/bin/env"}}
	run := []byte("#!/bin/sh\n")
	tests := []struct {
		name    string
		sources []Source
		want    string
	}{
		{"a link leaving the folder", []Source{archiveSource(t, "bad.tar", escaping.Tar(t, testkit.TarOptions{}))}, "entry bin/x: symlink bin/x -> ../../../etc/passwd resolves outside the prefix"},
		{"an absolute link", []Source{archiveSource(t, "bad.tar", absolute.Tar(t, testkit.TarOptions{}))}, "is absolute"},
		{"a wrong archive sha256", []Source{func() Source {
			s := archiveSource(t, "a.tar", good.Tar(t, testkit.TarOptions{}))
			s.SHA256 = strings.Repeat("0", 64)
			return s
		}()}, "sha256 mismatch"},
		{"a wrong file sha256", []Source{{Name: "v.run", Path: testkit.WriteFile(t, t.TempDir(), "v.run", run), SHA256: strings.Repeat("1", 64)}}, "v.run: sha256 mismatch"},
		{"two sources with the same file", []Source{archiveSource(t, "a.tar", good.Tar(t, testkit.TarOptions{})), archiveSource(t, "b.tar", good.Tar(t, testkit.TarOptions{}))}, "a.txt is already in the source folder"},
		{"a patch that does not apply", []Source{func() Source {
			s := archiveSource(t, "a.tar", good.Tar(t, testkit.TarOptions{}))
			s.Patches = []Patch{{Name: "p.patch", Data: []byte("--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-zzz\n+b\n")}}
			return s
		}()}, "patch p.patch: a.txt: hunk #1"},
		{"not an archive", []Source{archiveSource(t, "x.tar.gz", []byte("not gzip at all, a web page"))}, "unknown archive format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Stage(context.Background(), t.TempDir(), tt.sources, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			var ce *archive.ChecksumError
			if strings.Contains(tt.want, "mismatch") && !errors.As(err, &ce) {
				t.Errorf("not a ChecksumError: %T", err)
			}
		})
	}
}
