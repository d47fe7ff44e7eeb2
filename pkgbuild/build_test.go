package pkgbuild

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/pkgbuild/archive"
	"github.com/condachan/condachan/pkgbuild/condapkg"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

var fixedTime = time.Unix(1700000000, 0)

// sampleArchive is one upstream archive of testkit.SampleTree under a top folder.
type sampleArchive struct {
	name string
	make func(t *testing.T) []byte
}

func sampleArchives() []sampleArchive {
	tarball := func(t *testing.T) []byte {
		return testkit.SampleTree().Tar(t, testkit.TarOptions{Top: "sample-1.0", DirEntries: true})
	}
	return []sampleArchive{
		{"sample-1.0.tar.xz", func(t *testing.T) []byte { return testkit.Compress(t, tarball(t), "xz", "-6") }},
		{"sample-1.0.tar.gz", func(t *testing.T) []byte { return testkit.Compress(t, tarball(t), "gzip") }},
		{"sample-1.0.tar.bz2", func(t *testing.T) []byte { return testkit.Compress(t, tarball(t), "bzip2") }},
		{"sample-1.0.tar.zst", func(t *testing.T) []byte { return testkit.Compress(t, tarball(t), "zstd", "-q") }},
		{"sample-1.0.tar", tarball},
		{"sample-1.0.zip", func(t *testing.T) []byte { return testkit.SampleTree().Zip(t, "sample-1.0") }},
	}
}

// writeRecipe writes a recipe folder whose only source is the archive at archivePath.
func writeRecipe(t *testing.T, dir, body string) string {
	t.Helper()
	rdir := filepath.Join(dir, "recipe")
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, rdir, recipe.FileName, []byte(body))
	return rdir
}

func urlRecipe(fileName, sha string, extra string) string {
	return fmt.Sprintf(`package:
  name: sample
  version: "1.0"
source:
  url: https://example.invalid/%s
  sha256: %s
  target_directory: sample
build:
  number: 3
%s
about:
  license: MIT
  summary: test package
`, fileName, sha, extra)
}

func build(t *testing.T, rdir, target string, archives []string, search ...string) (*Result, error) {
	t.Helper()
	r, err := recipe.LoadDir(rdir, target)
	if err != nil {
		t.Fatalf("recipe: %v", err)
	}
	out := filepath.Join(filepath.Dir(rdir), "out")
	return Build(context.Background(), Options{
		Recipe: r, SourceArchives: archives, SearchDirs: search, OutputDir: out,
		Compression: condapkg.LevelFast, Timestamp: fixedTime,
	})
}

// extractCPH extracts a package with Debian's conda-package-handling and returns the
// folder it made.
func extractCPH(t *testing.T, pkgPath string) string {
	t.Helper()
	dir := t.TempDir()
	cp := filepath.Join(dir, filepath.Base(pkgPath))
	data, err := os.ReadFile(pkgPath)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, dir, filepath.Base(pkgPath), data)
	testkit.Run(t, dir, testkit.Tool(t, "cph"), "x", cp)
	return filepath.Join(dir, condapkg.Stem(pkgPath))
}

// extractBsdtar unpacks the .conda with bsdtar (what mamba's libarchive does), then its
// pkg and info members.
func extractBsdtar(t *testing.T, pkgPath string) string {
	t.Helper()
	bsdtar := testkit.Tool(t, "bsdtar")
	outer := t.TempDir()
	testkit.Run(t, outer, bsdtar, "-xf", pkgPath)
	stem := condapkg.Stem(pkgPath)
	root := t.TempDir()
	for _, m := range []string{condapkg.PkgMember(stem), condapkg.InfoMember(stem)} {
		testkit.Run(t, root, bsdtar, "-xf", filepath.Join(outer, m))
	}
	return root
}

// payload drops info/ from an extracted package tree.
func payload(tr testkit.Tree) testkit.Tree {
	out := testkit.Tree{}
	for p, n := range tr {
		if !strings.HasPrefix(p, "info/") {
			out[p] = n
		}
	}
	return out
}

func TestBuildEveryFormatReadsBackWithForeignReaders(t *testing.T) {
	testkit.RequirePythonModules(t, "conda_package_streaming.package_streaming")
	want := testkit.SampleTree().Prefixed("sample")
	for _, a := range sampleArchives() {
		t.Run(a.name, func(t *testing.T) {
			dir := t.TempDir()
			data := a.make(t)
			arch := testkit.WriteFile(t, dir, a.name, data)
			rdir := writeRecipe(t, dir, urlRecipe(a.name, testkit.SHA256(data), ""))
			res, err := build(t, rdir, "linux-64", []string{arch})
			if err != nil {
				t.Fatal(err)
			}
			if got := filepath.Base(res.Path); got != "sample-1.0-3.conda" {
				t.Errorf("file name %s", got)
			}
			if d := testkit.Diff(want, payload(testkit.ReadDirTree(t, extractCPH(t, res.Path)))); d != "" {
				t.Errorf("cph x tree differs:\n%s", d)
			}
			if d := testkit.Diff(want, payload(testkit.ReadDirTree(t, extractBsdtar(t, res.Path)))); d != "" {
				t.Errorf("bsdtar tree differs:\n%s", d)
			}
			out := testkit.Run(t, "", testkit.Python, "-c", `
import json, sys
from conda_package_streaming.package_streaming import stream_conda_info
for tar, member in stream_conda_info(sys.argv[1]):
    if member.name == "info/index.json":
        print(json.dumps(json.load(tar.extractfile(member)), sort_keys=True))
`, res.Path)
			var idx map[string]any
			if err := json.Unmarshal(out, &idx); err != nil {
				t.Fatalf("index.json via conda_package_streaming: %v\n%s", err, out)
			}
			if idx["name"] != "sample" || idx["version"] != "1.0" || idx["build"] != "3" || idx["subdir"] != "linux-64" || idx["timestamp"] != float64(fixedTime.UnixMilli()) {
				t.Errorf("index.json: %v", idx)
			}
		})
	}
}

func TestPathsJSONMatchesContent(t *testing.T) {
	dir := t.TempDir()
	data := testkit.Compress(t, testkit.SampleTree().Tar(t, testkit.TarOptions{Top: "sample-1.0"}), "xz")
	testkit.WriteFile(t, dir, "sample-1.0.tar.xz", data)
	rdir := writeRecipe(t, dir, urlRecipe("sample-1.0.tar.xz", testkit.SHA256(data), ""))
	res, err := build(t, rdir, "linux-64", nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	root := extractCPH(t, res.Path)
	var paths struct {
		Paths []struct {
			Path     string `json:"_path"`
			PathType string `json:"path_type"`
			SHA256   string `json:"sha256"`
			Size     int64  `json:"size_in_bytes"`
		} `json:"paths"`
		Version int `json:"paths_version"`
	}
	raw, err := os.ReadFile(filepath.Join(root, "info/paths.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &paths); err != nil {
		t.Fatal(err)
	}
	if paths.Version != 1 {
		t.Errorf("paths_version %d", paths.Version)
	}
	tree := testkit.SampleTree()
	files, _ := os.ReadFile(filepath.Join(root, "info/files"))
	if len(paths.Paths) != len(tree) || strings.Count(string(files), "\n") != len(tree) {
		t.Fatalf("%d paths.json entries, %d info/files lines, want %d", len(paths.Paths), strings.Count(string(files), "\n"), len(tree))
	}
	for i, p := range paths.Paths {
		if i > 0 && paths.Paths[i-1].Path >= p.Path {
			t.Errorf("paths.json not sorted at %s", p.Path)
		}
		n := tree[strings.TrimPrefix(p.Path, "sample/")]
		target := n
		if n.Link != "" {
			if p.PathType != "softlink" {
				t.Errorf("%s: path_type %s", p.Path, p.PathType)
			}
			resolved, err := filepath.EvalSymlinks(filepath.Join(root, p.Path))
			if err != nil {
				t.Fatal(err)
			}
			st, _ := os.Stat(resolved)
			if st.IsDir() {
				if p.SHA256 != testkit.SHA256(nil) || p.Size != 0 {
					t.Errorf("%s: link to a folder should record the empty hash and size 0", p.Path)
				}
				continue
			}
			data, _ := os.ReadFile(resolved)
			target = testkit.Node{Data: data}
		} else if p.PathType != "hardlink" {
			t.Errorf("%s: path_type %s", p.Path, p.PathType)
		}
		if p.SHA256 != testkit.SHA256(target.Data) || p.Size != int64(len(target.Data)) {
			t.Errorf("%s: sha256/size %s/%d do not match the content", p.Path, p.SHA256, p.Size)
		}
	}
}

func TestBuildIsReproducibleWithSourceDateEpoch(t *testing.T) {
	dir := t.TempDir()
	data := testkit.Compress(t, testkit.SampleTree().Tar(t, testkit.TarOptions{Top: "sample-1.0", DirEntries: true}), "xz")
	arch := testkit.WriteFile(t, dir, "sample-1.0.tar.xz", data)
	rdir := writeRecipe(t, dir, urlRecipe("sample-1.0.tar.xz", testkit.SHA256(data), `  activation:
    env:
      SAMPLE_HOME: $CONDA_PREFIX/sample`))
	var sums []string
	for _, level := range []condapkg.Level{condapkg.LevelDefault, condapkg.LevelDefault, condapkg.LevelMax, condapkg.LevelMax} {
		r, err := recipe.LoadDir(rdir, "linux-64")
		if err != nil {
			t.Fatal(err)
		}
		res, err := Build(context.Background(), Options{Recipe: r, SourceArchives: []string{arch}, OutputDir: t.TempDir(), Compression: level, Timestamp: fixedTime})
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, res.SHA256)
	}
	if sums[0] != sums[1] || sums[2] != sums[3] {
		t.Errorf("two builds with the same inputs differ: %v", sums)
	}
}

// outputFiles lists everything left in a build's output folder.
func outputFiles(t *testing.T, out string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	return files
}

func TestBadInputIsRejectedAndLeavesNothing(t *testing.T) {
	good := testkit.SampleTree().Tar(t, testkit.TarOptions{Top: "sample-1.0"})
	goodXZ := testkit.Compress(t, good, "xz")
	evilTar := func(hdr *tar.Header) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "sample-1.0/ok.txt", Size: 2, Mode: 0o644})
		tw.Write([]byte("ok"))
		tw.WriteHeader(hdr)
		if hdr.Size > 0 {
			tw.Write(bytes.Repeat([]byte("x"), int(hdr.Size)))
		}
		tw.Close()
		return testkit.Compress(t, buf.Bytes(), "xz")
	}
	flipped := append([]byte(nil), goodXZ...)
	flipped[len(flipped)/2] ^= 0xff
	cases := []struct {
		name    string
		archive []byte
		sha     string // "" means: the archive's own
		want    string
	}{
		{"sha256 mismatch", goodXZ, strings.Repeat("ab", 32), "sha256 mismatch"},
		{"truncated xz", goodXZ[:len(goodXZ)*2/3], "", "truncated"},
		{"corrupt xz", flipped, "", "xz"},
		{"dot-dot entry", evilTar(&tar.Header{Typeflag: tar.TypeReg, Name: "sample-1.0/../../evil", Size: 1, Mode: 0o644}), "", `".."`},
		{"absolute entry", evilTar(&tar.Header{Typeflag: tar.TypeReg, Name: "/etc/evil", Size: 1, Mode: 0o644}), "", "absolute"},
		{"symlink outside", evilTar(&tar.Header{Typeflag: tar.TypeSymlink, Name: "sample-1.0/escape", Linkname: "../../../../etc/passwd", Mode: 0o777}), "", "outside the prefix"},
		{"absolute symlink", evilTar(&tar.Header{Typeflag: tar.TypeSymlink, Name: "sample-1.0/abs", Linkname: "/etc/passwd", Mode: 0o777}), "", "absolute"},
		{"write through symlink", func() []byte {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "sample-1.0/dir", Linkname: ".", Mode: 0o777})
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "sample-1.0/dir/f", Size: 1, Mode: 0o644})
			tw.Write([]byte("f"))
			tw.Close()
			return testkit.Compress(t, buf.Bytes(), "xz")
		}(), "", "beneath the symlink"},
		{"file beneath a hard link", func() []byte {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "sample-1.0/a", Size: 1, Mode: 0o644})
			tw.Write([]byte("a"))
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeLink, Name: "sample-1.0/b", Linkname: "sample-1.0/a", Mode: 0o644})
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "sample-1.0/b/c", Size: 1, Mode: 0o644})
			tw.Write([]byte("c"))
			tw.Close()
			return testkit.Compress(t, buf.Bytes(), "xz")
		}(), "", "which is a file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			arch := testkit.WriteFile(t, dir, "sample-1.0.tar.xz", c.archive)
			sha := c.sha
			if sha == "" {
				sha = testkit.SHA256(c.archive)
			}
			rdir := writeRecipe(t, dir, urlRecipe("sample-1.0.tar.xz", sha, ""))
			_, err := build(t, rdir, "linux-64", []string{arch})
			if err == nil {
				t.Fatal("build succeeded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
			if files := outputFiles(t, filepath.Join(dir, "out")); len(files) > 0 {
				t.Errorf("left behind: %v", files)
			}
		})
	}
	t.Run("sha256 mismatch names both digests", func(t *testing.T) {
		dir := t.TempDir()
		arch := testkit.WriteFile(t, dir, "sample-1.0.tar.xz", goodXZ)
		rdir := writeRecipe(t, dir, urlRecipe("sample-1.0.tar.xz", strings.Repeat("ab", 32), ""))
		_, err := build(t, rdir, "linux-64", []string{arch})
		var ce *archive.ChecksumError
		if !errors.As(err, &ce) || ce.Actual != testkit.SHA256(goodXZ) || !strings.Contains(err.Error(), strings.Repeat("ab", 32)) {
			t.Errorf("error %v", err)
		}
	})
}

func TestMissingArchiveSaysWhatToDo(t *testing.T) {
	dir := t.TempDir()
	rdir := writeRecipe(t, dir, urlRecipe("sample-1.0.tar.xz", strings.Repeat("cd", 32), ""))
	_, err := build(t, rdir, "linux-64", nil, dir)
	var missing *MissingSourceError
	if !errors.As(err, &missing) {
		t.Fatalf("error %v", err)
	}
	for _, want := range []string{"sample-1.0.tar.xz", "https://example.invalid/sample-1.0.tar.xz", strings.Repeat("cd", 32), missing.HandOver()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%s", want, err)
		}
	}
	if len(missing.Missing) != 1 || missing.Missing[0].FileName != "sample-1.0.tar.xz" || strings.Contains(err.Error(), "--") {
		t.Errorf("missing %+v; the message names no flag:\n%s", missing.Missing, err)
	}
}

func TestHardLinksBecomeRegularFiles(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	content := []byte("shared content\n")
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "pkg-1/", Mode: 0o755})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "pkg-1/bin/tool", Size: int64(len(content)), Mode: 0o755})
	tw.Write(content)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeLink, Name: "pkg-1/bin/tool-a", Linkname: "pkg-1/bin/tool", Mode: 0o755})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeLink, Name: "pkg-1/bin/tool-b", Linkname: "pkg-1/bin/tool", Mode: 0o755})
	tw.Close()
	data := testkit.Compress(t, buf.Bytes(), "gzip")
	dir := t.TempDir()
	arch := testkit.WriteFile(t, dir, "sample-1.0.tar.gz", data)
	rdir := writeRecipe(t, dir, urlRecipe("sample-1.0.tar.gz", testkit.SHA256(data), ""))
	res, err := build(t, rdir, "linux-64", []string{arch})
	if err != nil {
		t.Fatal(err)
	}
	want := testkit.Tree{
		"sample/bin/tool":   {Data: content, Mode: 0o755},
		"sample/bin/tool-a": {Data: content, Mode: 0o755},
		"sample/bin/tool-b": {Data: content, Mode: 0o755},
	}
	if d := testkit.Diff(want, payload(testkit.ReadDirTree(t, extractBsdtar(t, res.Path)))); d != "" {
		t.Error(d)
	}
	f, _ := os.Open(res.Path)
	defer f.Close()
	st, _ := f.Stat()
	cr, err := condapkg.NewReader(f, st.Size(), res.Path)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cr.PkgTar()
	if err != nil {
		t.Fatal(err)
	}
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeSymlink {
			t.Errorf("%s: tar type %q; hard links must be written as regular files", hdr.Name, hdr.Typeflag)
		}
	}
}

// TestHardLinksTooLargeToHold checks the slower path for hard-linked files larger than
// what is held in memory: one more read of the archive per extra link.
func TestHardLinksTooLargeToHold(t *testing.T) {
	defer func(old int64) { maxHeldHardlink = old }(maxHeldHardlink)
	maxHeldHardlink = 10
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	small, large := []byte("small"), bytes.Repeat([]byte("large content "), 100)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "pkg-1/small", Size: int64(len(small)), Mode: 0o644})
	tw.Write(small)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "pkg-1/large", Size: int64(len(large)), Mode: 0o755})
	tw.Write(large)
	for _, l := range []struct{ name, target string }{{"s1", "small"}, {"s2", "small"}, {"l1", "large"}, {"l2", "large"}, {"l3", "large"}} {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeLink, Name: "pkg-1/links/" + l.name, Linkname: "pkg-1/" + l.target, Mode: 0o644})
	}
	tw.Close()
	data := testkit.Compress(t, buf.Bytes(), "zstd")
	dir := t.TempDir()
	arch := testkit.WriteFile(t, dir, "sample-1.0.tar.zst", data)
	rdir := writeRecipe(t, dir, urlRecipe("sample-1.0.tar.zst", testkit.SHA256(data), ""))
	res, err := build(t, rdir, "linux-64", []string{arch})
	if err != nil {
		t.Fatal(err)
	}
	want := testkit.Tree{
		"sample/small": {Data: small, Mode: 0o644}, "sample/large": {Data: large, Mode: 0o755},
		"sample/links/s1": {Data: small, Mode: 0o644}, "sample/links/s2": {Data: small, Mode: 0o644},
		"sample/links/l1": {Data: large, Mode: 0o644}, "sample/links/l2": {Data: large, Mode: 0o644},
		"sample/links/l3": {Data: large, Mode: 0o644},
	}
	if d := testkit.Diff(want, payload(testkit.ReadDirTree(t, extractCPH(t, res.Path)))); d != "" {
		t.Error(d)
	}
}

// TestReservedDestinations checks that nothing from a source lands where conda keeps its
// own metadata.
func TestReservedDestinations(t *testing.T) {
	data := testkit.Compress(t, testkit.SampleTree().Tar(t, testkit.TarOptions{Top: "sample-1.0"}), "gzip")
	for _, target := range []string{"info", "info/extra", "conda-meta"} {
		t.Run(target, func(t *testing.T) {
			dir := t.TempDir()
			arch := testkit.WriteFile(t, dir, "sample-1.0.tar.gz", data)
			body := strings.Replace(urlRecipe("sample-1.0.tar.gz", testkit.SHA256(data), ""), "target_directory: sample", "target_directory: "+target, 1)
			rdir := writeRecipe(t, dir, body)
			_, err := build(t, rdir, "linux-64", []string{arch})
			if err == nil || !strings.Contains(err.Error(), "reserved") {
				t.Fatalf("got %v, want a reserved-path error", err)
			}
			if files := outputFiles(t, filepath.Join(dir, "out")); len(files) > 0 {
				t.Errorf("left behind: %v", files)
			}
		})
	}
}

// TestRecipeCopyLeavesOutArchives checks that source archives kept beside a recipe are
// not swallowed into info/recipe/.
func TestRecipeCopyLeavesOutArchives(t *testing.T) {
	data := testkit.Compress(t, testkit.SampleTree().Tar(t, testkit.TarOptions{Top: "sample-1.0"}), "gzip")
	dir := t.TempDir()
	rdir := writeRecipe(t, dir, urlRecipe("sample-1.0.tar.gz", testkit.SHA256(data), ""))
	testkit.WriteFile(t, rdir, "sample-1.0.tar.gz", data)
	testkit.WriteFile(t, rdir, "patch.txt", []byte("notes\n"))
	testkit.WriteFile(t, rdir, "big.bin", make([]byte, maxRecipeFile+1))
	res, err := build(t, rdir, "linux-64", nil, rdir)
	if err != nil {
		t.Fatal(err)
	}
	tree := testkit.ReadDirTree(t, extractBsdtar(t, res.Path))
	for _, want := range []string{"info/recipe/recipe.yaml", "info/recipe/patch.txt", "info/recipe/rendered_recipe.yaml"} {
		if _, ok := tree[want]; !ok {
			t.Errorf("%s missing", want)
		}
	}
	for _, unwanted := range []string{"info/recipe/sample-1.0.tar.gz", "info/recipe/big.bin"} {
		if _, ok := tree[unwanted]; ok {
			t.Errorf("%s was copied into the package", unwanted)
		}
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "sample-1.0.tar.gz") }) {
		t.Errorf("no warning names the left-out archive: %q", res.Warnings)
	}
}

// blenderLikeTree is a small tree shaped like the official Blender release archives.
func blenderLikeTree() testkit.Tree {
	return testkit.Tree{
		"blender":                          {Data: []byte("\x7fELF blender"), Mode: 0o755},
		"blender-softwaregl":               {Data: []byte("#!/bin/sh\nexec blender \"$@\"\n"), Mode: 0o755},
		"blender-thumbnailer":              {Data: []byte("\x7fELF thumbnailer"), Mode: 0o755},
		"lib/libcycles_kernel.so":          {Data: bytes.Repeat([]byte{1, 2, 3}, 1000), Mode: 0o755},
		"4.1/scripts/startup/bl_ui/x.py":   {Data: []byte("import bpy\n"), Mode: 0o644},
		"4.1/datafiles/fonts/DejaVu.woff2": {Data: []byte("font"), Mode: 0o644},
		"4.1/python/bin/python3.11":        {Data: []byte("\x7fELF python"), Mode: 0o755},
		"blender.exe":                      {Data: []byte("MZ blender"), Mode: 0o644},
	}
}

// loadShipped renders a shipped recipe with its sha256 replaced by the test archive's.
func loadShipped(t *testing.T, name, target, sha string) *recipe.Recipe {
	t.Helper()
	r, err := recipe.LoadDir(filepath.Join("..", "recipes", name), target)
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.Sources {
		if !r.Sources[i].IsPath() {
			r.Sources[i].SHA256 = sha
		}
	}
	return r
}

func TestBlenderRecipeLinux(t *testing.T) {
	tree := blenderLikeTree()
	data := testkit.Compress(t, tree.Tar(t, testkit.TarOptions{Top: "blender-4.1.1-linux-x64", DirEntries: true}), "xz")
	dir := t.TempDir()
	testkit.WriteFile(t, dir, "blender-4.1.1-linux-x64.tar.xz", data)
	r := loadShipped(t, "blender-4.1", "linux-64", testkit.SHA256(data))
	res, err := Build(context.Background(), Options{Recipe: r, SearchDirs: []string{dir}, OutputDir: filepath.Join(dir, "out"), Compression: condapkg.LevelFast, Timestamp: fixedTime})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(res.Path) != "blender-4.1.1-0.conda" || res.Subdir != "linux-64" {
		t.Errorf("built %s for %s", res.Path, res.Subdir)
	}
	root := extractCPH(t, res.Path)
	got := testkit.ReadDirTree(t, root)
	for p, n := range tree {
		if d := testkit.Diff(testkit.Tree{"opt/blender/" + p: n}, testkit.Tree{"opt/blender/" + p: got["opt/blender/"+p]}); d != "" {
			t.Error(d)
		}
	}
	for _, l := range []string{"blender", "blender-softwaregl", "blender-thumbnailer"} {
		if got["bin/"+l].Link != "../opt/blender/"+l {
			t.Errorf("bin/%s: %+v", l, got["bin/"+l])
		}
	}
	var idx map[string]any
	raw, _ := os.ReadFile(filepath.Join(root, "info/index.json"))
	json.Unmarshal(raw, &idx)
	if idx["license"] != "GPL-3.0-or-later" || idx["platform"] != "linux" || idx["arch"] != "x86_64" {
		t.Errorf("index.json %v", idx)
	}
	// Activate and deactivate with a real shell.
	sh := testkit.Tool(t, "sh")
	script := fmt.Sprintf(`set -e
export CONDA_PREFIX=%q
export BLENDER_VERSION=old
PATH_BEFORE="$PATH"
. "$CONDA_PREFIX/etc/conda/activate.d/blender_activate.sh"
echo "$BLENDER_LOCATION|$BLENDER_VERSION|$BLENDER_SCRIPTS_PATH|$BLENDER_DATAFILES_PATH"
. "$CONDA_PREFIX/etc/conda/deactivate.d/blender_deactivate.sh"
echo "${BLENDER_LOCATION-unset}|$BLENDER_VERSION|${CONDA_BACKUP_BLENDER_VERSION-unset}"
[ "$PATH" = "$PATH_BEFORE" ] && echo path-restored
`, root)
	out := string(testkit.Run(t, "", sh, "-c", script))
	want := fmt.Sprintf("%[1]s/opt/blender|4.1|%[1]s/opt/blender/4.1/scripts|%[1]s/opt/blender/4.1/datafiles\nunset|old|unset\npath-restored\n", root)
	if out != want {
		t.Errorf("activation:\n%s\nwant:\n%s", out, want)
	}
}

func TestBlenderRecipeWindowsFromZipOnLinux(t *testing.T) {
	tree := blenderLikeTree()
	data := tree.Zip(t, "blender-4.1.1-windows-x64")
	dir := t.TempDir()
	r := loadShipped(t, "blender-4.1", "win-64", testkit.SHA256(data))
	// An archive is matched to the recipe's sources by its name.
	renamed := testkit.WriteFile(t, dir, "downloaded.zip", data)
	_, err := Build(context.Background(), Options{Recipe: r, SourceArchives: []string{renamed}, OutputDir: filepath.Join(dir, "out"), Compression: condapkg.LevelFast, Timestamp: fixedTime})
	var sae *SourceArchiveError
	if !errors.As(err, &sae) || !sae.Unmatched || sae.Archive != renamed || sae.Platform != "win-64" || strings.Join(sae.Expected, ",") != "blender-4.1.1-windows-x64.zip" ||
		!strings.Contains(err.Error(), "source archive "+renamed+" matches no source of the recipe for win-64 (expected file names: blender-4.1.1-windows-x64.zip)") {
		t.Fatalf("a renamed archive: %v", err)
	}
	arch := testkit.WriteFile(t, dir, "blender-4.1.1-windows-x64.zip", data)
	res, err := Build(context.Background(), Options{Recipe: r, SourceArchives: []string{arch}, OutputDir: filepath.Join(dir, "out"), Compression: condapkg.LevelFast, Timestamp: fixedTime})
	if err != nil {
		t.Fatal(err)
	}
	if res.Subdir != "win-64" || !strings.HasSuffix(res.Path, filepath.Join("win-64", "blender-4.1.1-0.conda")) {
		t.Errorf("built %s", res.Path)
	}
	got := testkit.ReadDirTree(t, extractCPH(t, res.Path))
	if _, ok := got["bin/blender"]; ok {
		t.Error("win-64 package has unix links")
	}
	if string(got["opt/blender/blender.exe"].Data) != "MZ blender" {
		t.Error("blender.exe missing")
	}
	bat := string(got["etc/conda/activate.d/blender_activate.bat"].Data)
	for _, want := range []string{`@set "BLENDER_LOCATION=%CONDA_PREFIX%/opt/blender"`, `@set "PATH=%CONDA_PREFIX%\opt\blender;%PATH%"`, "\r\n"} {
		if !strings.Contains(bat, want) {
			t.Errorf("activate.bat lacks %q:\n%s", want, bat)
		}
	}
	ps1 := string(got["etc/conda/activate.d/blender_activate.ps1"].Data)
	if !strings.Contains(ps1, `$Env:BLENDER_LOCATION = "${Env:CONDA_PREFIX}/opt/blender"`) {
		t.Errorf("activate.ps1:\n%s", ps1)
	}
}

func TestExampleRecipeBuildsFromEmbeddedAndDisk(t *testing.T) {
	dir := t.TempDir()
	r, err := recipe.LoadFS(os.DirFS(filepath.Join("..", "recipes")), "condachan-example", "linux-64")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Build(context.Background(), Options{Recipe: r, OutputDir: dir, Timestamp: fixedTime})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := recipe.LoadDir(filepath.Join("..", "recipes", "condachan-example"), "linux-64")
	if err != nil {
		t.Fatal(err)
	}
	res2, err := Build(context.Background(), Options{Recipe: rd, OutputDir: t.TempDir(), Timestamp: fixedTime})
	if err != nil {
		t.Fatal(err)
	}
	if res.Subdir != "noarch" {
		t.Errorf("subdir %s", res.Subdir)
	}
	if res.Index["noarch"] != "generic" {
		t.Errorf("index %v", res.Index)
	}
	got := testkit.ReadDirTree(t, extractBsdtar(t, res.Path))
	if got["bin/condachan-example"].Mode&0o111 == 0 {
		t.Error("bin/condachan-example lost its execute bit")
	}
	if _, ok := got["share/condachan-example/README.md"]; ok {
		t.Error("excluded README.md was packaged")
	}
	if got["bin/example-render"].Link != "condachan-example" {
		t.Errorf("link %+v", got["bin/example-render"])
	}
	if !strings.Contains(string(got["info/licenses/LICENSE.txt"].Data), "Apache") {
		t.Error("license file missing")
	}
	if res.SHA256 == res2.SHA256 {
		return
	}
	// The embedded copy has no file modes or times of its own; contents must still agree.
	g2 := testkit.ReadDirTree(t, extractBsdtar(t, res2.Path))
	if d := testkit.Diff(payload(got), payload(g2)); d != "" {
		t.Errorf("embedded and on-disk builds differ:\n%s", d)
	}
}

func TestCancelledBuildLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	big := testkit.Tree{"big.bin": {Data: bytes.Repeat([]byte("0123456789abcdef"), 4<<20), Mode: 0o644}}
	data := big.Tar(t, testkit.TarOptions{Top: "sample-1.0"})
	arch := testkit.WriteFile(t, dir, "sample-1.0.tar", data)
	rdir := writeRecipe(t, dir, urlRecipe("sample-1.0.tar", testkit.SHA256(data), ""))
	r, err := recipe.LoadDir(rdir, "linux-64")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Build(ctx, Options{Recipe: r, SourceArchives: []string{arch}, OutputDir: filepath.Join(dir, "out"), Timestamp: fixedTime})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v", err)
	}
	if files := outputFiles(t, filepath.Join(dir, "out")); len(files) > 0 {
		t.Errorf("left behind: %v", files)
	}
}

// trickyActivationValues are values that mean something to at least one of sh, cmd.exe
// and PowerShell; the scripts must set each of them as written ($$ is a literal $).
var trickyActivationValues = []struct{ name, value, want string }{
	{"APP_SH", "costs $$5 `not run` $$(id) $${HOME} \\n \\ 'single' ends\\", "costs $5 `not run` $(id) ${HOME} \\n \\ 'single' ends\\"},
	{"APP_CMD", "100% %PATH% %% ^caret ^^ ^& a&b|c<d>e (f) ;g, =h", "100% %PATH% %% ^caret ^^ ^& a&b|c<d>e (f) ;g, =h"},
	{"APP_QUOTES", "single \u2018\u2019\u201a\u201b double \u201c\u201d\u201e", "single \u2018\u2019\u201a\u201b double \u201c\u201d\u201e"},
	{"APP_GLOB", "* ? [a] ~ ~/x #hash", "* ? [a] ~ ~/x #hash"},
	{"APP_TAB", "a\tb caf\u00e9 \u2615 \u65e5\u672c", "a\tb caf\u00e9 \u2615 \u65e5\u672c"},
}

func TestActivationScriptsUnderBashAndDash(t *testing.T) {
	a := recipe.Activation{
		Env: []recipe.EnvVar{
			{Name: "APP_HOME", Value: "$CONDA_PREFIX/opt/app"},
			{Name: "APP_DATA", Value: "${APP_HOME}/data dir with spaces"},
		},
		PathPrepend: []string{"opt/app/bin", "opt/app/tools", "opt/My App+1@x"},
	}
	for _, v := range trickyActivationValues {
		a.Env = append(a.Env, recipe.EnvVar{Name: v.name, Value: v.value})
	}
	scripts, err := activationScripts("app", a)
	if err != nil {
		t.Fatal(err)
	}
	prefix := t.TempDir()
	for _, s := range scripts {
		p := filepath.Join(prefix, filepath.FromSlash(s.path))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, s.body, 0o644)
	}
	for _, shell := range []string{"sh", "bash", "dash"} {
		if _, err := exec.LookPath(shell); err != nil {
			if shell == "dash" {
				continue // not on every system; sh covers POSIX
			}
			t.Fatalf("%s missing", shell)
		}
		// Each value goes to its own file through printf %s, so the comparison is
		// byte-exact (no echo escapes, no newline ambiguity).
		out := t.TempDir()
		var dump strings.Builder
		for _, v := range trickyActivationValues {
			fmt.Fprintf(&dump, "printf '%%s' \"$%s\" > %q\n", v.name, filepath.Join(out, v.name))
		}
		script := fmt.Sprintf(`set -e
export CONDA_PREFIX=%q
export PATH="/usr/bin:/bin"
. "$CONDA_PREFIX/etc/conda/activate.d/app_activate.sh"
printf '%%s\n' "$APP_HOME" "$APP_DATA" "$PATH"
%s
. "$CONDA_PREFIX/etc/conda/deactivate.d/app_deactivate.sh"
printf '%%s\n' "${APP_HOME-unset}" "${APP_SH-unset}" "$PATH"
`, prefix, dump.String())
		got := string(testkit.Run(t, "", shell, "-c", script))
		want := strings.Join([]string{
			prefix + "/opt/app", prefix + "/opt/app/data dir with spaces",
			prefix + "/opt/app/bin:" + prefix + "/opt/app/tools:" + prefix + "/opt/My App+1@x:/usr/bin:/bin",
			"unset", "unset", "/usr/bin:/bin", "",
		}, "\n")
		if got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", shell, got, want)
		}
		for _, v := range trickyActivationValues {
			b, err := os.ReadFile(filepath.Join(out, v.name))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != v.want {
				t.Errorf("%s: %s = %q, want %q", shell, v.name, b, v.want)
			}
		}
	}
}

func TestBuildNumberOverrideAndBuildString(t *testing.T) {
	data := testkit.SampleTree().Tar(t, testkit.TarOptions{Top: "sample-1.0"})
	sha := testkit.SHA256(data)
	seven := 7
	tests := []struct {
		name     string
		extra    string // build: keys after number: 3
		override *int
		want     string // package file name, or "" for the conflict error
	}{
		{"recipe number", "", nil, "sample-1.0-3.conda"},
		{"override", "", &seven, "sample-1.0-7.conda"},
		{"build string", "  string: custom_3\n", nil, "sample-1.0-custom_3.conda"},
		{"build string and override", "  string: custom_3\n", &seven, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			arch := testkit.WriteFile(t, dir, "sample-1.0.tar", data)
			r, err := recipe.LoadDir(writeRecipe(t, dir, urlRecipe("sample-1.0.tar", sha, tt.extra)), "linux-64")
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			res, err := Build(context.Background(), Options{Recipe: r, SourceArchives: []string{arch}, OutputDir: out, BuildNumber: tt.override, Timestamp: fixedTime})
			if tt.want != "" {
				if err != nil {
					t.Fatal(err)
				}
				if filepath.Base(res.Path) != tt.want {
					t.Errorf("built %s, want %s", res.Path, tt.want)
				}
				return
			}
			var conflict *BuildStringConflictError
			if !errors.As(err, &conflict) || conflict.File != r.File || conflict.BuildString != "custom_3" {
				t.Fatalf("error %v, want a BuildStringConflictError for %s", err, r.File)
			}
			if !strings.Contains(err.Error(), r.File) || !strings.Contains(err.Error(), "drop one of them") {
				t.Errorf("message: %v", err)
			}
			if files := outputFiles(t, out); len(files) > 0 {
				t.Errorf("left behind: %v", files)
			}
		})
	}
}

// TestDependsAreWrittenInTheRepodataForm builds packages whose recipes spell
// requirements as conda users do and reads back info/index.json and
// info/run_exports.json: depends and constrains are in the `name version build` form
// that rattler (pixi) reads from repodata, sorted as before.
func TestDependsAreWrittenInTheRepodataForm(t *testing.T) {
	data := testkit.SampleTree().Tar(t, testkit.TarOptions{Top: "sample-1.0"})
	sha := testkit.SHA256(data)
	tests := []struct{ spec, want string }{
		{"studio-tools>=2.1", "studio-tools >=2.1"},
		{"Studio-Tools >=2", "studio-tools >=2"},
		{"studio-tools=2.1", "studio-tools 2.1.*"},
		{"\"studio-tools[version='>=2.1']\"", "studio-tools >=2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			dir := t.TempDir()
			arch := testkit.WriteFile(t, dir, "sample-1.0.tar", data)
			extra := fmt.Sprintf(`requirements:
  run:
    - %s
    - abc ==1.0
  run_constraints:
    - other=1.2=py_0
  run_exports:
    strong: [%s]
`, tt.spec, tt.spec)
			r, err := recipe.LoadDir(writeRecipe(t, dir, urlRecipe("sample-1.0.tar", sha, extra)), "linux-64")
			if err != nil {
				t.Fatal(err)
			}
			res, err := Build(context.Background(), Options{Recipe: r, SourceArchives: []string{arch}, OutputDir: filepath.Join(dir, "out"), Timestamp: fixedTime})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(res.Path)
			if err != nil {
				t.Fatal(err)
			}
			rd, err := condapkg.NewReader(bytes.NewReader(raw), int64(len(raw)), filepath.Base(res.Path))
			if err != nil {
				t.Fatal(err)
			}
			files, err := rd.InfoFiles("info/index.json", "info/run_exports.json")
			if err != nil {
				t.Fatal(err)
			}
			var idx struct {
				Depends    []string `json:"depends"`
				Constrains []string `json:"constrains"`
			}
			if err := json.Unmarshal(files["info/index.json"], &idx); err != nil {
				t.Fatal(err)
			}
			if want := []string{"abc ==1.0", tt.want}; !slices.Equal(idx.Depends, want) {
				t.Errorf("depends = %q, want %q", idx.Depends, want)
			}
			if want := []string{"other ==1.2 py_0"}; !slices.Equal(idx.Constrains, want) {
				t.Errorf("constrains = %q, want %q", idx.Constrains, want)
			}
			var re map[string][]string
			if err := json.Unmarshal(files["info/run_exports.json"], &re); err != nil {
				t.Fatal(err)
			}
			if want := []string{tt.want}; !slices.Equal(re["strong"], want) {
				t.Errorf("run_exports.json = %s", files["info/run_exports.json"])
			}
		})
	}
}

// TestDependsWithAChannelAreRefused: a channel cannot be written in a package's
// depends (rattler panics on it), so the recipe is refused at load, on its line.
func TestDependsWithAChannelAreRefused(t *testing.T) {
	dir := t.TempDir()
	rdir := writeRecipe(t, dir, urlRecipe("sample-1.0.tar", strings.Repeat("0", 64), `requirements:
  run:
    - python >=3.10
    - somechannel::studio-tools
`))
	_, err := recipe.LoadDir(rdir, "linux-64")
	var list recipe.ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("error %v, want one recipe error", err)
	}
	e := list[0]
	if e.File != filepath.Join(rdir, recipe.FileName) || e.Line != 13 || e.Field != "requirements.run[1]" ||
		!strings.Contains(e.Msg, `"somechannel::studio-tools"`) || !strings.Contains(e.Msg, `write "studio-tools"`) {
		t.Errorf("error %+v (%v)", e, e)
	}
}

// TestIndexJSONNormalisesRecipesMadeInCode: a Recipe built without the loader still
// gets canonical depends.
func TestIndexJSONNormalisesRecipesMadeInCode(t *testing.T) {
	r := &recipe.Recipe{TargetPlatform: "linux-64", Package: recipe.Package{Name: "a", Version: "1"},
		Requirements: recipe.Requirements{Run: []string{"Zed>=1", "studio-tools=2.1"}, RunConstraints: []string{"x[version='<2']"}}}
	idx := indexJSON(r, 0, "0", 0)
	if got, want := idx["depends"], []string{"studio-tools 2.1.*", "zed >=1"}; !slices.Equal(got.([]string), want) {
		t.Errorf("depends = %q, want %q", got, want)
	}
	if got, want := idx["constrains"], []string{"x <2"}; !slices.Equal(got.([]string), want) {
		t.Errorf("constrains = %q, want %q", got, want)
	}
	re := runExportsJSON(recipe.RunExports{Weak: []string{"B>=1"}})
	if string(re) != `{"weak":["b >=1"]}` {
		t.Errorf("run_exports.json = %s", re)
	}
}
