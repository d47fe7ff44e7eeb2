package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/internal/testkit"
)

// readMode says how a test reads file content: through Read with a small buffer (so a
// chunk is handed out in pieces) or through WriteTo, which io.Copy uses.
type readMode int

const (
	viaRead readMode = iota
	viaWriteTo
)

func (m readMode) String() string {
	if m == viaWriteTo {
		return "WriteTo"
	}
	return "Read"
}

// readerOnly hides Reader.WriteTo from io.Copy.
type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }

// collected is what a test read back from a Reader.
type collected struct {
	tree    testkit.Tree // files, symlinks, hard links (as copies of their target) and leaf dirs
	entries []*Entry
}

func (c *collected) names() []string {
	var ns []string
	for _, e := range c.entries {
		ns = append(ns, e.Name)
	}
	return ns
}

// collect reads every entry and its content. It returns the first error other than the
// clean io.EOF at the end; content shorter or longer than Entry.Size is an error too.
func collect(r *Reader, mode readMode) (*collected, error) {
	c := &collected{tree: testkit.Tree{}}
	var dirs []string
	for {
		en, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return c, err
		}
		c.entries = append(c.entries, en)
		switch en.Kind {
		case KindFile:
			var buf bytes.Buffer
			var n int64
			if mode == viaWriteTo {
				n, err = io.Copy(&buf, r)
			} else {
				n, err = io.CopyBuffer(&buf, readerOnly{r}, make([]byte, 1000))
			}
			if err != nil {
				return c, err
			}
			if n != en.Size {
				return c, fmt.Errorf("entry %s: read %d bytes, Entry.Size is %d", en.Name, n, en.Size)
			}
			c.tree[en.Name] = testkit.Node{Data: buf.Bytes(), Mode: en.Mode}
		case KindSymlink:
			c.tree[en.Name] = testkit.Node{Link: en.Link}
		case KindHardlink:
			target, ok := c.tree[en.Link]
			if !ok || target.Link != "" || target.Dir {
				return c, fmt.Errorf("entry %s: hard link to %q, which is not an earlier file", en.Name, en.Link)
			}
			c.tree[en.Name] = target
		case KindDir:
			dirs = append(dirs, en.Name)
		default:
			return c, fmt.Errorf("entry %s: unknown kind %v", en.Name, en.Kind)
		}
	}
	// Directories count only when nothing else implies them, as in testkit.ReadDirTree.
	for _, d := range dirs {
		implied := false
		for _, e := range c.entries {
			if strings.HasPrefix(e.Name, d+"/") {
				implied = true
				break
			}
		}
		if !implied {
			c.tree[d] = testkit.Node{Dir: true}
		}
	}
	return c, nil
}

// collectWithin is collect with a deadline, so that a reader that hangs fails the test
// instead of the whole test binary.
func collectWithin(t testing.TB, r *Reader, mode readMode, d time.Duration) (*collected, error) {
	t.Helper()
	type res struct {
		c   *collected
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := collect(r, mode)
		ch <- res{c, err}
	}()
	select {
	case x := <-ch:
		return x.c, x.err
	case <-time.After(d):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("reading did not finish within %v: a hang\n%s", d, buf)
		return nil, nil
	}
}

// openFile writes data to a temporary file called name and opens it.
func openFile(t testing.TB, name string, data []byte, opts Options) (*Reader, string) {
	t.Helper()
	p := testkit.WriteFile(t, t.TempDir(), name, data)
	r, err := Open(p, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	t.Cleanup(func() { r.Close() })
	return r, p
}

// readArchive opens data as a file called name and reads all of it.
func readArchive(t testing.TB, name string, data []byte, opts Options, mode readMode) (*collected, error) {
	t.Helper()
	r, _ := openFile(t, name, data, opts)
	return collectWithin(t, r, mode, 30*time.Second)
}

// compressor makes one archive format out of an uncompressed tar, with the real CLIs.
type compressor struct {
	name string // also the file suffix
	tool string // "" for a plain tar
	args []string
	fast []string // args for big inputs, where the test needs size rather than ratio
}

var compressors = []compressor{
	{name: "tar"},
	{name: "tar.xz", tool: "xz", args: []string{"-T1", "-6"}, fast: []string{"-T1", "-0"}},
	{name: "tar.gz", tool: "gzip", args: []string{"-6"}, fast: []string{"-1"}},
	{name: "tar.bz2", tool: "bzip2", args: []string{"-9"}, fast: []string{"-1"}},
	{name: "tar.zst", tool: "zstd", args: []string{"-q", "-3"}, fast: []string{"-q", "-1"}},
}

func (c compressor) compress(t testing.TB, tarData []byte) []byte {
	t.Helper()
	if c.tool == "" {
		return tarData
	}
	return testkit.Compress(t, tarData, c.tool, c.args...)
}

func (c compressor) compressFast(t testing.TB, tarData []byte) []byte {
	t.Helper()
	if c.tool == "" {
		return tarData
	}
	return testkit.Compress(t, tarData, c.tool, c.fast...)
}

func compressorFor(t testing.TB, name string) compressor {
	for _, c := range compressors {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no compressor %s", name)
	return compressor{}
}

// tarEntry is one hand-made tar member.
type tarEntry struct {
	name     string
	typ      byte
	data     string
	link     string
	mode     int64
	paxNames bool // force PAX so that any name is stored as given
}

// makeTar writes hand-made entries; it does not clean or check names, so it can build
// the hostile archives the reader must refuse.
func makeTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{
			Typeflag: typ, Name: e.name, Linkname: e.link, Mode: mode,
			ModTime: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC),
		}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.data))
		}
		if e.paxNames {
			hdr.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %q: %v", e.name, err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipEntry is one hand-made zip member.
type zipEntry struct {
	name string
	data string
	mode fs.FileMode // 0 = regular 0644
}

func makeZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)}
		if e.mode != 0 {
			hdr.SetMode(e.mode)
		} else {
			hdr.SetMode(0o644)
		}
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// asciiOnly drops the paths USTAR cannot store.
func asciiOnly(tr testkit.Tree) testkit.Tree {
	out := testkit.Tree{}
	for p, n := range tr {
		ascii := true
		for _, r := range p {
			if r >= 0x80 {
				ascii = false
			}
		}
		if ascii {
			out[p] = n
		}
	}
	return out
}

// withEmptyDir adds an explicit empty directory to a tree.
func withEmptyDir(tr testkit.Tree) testkit.Tree {
	out := testkit.Tree{}
	for p, n := range tr {
		out[p] = n
	}
	out["share/empty-dir"] = testkit.Node{Dir: true}
	return out
}

// waitGoroutines waits for the goroutine count to come back to at most n.
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want at most %d: a reader goroutine leaked\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mustFail checks that err is a real failure (not nil, not the clean end) that mentions
// every one of the words.
func mustFail(t testing.TB, err error, words ...string) {
	t.Helper()
	if err == nil || err == io.EOF {
		t.Fatalf("got %v, want an error", err)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

// checkEntryInvariants checks what every Entry promises, whatever the input was.
func checkEntryInvariants(t testing.TB, entries []*Entry) {
	t.Helper()
	files := map[string]bool{}
	for _, e := range entries {
		if e.Name == "" || e.Name != path.Clean(e.Name) || path.IsAbs(e.Name) || e.Name == ".." ||
			strings.HasPrefix(e.Name, "../") || strings.Contains(e.Name, "\\") || strings.ContainsRune(e.Name, 0) {
			t.Fatalf("entry name %q is not relative and clean", e.Name)
		}
		if e.Mode&^0o777 != 0 {
			t.Fatalf("entry %s: mode %v has more than permission bits", e.Name, e.Mode)
		}
		switch e.Kind {
		case KindFile:
			files[e.Name] = true
			if e.Size < 0 {
				t.Fatalf("entry %s: size %d", e.Name, e.Size)
			}
		case KindHardlink:
			if !files[e.Link] {
				t.Fatalf("entry %s: hard link to %q, which is not an earlier file", e.Name, e.Link)
			}
		case KindDir, KindSymlink:
		default:
			t.Fatalf("entry %s: kind %v", e.Name, e.Kind)
		}
	}
}
