package testkit

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Node is one entry of a generated tree: a file (Data, Mode), a symlink (Link) or an
// explicit directory (Dir).
type Node struct {
	Data []byte
	Mode fs.FileMode // 0644 or 0755 for files
	Link string      // symlink target
	Dir  bool
}

// Tree maps slash paths to nodes. Parent directories are implied.
type Tree map[string]Node

// Paths returns the tree's paths, sorted.
func (tr Tree) Paths() []string {
	ps := make([]string, 0, len(tr))
	for p := range tr {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// SampleTree is a tree with what upstream releases contain and what trips up archive
// code: executables, shared libraries with version links, nested folders, empty files,
// paths longer than 100 bytes (beyond the ustar name field), non-ASCII names, and
// relative symlinks to files and to folders.
func SampleTree() Tree {
	rng := rand.New(rand.NewSource(42))
	blob := func(n int) []byte {
		b := make([]byte, n)
		rng.Read(b)
		return b
	}
	long := strings.Repeat("deeply-nested-folder/", 6) + "with-a-file-name-that-is-long-enough-to-need-pax.txt"
	return Tree{
		"app":                        {Data: []byte("#!/bin/sh\necho app\n"), Mode: 0o755},
		"lib/libapp.so.1.2.3":        {Data: blob(200 << 10), Mode: 0o755},
		"lib/libapp.so.1":            {Link: "libapp.so.1.2.3"},
		"lib/libapp.so":              {Link: "libapp.so.1"},
		"lib/plugins/render.so":      {Data: blob(64 << 10), Mode: 0o755},
		"share/data/empty.txt":       {Data: []byte{}, Mode: 0o644},
		"share/data/text.txt":        {Data: bytes.Repeat([]byte("render farm\n"), 5000), Mode: 0o644},
		"share/data/" + long:         {Data: []byte("long path\n"), Mode: 0o644},
		"share/données/café-☕.txt":   {Data: []byte("unicode name\n"), Mode: 0o644},
		"share/日本語/ファイル.txt":         {Data: []byte("more unicode\n"), Mode: 0o644},
		"share/link-to-data":         {Link: "data"},
		"bin/tool":                   {Data: blob(32 << 10), Mode: 0o755},
		"bin/tool-alias":             {Link: "tool"},
		"scripts/nested/deep/run.py": {Data: []byte("print('hi')\n"), Mode: 0o644},
	}
}

// WriteDir materialises the tree under dir.
func (tr Tree) WriteDir(t testing.TB, dir string) {
	t.Helper()
	for _, p := range tr.Paths() {
		n := tr[p]
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case n.Dir:
			err = os.MkdirAll(full, 0o755)
		case n.Link != "":
			err = os.Symlink(n.Link, full)
		default:
			err = os.WriteFile(full, n.Data, n.Mode)
			if err == nil {
				err = os.Chmod(full, n.Mode) // umask-proof
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TarOptions shape a generated tar.
type TarOptions struct {
	Top        string // single top-level folder, "" for none
	DirEntries bool   // write directory entries as tar does
	Format     tar.Format
	ModTime    time.Time
}

// Tar returns the tree as an uncompressed tar.
func (tr Tree) Tar(t testing.TB, o TarOptions) []byte {
	t.Helper()
	if o.ModTime.IsZero() {
		o.ModTime = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	}
	if o.Format == tar.FormatUnknown {
		o.Format = tar.FormatPAX
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	name := func(p string) string {
		if o.Top != "" {
			return o.Top + "/" + p
		}
		return p
	}
	written := map[string]bool{}
	writeDir := func(d string) {
		if written[d] || d == "." {
			return
		}
		written[d] = true
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: name(d) + "/", Mode: 0o755, ModTime: o.ModTime, Format: o.Format}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
	}
	if o.Top != "" && o.DirEntries {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: o.Top + "/", Mode: 0o755, ModTime: o.ModTime, Format: o.Format}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range tr.Paths() {
		n := tr[p]
		if o.DirEntries {
			var parents []string
			for d := path.Dir(p); d != "."; d = path.Dir(d) {
				parents = append([]string{d}, parents...)
			}
			for _, d := range parents {
				writeDir(d)
			}
		}
		var hdr *tar.Header
		switch {
		case n.Dir:
			writeDir(p)
			continue
		case n.Link != "":
			hdr = &tar.Header{Typeflag: tar.TypeSymlink, Name: name(p), Linkname: n.Link, Mode: 0o777, ModTime: o.ModTime, Format: o.Format}
		default:
			hdr = &tar.Header{Typeflag: tar.TypeReg, Name: name(p), Size: int64(len(n.Data)), Mode: int64(n.Mode), ModTime: o.ModTime, Format: o.Format, Uname: "builder", Gname: "staff", Uid: 1234, Gid: 5678}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(n.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Compress pipes data through an external compressor (xz, gzip, bzip2, zstd) with args.
func Compress(t testing.TB, data []byte, tool string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(Tool(t, tool), append(args, "-c")...)
	cmd.Stdin = bytes.NewReader(data)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, errb.String())
	}
	return out.Bytes()
}

// Zip returns the tree as a zip, symlinks stored the Info-ZIP way (Unix mode with the
// link bit, target as content).
func (tr Tree) Zip(t testing.TB, top string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range tr.Paths() {
		n := tr[p]
		name := p
		if top != "" {
			name = top + "/" + p
		}
		hdr := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)}
		switch {
		case n.Dir:
			hdr.Name += "/"
			hdr.SetMode(fs.ModeDir | 0o755)
		case n.Link != "":
			hdr.SetMode(fs.ModeSymlink | 0o777)
		default:
			hdr.SetMode(n.Mode)
		}
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		if n.Link != "" {
			w.Write([]byte(n.Link))
		} else {
			w.Write(n.Data)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// SHA256 is the hex digest of data.
func SHA256(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// ReadDirTree reads an extracted folder back into a Tree (files, symlinks; directories
// only when empty).
func ReadDirTree(t testing.TB, dir string) Tree {
	t.Helper()
	tr := Tree{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			tr[rel] = Node{Link: target}
		case info.IsDir():
			entries, _ := os.ReadDir(p)
			if len(entries) == 0 {
				tr[rel] = Node{Dir: true}
			}
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			tr[rel] = Node{Data: data, Mode: info.Mode().Perm()}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// Diff describes how got differs from want (content, exec bit, link target, presence);
// "" when they are the same. Modes compare only the execute bit, which is what a package
// keeps.
func Diff(want, got Tree) string {
	var b strings.Builder
	for _, p := range want.Paths() {
		w := want[p]
		g, ok := got[p]
		switch {
		case !ok:
			fmt.Fprintf(&b, "missing: %s\n", p)
		case w.Link != "" || g.Link != "":
			if w.Link != g.Link {
				fmt.Fprintf(&b, "%s: link %q, want %q\n", p, g.Link, w.Link)
			}
		case w.Dir != g.Dir:
			fmt.Fprintf(&b, "%s: dir=%v, want %v\n", p, g.Dir, w.Dir)
		case !bytes.Equal(w.Data, g.Data):
			fmt.Fprintf(&b, "%s: content differs (%d bytes, want %d)\n", p, len(g.Data), len(w.Data))
		case (w.Mode&0o111 != 0) != (g.Mode&0o111 != 0):
			fmt.Fprintf(&b, "%s: mode %v, want exec bit as in %v\n", p, g.Mode, w.Mode)
		}
	}
	for _, p := range got.Paths() {
		if _, ok := want[p]; !ok {
			fmt.Fprintf(&b, "unexpected: %s\n", p)
		}
	}
	return b.String()
}

// Prefixed returns a copy of the tree with every path under dir.
func (tr Tree) Prefixed(dir string) Tree {
	out := Tree{}
	for p, n := range tr {
		out[dir+"/"+p] = n
	}
	return out
}

// WriteFile writes data to dir/name (making the folders it needs) and returns the path.
func WriteFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// WriteAged writes a file under dir (a slash-separated relative path) and sets its
// modification time age ago, as a file an interrupted run left behind.
func WriteAged(t testing.TB, dir, rel, content string, age time.Duration) string {
	t.Helper()
	p := WriteFile(t, dir, filepath.FromSlash(rel), []byte(content))
	when := time.Now().Add(-age)
	if err := os.Chtimes(p, when, when); err != nil {
		t.Fatal(err)
	}
	return p
}
