package condapkg_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/pkgbuild/condapkg"
)

// TestExternalReaders reads a package written by the Writer with readers that are not ours:
// conda-package-handling, libarchive (seekable and streaming, as mamba reads), and
// conda-package-streaming / zipfile in Debian's Python.
func TestExternalReaders(t *testing.T) {
	c := sampleContent()
	stem := "sample-1.0-0"
	path := writeCondaFile(t, t.TempDir(), stem, condapkg.Options{Level: condapkg.LevelDefault, ModTime: testModTime}, c)
	checkExternalReaders(t, path, stem, c)
}

// checkExternalReaders extracts the package at path, written from c, with cph, bsdtar and
// Python, and compares what they see with c.
func checkExternalReaders(t *testing.T, path, stem string, c pkgContent) {
	t.Helper()
	cph := testkit.Tool(t, "cph")
	bsdtar := testkit.Tool(t, "bsdtar")
	testkit.RequirePythonModules(t, "zipfile", "zstandard", "conda_package_streaming.package_streaming")
	data := readFile(t, path)
	wantIndex, _ := json.Marshal(c.index)

	t.Run("cph", func(t *testing.T) {
		testkit.Run(t, filepath.Dir(path), cph, "x", path)
		out := filepath.Join(filepath.Dir(path), stem)
		defer os.RemoveAll(out)
		got := testkit.ReadDirTree(t, out)
		if d := testkit.Diff(c.tree, treeWithoutInfo(got)); d != "" {
			t.Errorf("cph x extracted something else:\n%s", d)
		}
		checkExecBits(t, "cph", got)
		if idx := got["info/index.json"]; !bytes.Equal(idx.Data, wantIndex) {
			t.Errorf("cph x: info/index.json = %q", idx.Data)
		}
	})

	t.Run("bsdtar", func(t *testing.T) {
		// Seekable: the members come out as files equal to the stored bytes.
		members := t.TempDir()
		testkit.Run(t, members, bsdtar, "-xf", path)
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			off, _ := f.DataOffset()
			want := data[off : off+int64(f.CompressedSize64)]
			if got := readFile(t, filepath.Join(members, f.Name)); !bytes.Equal(got, want) {
				t.Errorf("bsdtar -xf: member %s differs (%d bytes, want %d)", f.Name, len(got), len(want))
			}
		}
		dir := t.TempDir()
		testkit.Run(t, dir, bsdtar, "-xf", filepath.Join(members, condapkg.PkgMember(stem)))
		got := testkit.ReadDirTree(t, dir)
		if d := testkit.Diff(c.tree, got); d != "" {
			t.Errorf("bsdtar -xf pkg member:\n%s", d)
		}
		checkExecBits(t, "bsdtar", got)

		// Streaming, as mamba reads: the ZIP on stdin (local headers only), the pkg member
		// piped into a second bsdtar.
		dir = t.TempDir()
		bsdtarPipe(t, path, condapkg.PkgMember(stem), dir)
		if d := testkit.Diff(c.tree, testkit.ReadDirTree(t, dir)); d != "" {
			t.Errorf("streaming bsdtar:\n%s", d)
		}
	})

	t.Run("python", func(t *testing.T) {
		out := testkit.Run(t, "", testkit.Python, "-c", pythonReader, path)
		var res struct {
			TestZip *string
			Members [][]any
			Index   string
			Pkg     []struct {
				Name, Type, Link, Uname, Gname, SHA256 string
				Mode, UID, GID, Mtime, Size            int64
			}
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("python output %s: %v", out, err)
		}
		if res.TestZip != nil {
			t.Errorf("zipfile.testzip() found a bad member: %s", *res.TestZip)
		}
		var names []string
		for _, m := range res.Members {
			names = append(names, m[0].(string))
			if m[1].(float64) != 0 || int(m[2].(float64))&8 != 0 {
				t.Errorf("zipfile: %v: compressed or with a data descriptor", m)
			}
		}
		if strings.Join(names, ",") != strings.Join([]string{condapkg.MetadataMember, condapkg.PkgMember(stem), condapkg.InfoMember(stem)}, ",") {
			t.Errorf("zipfile members %v", names)
		}
		if res.Index != string(wantIndex) {
			t.Errorf("stream_conda_info: info/index.json = %q, want %q", res.Index, wantIndex)
		}
		seen := map[string]bool{}
		for _, e := range res.Pkg {
			name := strings.TrimSuffix(e.Name, "/")
			seen[name] = true
			n, ok := c.tree[name]
			if !ok {
				t.Errorf("stream_conda_component pkg: unexpected %q", e.Name)
				continue
			}
			if e.UID != 0 || e.GID != 0 || e.Uname != "" || e.Gname != "" {
				t.Errorf("python tarfile %s: owner %d(%q):%d(%q)", name, e.UID, e.Uname, e.GID, e.Gname)
			}
			if e.Mtime != c.entryTime.Unix() {
				t.Errorf("python tarfile %s: mtime %d, want %d", name, e.Mtime, c.entryTime.Unix())
			}
			switch {
			case n.Dir:
				if e.Type != "5" || e.Mode != 0o755 {
					t.Errorf("python tarfile %s: type %s mode %o, want directory 0755", name, e.Type, e.Mode)
				}
			case n.Link != "":
				if e.Type != "2" || e.Link != n.Link {
					t.Errorf("python tarfile %s: type %s -> %q, want symlink -> %q", name, e.Type, e.Link, n.Link)
				}
			default:
				want := int64(0o644)
				if n.Mode&0o111 != 0 {
					want = 0o755
				}
				sum := sha256.Sum256(n.Data)
				if e.Type != "0" || e.Mode != want || e.SHA256 != hex.EncodeToString(sum[:]) {
					t.Errorf("python tarfile %s: type %s mode %o sha256 %s; want regular %o %x", name, e.Type, e.Mode, e.SHA256, want, sum)
				}
			}
		}
		for _, p := range c.tree.Paths() {
			if !seen[p] {
				t.Errorf("stream_conda_component pkg: %s missing (stopped after the first zstd frame?)", p)
			}
		}
	})
}

// pythonReader checks the ZIP with zipfile.testzip() and reads both members with
// conda-package-streaming, which stops at the end of the first zstd frame.
const pythonReader = `
import hashlib, json, sys, zipfile
from conda_package_streaming import package_streaming
path = sys.argv[1]
res = {}
with zipfile.ZipFile(path) as zf:
    res["TestZip"] = zf.testzip()
    res["Members"] = [[i.filename, i.compress_type, i.flag_bits, i.file_size] for i in zf.infolist()]
for tar, m in package_streaming.stream_conda_info(path):
    if m.name == "info/index.json":
        res["Index"] = tar.extractfile(m).read().decode()
pkg = []
for tar, m in package_streaming.stream_conda_component(path, component="pkg"):
    e = {"Name": m.name, "Type": m.type.decode(), "Link": m.linkname, "Mode": m.mode,
         "UID": m.uid, "GID": m.gid, "Uname": m.uname, "Gname": m.gname,
         "Mtime": int(m.mtime), "Size": m.size, "SHA256": ""}
    if m.isfile():
        h = hashlib.sha256()
        f = tar.extractfile(m)
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
        e["SHA256"] = h.hexdigest()
    pkg.append(e)
res["Pkg"] = pkg
json.dump(res, sys.stdout)
`

// bsdtarPipe runs "bsdtar -xOf - member < archive | bsdtar -xf - -C dir": libarchive's
// streaming ZIP reader, which only has the local headers to go by.
func bsdtarPipe(t testing.TB, archive, member, dir string) {
	t.Helper()
	bsdtar := testkit.Tool(t, "bsdtar")
	in, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var err1, err2 bytes.Buffer
	first := exec.Command(bsdtar, "-xOf", "-", member)
	first.Stdin, first.Stderr = in, &err1
	second := exec.Command(bsdtar, "-xf", "-", "-C", dir)
	second.Stderr = &err2
	pipe, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	second.Stdin = pipe
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	if err := first.Run(); err != nil {
		second.Process.Kill()
		second.Wait()
		t.Fatalf("bsdtar -xOf - %s: %v\n%s", member, err, err1.String())
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("bsdtar -xf -: %v\n%s", err, err2.String())
	}
	if err1.Len() > 0 || err2.Len() > 0 {
		t.Errorf("bsdtar warnings:\n%s%s", err1.String(), err2.String())
	}
}

// checkExecBits: extracted files are rwxr-xr-x or rw-r--r-- (under the usual umask), never
// a partial exec bit.
func checkExecBits(t testing.TB, who string, tr testkit.Tree) {
	t.Helper()
	for _, p := range tr.Paths() {
		n := tr[p]
		if n.Link != "" || n.Dir {
			continue
		}
		if x := n.Mode & 0o111; x != 0 && x != 0o111 {
			t.Errorf("%s: %s extracted with mode %v", who, p, n.Mode)
		}
	}
}
