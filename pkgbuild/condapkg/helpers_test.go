package condapkg_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/pkgbuild/condapkg"
)

// testModTime is the Options.ModTime (SOURCE_DATE_EPOCH) of most test packages.
var testModTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// seekBuffer is an in-memory io.WriteSeeker, so tests need no temp files.
type seekBuffer struct {
	b   []byte
	pos int64
}

func (s *seekBuffer) Write(p []byte) (int, error) {
	end := s.pos + int64(len(p))
	if end > int64(len(s.b)) {
		s.b = append(s.b, make([]byte, end-int64(len(s.b)))...)
	}
	copy(s.b[s.pos:], p)
	s.pos = end
	return len(p), nil
}

func (s *seekBuffer) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += s.pos
	case io.SeekEnd:
		off += int64(len(s.b))
	}
	if off < 0 {
		return 0, errors.New("negative position")
	}
	s.pos = off
	return off, nil
}

func (s *seekBuffer) Bytes() []byte { return s.b }

// testIndex is the info/index.json of test packages.
func testIndex(name string) map[string]any {
	return map[string]any{
		"name": name, "version": "1.0", "build": "0", "build_number": 0,
		"depends": []string{}, "constrains": []string{}, "license": "MIT",
		"subdir": "linux-64", "timestamp": testModTime.UnixMilli(),
	}
}

// pkgContent is what a test writes into a package.
type pkgContent struct {
	tree      testkit.Tree
	index     map[string]any
	entryTime time.Time // modification time given to pkg entries
}

// writeTree writes the content into w and closes it, failing the test on any error.
func writeTree(t testing.TB, w *condapkg.Writer, c pkgContent) {
	t.Helper()
	pkg, err := w.Pkg()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.tree.Paths() {
		n := c.tree[p]
		switch {
		case n.Dir:
			err = pkg.WriteDir(p, c.entryTime)
		case n.Link != "":
			err = pkg.WriteSymlink(p, n.Link, c.entryTime)
		default:
			var res condapkg.FileResult
			res, err = pkg.WriteFile(p, n.Mode, int64(len(n.Data)), c.entryTime, bytes.NewReader(n.Data))
			if err == nil && (res.Size != int64(len(n.Data)) || testkit.SHA256(n.Data) != hex.EncodeToString(res.SHA256[:])) {
				t.Errorf("%s: FileResult %x/%d does not match the content", p, res.SHA256, res.Size)
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	if err := pkg.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := w.Info()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := json.Marshal(c.index)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := info.WriteBytes("info/index.json", 0o644, idx); err != nil {
		t.Fatal(err)
	}
	var files bytes.Buffer
	for _, p := range c.tree.Paths() {
		if !c.tree[p].Dir {
			files.WriteString(p + "\n")
		}
	}
	if _, err := info.WriteBytes("info/files", 0o644, files.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := info.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// buildConda returns a complete package as bytes.
func buildConda(t testing.TB, stem string, opts condapkg.Options, c pkgContent) []byte {
	t.Helper()
	var buf seekBuffer
	w, err := condapkg.NewWriter(&buf, stem, opts)
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, w, c)
	return buf.Bytes()
}

// writeCondaFile writes the package to dir/<stem>.conda through a real file.
func writeCondaFile(t testing.TB, dir, stem string, opts condapkg.Options, c pkgContent) string {
	t.Helper()
	p := filepath.Join(dir, stem+condapkg.Extension)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := condapkg.NewWriter(f, stem, opts)
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, w, c)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// sampleContent is testkit's sample tree (executables, library links, long and non-ASCII
// names, empty files) plus an empty directory, with entry times before testModTime.
func sampleContent() pkgContent {
	tree := testkit.SampleTree()
	tree["share/empty-dir"] = testkit.Node{Dir: true}
	return pkgContent{tree: tree, index: testIndex("sample"), entryTime: testModTime.Add(-48 * time.Hour)}
}

// smallContent is a tiny package (fuzz seeds, zip64 threshold tests).
func smallContent() pkgContent {
	return pkgContent{
		tree: testkit.Tree{
			"bin/run":        {Data: []byte("#!/bin/sh\necho run\n"), Mode: 0o755},
			"share/doc.txt":  {Data: []byte("documentation\n"), Mode: 0o644},
			"bin/run-alias":  {Link: "run"},
			"share/café.txt": {Data: []byte("unicode\n"), Mode: 0o644},
		},
		index:     testIndex("small"),
		entryTime: testModTime.Add(-time.Hour),
	}
}

// withZip64Threshold lowers the zip64 threshold for the rest of the test.
func withZip64Threshold(t testing.TB, v int64) {
	t.Helper()
	t.Cleanup(condapkg.SetZip64Threshold(v))
}

// treeWithoutInfo drops info/ from an extracted tree.
func treeWithoutInfo(tr testkit.Tree) testkit.Tree {
	out := testkit.Tree{}
	for p, n := range tr {
		if p == "info" || len(p) > 5 && p[:5] == "info/" {
			continue
		}
		out[p] = n
	}
	return out
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
