package condapkg_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/pkgbuild/condapkg"
)

// TestWriterContract checks the container and the tars of a package written at every level
// against the contract, entry by entry.
func TestWriterContract(t *testing.T) {
	windows := map[condapkg.Level]uint64{condapkg.LevelFast: 8 << 20, condapkg.LevelDefault: 32 << 20, condapkg.LevelMax: 8 << 20}
	for _, level := range []condapkg.Level{condapkg.LevelFast, condapkg.LevelDefault, condapkg.LevelMax} {
		t.Run(level.String(), func(t *testing.T) {
			c := sampleContent()
			stem := "sample-1.0-0"
			data := buildConda(t, stem, condapkg.Options{Level: level, ModTime: testModTime}, c)
			a := checkContainer(t, bytes.NewReader(data), int64(len(data)), stem, testModTime, condapkg.Zip64Threshold())
			if a.zip64End || a.member(condapkg.PkgMember(stem)).localExtra != extraPadding {
				t.Errorf("a small package uses zip64 (end record %v, pkg extra %#x)", a.zip64End, a.member(condapkg.PkgMember(stem)).localExtra)
			}
			// The pkg member spans several blocks, so its frame header carries the level's
			// window; the small info member is one single-segment block with its size.
			if f := a.frames[condapkg.PkgMember(stem)]; len(f) != 1 || f[0].window != windows[level] || !f[0].checksum {
				t.Errorf("pkg frames %v, want one with window %d and a checksum", f, windows[level])
			}
			if f := a.frames[condapkg.InfoMember(stem)]; len(f) != 1 || f[0].contentSize < 0 {
				t.Errorf("info frames %v, want one with its content size", f)
			}

			pkg := readTar(t, "pkg", unzstd(t, memberData(data, a.member(condapkg.PkgMember(stem)))))
			checkEntriesMatchTree(t, pkg, c.tree, c.entryTime)

			info := readTar(t, "info", unzstd(t, memberData(data, a.member(condapkg.InfoMember(stem)))))
			var names []string
			for _, e := range info {
				names = append(names, e.hdr.Name)
				if !e.hdr.ModTime.Equal(testModTime) {
					t.Errorf("info: %s: mtime %v, want the package time %v", e.hdr.Name, e.hdr.ModTime, testModTime)
				}
			}
			if strings.Join(names, ",") != "info/index.json,info/files" {
				t.Errorf("info entries %v", names)
			}
		})
	}
}

// checkEntriesMatchTree compares the pkg tar with the tree it was written from.
func checkEntriesMatchTree(t *testing.T, entries []tarEntry, tree testkit.Tree, mtime time.Time) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range entries {
		name := strings.TrimSuffix(e.hdr.Name, "/")
		seen[name] = true
		n, ok := tree[name]
		if !ok {
			t.Errorf("pkg: unexpected entry %q", e.hdr.Name)
			continue
		}
		if !e.hdr.ModTime.Equal(mtime.Truncate(time.Second)) {
			t.Errorf("pkg: %s: mtime %v, want %v", name, e.hdr.ModTime, mtime)
		}
		switch {
		case n.Dir:
			if e.hdr.Typeflag != tar.TypeDir {
				t.Errorf("pkg: %s: type %q, want directory", name, e.hdr.Typeflag)
			}
		case n.Link != "":
			if e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != n.Link {
				t.Errorf("pkg: %s: type %q -> %q, want symlink -> %q", name, e.hdr.Typeflag, e.hdr.Linkname, n.Link)
			}
		default:
			want := int64(0o644)
			if n.Mode&0o111 != 0 {
				want = 0o755
			}
			if e.hdr.Typeflag != tar.TypeReg || e.hdr.Mode != want || !bytes.Equal(e.data, n.Data) {
				t.Errorf("pkg: %s: type %q mode %o, %d bytes; want regular %o, %d bytes", name, e.hdr.Typeflag, e.hdr.Mode, len(e.data), want, len(n.Data))
			}
		}
	}
	for _, p := range tree.Paths() {
		if !seen[p] {
			t.Errorf("pkg: %s missing", p)
		}
	}
}

// TestTarEntryDetails covers modes, long and non-ASCII names and mtime handling.
func TestTarEntryDetails(t *testing.T) {
	modTime := time.Date(2024, 5, 6, 7, 8, 9, 987654321, time.FixedZone("X", 3*3600))
	clamp := modTime.UTC().Truncate(time.Second)
	long := strings.Repeat("a-rather-long-folder-name/", 8) + "file-ü.txt" // > 200 bytes
	longTarget := strings.Repeat("../", 4) + strings.Repeat("t", 120)
	type entry struct {
		path     string
		mode     fs.FileMode
		link     string
		dir      bool
		mtime    time.Time
		wantMode int64
		wantTime time.Time
	}
	past := time.Date(2020, 1, 2, 3, 4, 5, 600_000_000, time.Local)
	entries := []entry{
		{path: "plain", mode: 0o600, mtime: past, wantMode: 0o644, wantTime: past.UTC().Truncate(time.Second)},
		{path: "exec-owner", mode: 0o700, mtime: past, wantMode: 0o755, wantTime: past.UTC().Truncate(time.Second)},
		{path: "exec-other", mode: 0o641, mtime: past, wantMode: 0o755, wantTime: past.UTC().Truncate(time.Second)},
		{path: "setuid", mode: fs.ModeSetuid | fs.ModeSticky | 0o4777, mtime: past, wantMode: 0o755, wantTime: past.UTC().Truncate(time.Second)},
		{path: "future", mode: 0o644, mtime: modTime.Add(time.Hour), wantMode: 0o644, wantTime: clamp},
		{path: "just-after", mode: 0o644, mtime: modTime.Add(time.Millisecond), wantMode: 0o644, wantTime: clamp},
		{path: "zero-time", mode: 0o644, wantMode: 0o644, wantTime: clamp},
		{path: "before-1970", mode: 0o644, mtime: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), wantMode: 0o644, wantTime: time.Unix(0, 0)},
		{path: long, mode: 0o644, mtime: past, wantMode: 0o644, wantTime: past.UTC().Truncate(time.Second)},
		{path: "日本語/ファイル-☕", mode: 0o755, mtime: past, wantMode: 0o755, wantTime: past.UTC().Truncate(time.Second)},
		{path: "a/b/c/d/link", link: longTarget, mtime: modTime.Add(24 * time.Hour), wantMode: 0o777, wantTime: clamp},
		{path: "dir", dir: true, mtime: past, wantMode: 0o755, wantTime: past.UTC().Truncate(time.Second)},
	}
	var buf seekBuffer
	w, err := condapkg.NewWriter(&buf, "details-1-0", condapkg.Options{ModTime: modTime})
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := w.Pkg()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch {
		case e.dir:
			err = pkg.WriteDir(e.path, e.mtime)
		case e.link != "":
			err = pkg.WriteSymlink(e.path, e.link, e.mtime)
		default:
			_, err = pkg.WriteFile(e.path, e.mode, 3, e.mtime, strings.NewReader("abc"))
		}
		if err != nil {
			t.Fatalf("%s: %v", e.path, err)
		}
	}
	if _, err := pkg.WriteBytes("generated", 0o644, []byte("gen")); err != nil {
		t.Fatal(err)
	}
	entries = append(entries, entry{path: "generated", wantMode: 0o644, wantTime: clamp})
	if got := pkg.ContentBytes(); got != int64(3*(len(entries)-3)+3) {
		t.Errorf("ContentBytes = %d", got)
	}
	if err := pkg.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := w.Info()
	if err != nil {
		t.Fatal(err)
	}
	if err := info.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	a := checkContainer(t, bytes.NewReader(data), int64(len(data)), "details-1-0", modTime, condapkg.Zip64Threshold())
	got := readTar(t, "pkg", unzstd(t, memberData(data, a.member(condapkg.PkgMember("details-1-0")))))
	if len(got) != len(entries) {
		t.Fatalf("%d entries, want %d", len(got), len(entries))
	}
	for i, e := range entries {
		h := got[i].hdr
		name := e.path
		if e.dir {
			name += "/"
		}
		if h.Name != name || h.Mode != e.wantMode || !h.ModTime.Equal(e.wantTime) || h.Linkname != e.link {
			t.Errorf("entry %d: %q mode %o mtime %v link %q; want %q %o %v %q", i, h.Name, h.Mode, h.ModTime, h.Linkname, name, e.wantMode, e.wantTime, e.link)
		}
	}
	// An empty info member is still one valid frame holding an empty tar.
	if b := unzstd(t, memberData(data, a.member(condapkg.InfoMember("details-1-0")))); len(b) != 1024 || !bytes.Equal(b, make([]byte, 1024)) {
		t.Errorf("empty info tar is %d bytes", len(b))
	}
}

// TestDeterministic: the same inputs and ModTime give the same bytes, whatever the time
// zone of the times given and however the content is chunked by the source.
func TestDeterministic(t *testing.T) {
	for _, level := range []condapkg.Level{condapkg.LevelFast, condapkg.LevelDefault, condapkg.LevelMax} {
		c := sampleContent()
		a := buildConda(t, "det-1-0", condapkg.Options{Level: level, ModTime: testModTime}, c)
		c2 := sampleContent()
		c2.entryTime = c.entryTime.In(time.FixedZone("Y", -7*3600)).Add(300 * time.Millisecond)
		b := buildConda(t, "det-1-0", condapkg.Options{Level: level, ModTime: testModTime.In(time.Local).Add(999 * time.Millisecond)}, c2)
		if !bytes.Equal(a, b) {
			t.Errorf("%v: two builds of the same input differ (%d and %d bytes)", level, len(a), len(b))
		}
	}
	// A reader handing out one byte at a time changes nothing either.
	c := smallContent()
	a := buildConda(t, "det-1-0", condapkg.Options{ModTime: testModTime}, c)
	var buf seekBuffer
	w, err := condapkg.NewWriter(&buf, "det-1-0", condapkg.Options{ModTime: testModTime})
	if err != nil {
		t.Fatal(err)
	}
	pkg, _ := w.Pkg()
	for _, p := range c.tree.Paths() {
		n := c.tree[p]
		if n.Link != "" {
			err = pkg.WriteSymlink(p, n.Link, c.entryTime)
		} else {
			_, err = pkg.WriteFile(p, n.Mode, int64(len(n.Data)), c.entryTime, oneByteReader{bytes.NewReader(n.Data)})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	pkg.Close()
	info, _ := w.Info()
	idx, _ := json.Marshal(c.index)
	info.WriteBytes("info/index.json", 0o644, idx)
	var files bytes.Buffer
	for _, p := range c.tree.Paths() {
		files.WriteString(p + "\n")
	}
	info.WriteBytes("info/files", 0o644, files.Bytes())
	info.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, buf.Bytes()) {
		t.Errorf("chunking of the source changed the output")
	}
}

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

// TestWriterStateErrors: members must come in order, once each.
func TestWriterStateErrors(t *testing.T) {
	newW := func() *condapkg.Writer {
		w, err := condapkg.NewWriter(&seekBuffer{}, "state-1-0", condapkg.Options{ModTime: testModTime})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := newW()
	if _, err := w.Info(); err == nil {
		t.Error("Info before Pkg: no error")
	}
	if err := w.Close(); err == nil {
		t.Error("Close before Pkg: no error")
	}

	w = newW()
	pkg, err := w.Pkg()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Pkg(); err == nil {
		t.Error("second Pkg: no error")
	}
	if _, err := w.Info(); err == nil {
		t.Error("Info while pkg is open: no error")
	}
	if err := w.Close(); err == nil {
		t.Error("Close while pkg is open: no error")
	}
	if err := pkg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pkg.Close(); err != nil {
		t.Errorf("second TarWriter.Close: %v", err)
	}
	if _, err := pkg.WriteBytes("late", 0o644, []byte("x")); err == nil {
		t.Error("write after the pkg member was closed: no error")
	}
	if err := w.Close(); err == nil {
		t.Error("Close without info: no error")
	}
	info, err := w.Info()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Info(); err == nil {
		t.Error("second Info: no error")
	}
	if err := info.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Pkg(); err == nil {
		t.Error("Pkg after info: no error")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Error("second Close: no error")
	}

	// Abort leaves the writer unusable but does not panic or write more.
	w = newW()
	pkg, _ = w.Pkg()
	if _, err := pkg.WriteBytes("a", 0o644, []byte("a")); err != nil {
		t.Fatal(err)
	}
	pkg.Abort()
	pkg.Abort()
	if _, err := w.Info(); err == nil {
		t.Error("Info after an aborted pkg: no error")
	}
}

func TestNewWriterStem(t *testing.T) {
	for _, stem := range []string{"", ".", "..", "a/b", `a\b`, "a\x00b"} {
		if _, err := condapkg.NewWriter(&seekBuffer{}, stem, condapkg.Options{}); err == nil {
			t.Errorf("NewWriter(%q): no error", stem)
		}
	}
}

// TestWriterRejectsBadEntries: unsafe names and link targets fail with the entry named,
// and so does a source that ends early or an entry beneath a symlink.
func TestWriterRejectsBadEntries(t *testing.T) {
	w, err := condapkg.NewWriter(&seekBuffer{}, "bad-1-0", condapkg.Options{ModTime: testModTime})
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := w.Pkg()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"../x", "/etc/passwd", "a/../../b", `a\b`, "C:/x", "a//b", "./a", "a/"} {
		if _, err := pkg.WriteBytes(p, 0o644, nil); err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), `\\`, `\`), p) {
			t.Errorf("WriteBytes(%q): %v", p, err)
		}
		if err := pkg.WriteDir(p, time.Time{}); err == nil {
			t.Errorf("WriteDir(%q): no error", p)
		}
		if err := pkg.WriteSymlink(p, "x", time.Time{}); err == nil {
			t.Errorf("WriteSymlink(%q): no error", p)
		}
	}
	for _, target := range []string{"/abs", "../x", "a/../../x", `C:\x`, `..\x`, ""} {
		if err := pkg.WriteSymlink("link", target, time.Time{}); err == nil || !strings.Contains(err.Error(), "link") {
			t.Errorf("WriteSymlink(link -> %q): %v", target, err)
		}
	}
	if err := pkg.WriteSymlink("lib64", "lib", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pkg.WriteBytes("lib64/libx.so", 0o644, []byte("x")); err == nil || !strings.Contains(err.Error(), "lib64/libx.so") {
		t.Errorf("file beneath a symlink: %v", err)
	}
	if err := pkg.WriteSymlink("lib64/deeper/l", "x", time.Time{}); err == nil {
		t.Errorf("link beneath a symlink: no error")
	}
	if _, err := pkg.WriteBytes("lib64-not-beneath", 0o644, []byte("x")); err != nil {
		t.Errorf("sibling with a common prefix: %v", err)
	}
	_, err = pkg.WriteFile("short", 0o644, 10, time.Time{}, strings.NewReader("abc"))
	if err == nil || !strings.Contains(err.Error(), "short") {
		t.Errorf("source shorter than its size: %v", err)
	}
}

// TestNonASCIIStem: a non-ASCII file name gets the UTF-8 flag, so other readers see the
// member names the way they were written.
func TestNonASCIIStem(t *testing.T) {
	stem := "café-1.0-0"
	data := buildConda(t, stem, condapkg.Options{ModTime: testModTime}, smallContent())
	checkContainer(t, bytes.NewReader(data), int64(len(data)), stem, testModTime, condapkg.Zip64Threshold())
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.NonUTF8 {
			t.Errorf("%s: flagged as not UTF-8", f.Name)
		}
	}
	dir := t.TempDir()
	p := testkit.WriteFile(t, dir, stem+condapkg.Extension, data)
	out := testkit.Run(t, dir, testkit.Python, "-c", "import sys, zipfile; print('|'.join(zipfile.ZipFile(sys.argv[1]).namelist()))", p)
	if got, want := strings.TrimSpace(string(out)), strings.Join([]string{condapkg.MetadataMember, condapkg.PkgMember(stem), condapkg.InfoMember(stem)}, "|"); got != want {
		t.Errorf("Python sees members %q, want %q", got, want)
	}
}

// TestZip64Threshold lowers the 4 GiB threshold to 1 KiB: the pkg member's sizes and the
// info member's offset then need zip64, which every reader must follow.
func TestZip64Threshold(t *testing.T) {
	withZip64Threshold(t, 1024)
	c := smallContent()
	c.tree["share/random.bin"] = testkit.Node{Data: randomBytes(t, 8<<10), Mode: 0o644}
	c.index = map[string]any{"name": "z"} // keep the info member under the threshold
	stem := "zip64-1.0-0"
	dir := t.TempDir()
	path := writeCondaFile(t, dir, stem, condapkg.Options{ModTime: testModTime}, c)
	data := readFile(t, path)

	a := checkContainer(t, bytes.NewReader(data), int64(len(data)), stem, testModTime, 1024)
	pkg, info := a.member(condapkg.PkgMember(stem)), a.member(condapkg.InfoMember(stem))
	if pkg.localExtra != extraZip64 || !pkg.centralZip64 || pkg.needed != versionZip64 {
		t.Errorf("pkg member of %d bytes does not use zip64: %+v", pkg.size, pkg)
	}
	if info.size >= 1024 || info.headerOffset < 1024 || !info.centralZip64 || info.localExtra != 0 || info.needed != versionZip64 {
		t.Errorf("info member should use zip64 for its offset only: %+v", info)
	}
	if meta := a.member(condapkg.MetadataMember); meta.centralZip64 || meta.needed != versionPlain {
		t.Errorf("metadata.json should not use zip64: %+v", meta)
	}
	if !a.zip64End {
		t.Errorf("no zip64 end record")
	}

	// Go's archive/zip, and our Reader on top of it.
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range zr.File {
		m := a.members[i]
		if f.Name != m.name || int64(f.UncompressedSize64) != m.size || f.CRC32 != m.crc || f.Method != zip.Store {
			t.Errorf("archive/zip: %s %d %08x, want %s %d %08x", f.Name, f.UncompressedSize64, f.CRC32, m.name, m.size, m.crc)
		}
		if off, err := f.DataOffset(); err != nil || off != m.dataOffset {
			t.Errorf("archive/zip: %s data at %d (%v), want %d", f.Name, off, err, m.dataOffset)
		}
	}
	checkReaderRoundTrip(t, data, stem, c)

	// Readers that are not ours.
	checkExternalReaders(t, path, stem, c)
}

// TestMemberPastThresholdWithoutZip64: a member that was not opened for zip64 (metadata,
// info) fails instead of writing a broken archive when it passes the threshold.
func TestMemberPastThresholdWithoutZip64(t *testing.T) {
	withZip64Threshold(t, 1024)
	w, err := condapkg.NewWriter(&seekBuffer{}, "big-info-1-0", condapkg.Options{ModTime: testModTime})
	if err != nil {
		t.Fatal(err)
	}
	pkg, _ := w.Pkg()
	if _, err := pkg.WriteBytes("big", 0o644, randomBytes(t, 4096)); err != nil {
		t.Fatalf("the pkg member may pass the threshold: %v", err)
	}
	if err := pkg.Close(); err != nil {
		t.Fatalf("the pkg member may pass the threshold: %v", err)
	}
	info, err := w.Info()
	if err != nil {
		t.Fatal(err)
	}
	_, err = info.WriteBytes("info/huge", 0o644, randomBytes(t, 4096))
	if err == nil {
		err = info.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "4 GiB") {
		t.Fatalf("info member past the threshold: %v, want an error about 4 GiB", err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close after a failed info member: no error")
	}
}

// TestProductionThreshold guards against a test hook leaking into production.
func TestProductionThreshold(t *testing.T) {
	if v := condapkg.Zip64Threshold(); v != 0xffffffff {
		t.Fatalf("zip64Threshold = %#x", v)
	}
	if condapkg.NeedsZip64(0xfffffffe) || !condapkg.NeedsZip64(0xffffffff) || condapkg.Field32(0xffffffff) != 0xffffffff || condapkg.Field32(5) != 5 {
		t.Error("threshold semantics changed")
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]condapkg.Level{"": condapkg.LevelDefault, "default": condapkg.LevelDefault, "fast": condapkg.LevelFast, "max": condapkg.LevelMax} {
		got, err := condapkg.ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, err)
		}
		if in != "" && got.String() != in {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
	if _, err := condapkg.ParseLevel("ultra"); err == nil {
		t.Error("ParseLevel(ultra): no error")
	}
}

func TestMsdosTimeDate(t *testing.T) {
	for _, c := range []struct {
		in         time.Time
		time, date uint16
	}{
		{time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), 7<<11 | 8<<5 | 4, 44<<9 | 5<<5 | 6},
		{time.Date(2024, 5, 6, 9, 8, 9, 0, time.FixedZone("Z", 2*3600)), 7<<11 | 8<<5 | 4, 44<<9 | 5<<5 | 6},
		{time.Time{}, 0, 1<<5 | 1},
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), 0, 1<<5 | 1},
		{time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), 23<<11 | 59<<5 | 29, 127<<9 | 12<<5 | 31},
	} {
		tm, d := condapkg.MsdosTimeDate(c.in)
		if tm != c.time || d != c.date {
			t.Errorf("msdosTimeDate(%v) = %#x %#x, want %#x %#x", c.in, tm, d, c.time, c.date)
		}
	}
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

var errDiskFull = errors.New("disk full")

// failingFile is a WriteSeeker that fails once more than limit bytes were written.
type failingFile struct {
	seekBuffer
	limit int
}

func (f *failingFile) Write(p []byte) (int, error) {
	if int(f.pos)+len(p) > f.limit {
		return 0, errDiskFull
	}
	return f.seekBuffer.Write(p)
}

// TestWriterOutputErrors: a failing output surfaces as an error from whichever call
// reaches it, never as a panic or a silently short archive.
func TestWriterOutputErrors(t *testing.T) {
	write := func(f io.WriteSeeker) error {
		w, err := condapkg.NewWriter(f, "fail-1-0", condapkg.Options{ModTime: testModTime})
		if err != nil {
			return err
		}
		c := sampleContent()
		pkg, err := w.Pkg()
		if err != nil {
			return err
		}
		for _, p := range c.tree.Paths() {
			n := c.tree[p]
			switch {
			case n.Dir:
				err = pkg.WriteDir(p, c.entryTime)
			case n.Link != "":
				err = pkg.WriteSymlink(p, n.Link, c.entryTime)
			default:
				_, err = pkg.WriteBytes(p, n.Mode, n.Data)
			}
			if err != nil {
				pkg.Abort()
				return err
			}
		}
		if err := pkg.Close(); err != nil {
			return err
		}
		info, err := w.Info()
		if err != nil {
			return err
		}
		if _, err := info.WriteBytes("info/index.json", 0o644, []byte("{}")); err != nil {
			info.Abort()
			return err
		}
		if err := info.Close(); err != nil {
			return err
		}
		return w.Close()
	}
	var full seekBuffer
	if err := write(&full); err != nil {
		t.Fatal(err)
	}
	size := len(full.Bytes())
	for _, limit := range []int{10, 100, 1000, 100 << 10, size / 2, size - 200, size - 100, size - 1} {
		err := write(&failingFile{limit: limit})
		if !errors.Is(err, errDiskFull) {
			t.Errorf("output failing after %d bytes: %v", limit, err)
		}
	}
}
