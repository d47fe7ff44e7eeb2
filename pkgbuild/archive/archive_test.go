package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/condachan/condachan/internal/testkit"
)

var sampleModTime = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// TestRoundTrip packs testkit.SampleTree in every format and layout and reads it back.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	type layout struct {
		top        string
		dirEntries bool
		emptyDir   bool
	}
	layouts := []layout{
		{},
		{dirEntries: true},
		{top: "pkg-1.0", dirEntries: true, emptyDir: true},
		{top: "pkg-1.0"},
		{emptyDir: true},
	}
	type archiveCase struct {
		name string
		want testkit.Tree
		data []byte
		file string
	}
	var cases []archiveCase
	for i, l := range layouts {
		tree := testkit.SampleTree()
		if l.emptyDir {
			tree = withEmptyDir(tree)
		}
		want := tree
		if l.top != "" {
			want = tree.Prefixed(l.top)
		}
		label := fmt.Sprintf("top=%q/dirs=%v/emptydir=%v", l.top, l.dirEntries, l.emptyDir)
		tarData := tree.Tar(t, testkit.TarOptions{Top: l.top, DirEntries: l.dirEntries || l.emptyDir})
		for _, c := range compressors {
			if c.tool != "" && i%2 == 1 {
				continue // the layout is the tar's business: every one is read as a plain tar
			}
			cases = append(cases, archiveCase{name: c.name + "/" + label, want: want, data: c.compress(t, tarData), file: "src." + c.name})
		}
		if !l.dirEntries { // a zip has directory entries only for explicit directories
			cases = append(cases, archiveCase{name: "zip/" + label, want: want, data: tree.Zip(t, l.top), file: "src.zip"})
		}
	}
	for _, f := range []tar.Format{tar.FormatUSTAR, tar.FormatPAX, tar.FormatGNU} {
		tree := testkit.SampleTree()
		if f == tar.FormatUSTAR {
			tree = asciiOnly(tree) // USTAR has no room for non-ASCII names
		}
		for _, top := range []string{"", "top"} {
			want := tree
			if top != "" {
				want = tree.Prefixed(top)
			}
			data := tree.Tar(t, testkit.TarOptions{Top: top, DirEntries: true, Format: f})
			cases = append(cases, archiveCase{name: fmt.Sprintf("tar-%v/top=%q", f, top), want: want, data: data, file: "src.tar"})
		}
	}
	// Detection is by magic bytes, never by the name.
	gz := compressorFor(t, "tar.gz").compress(t, testkit.SampleTree().Tar(t, testkit.TarOptions{}))
	cases = append(cases, archiveCase{name: "misnamed-gz", want: testkit.SampleTree(), data: gz, file: "download.zip"})

	for i, c := range cases {
		modes := []readMode{viaRead, viaWriteTo}
		if !strings.Contains(c.name, `top=""/dirs=false/emptydir=false`) {
			modes = modes[i%2 : i%2+1] // both ways for the plain layout, one way for the rest
		}
		for _, mode := range modes {
			t.Run(c.name+"/"+mode.String(), func(t *testing.T) {
				got, err := readArchive(t, c.file, c.data, Options{SHA256: testkit.SHA256(c.data)}, mode)
				if err != nil {
					t.Fatal(err)
				}
				if d := testkit.Diff(c.want, got.tree); d != "" {
					t.Fatalf("read back differs:\n%s", d)
				}
				checkEntryInvariants(t, got.entries)
				seen := map[string]bool{}
				for _, e := range got.entries {
					if seen[e.Name] {
						t.Errorf("entry %s appears twice", e.Name)
					}
					seen[e.Name] = true
					if !e.ModTime.Equal(sampleModTime) {
						t.Errorf("entry %s: mod time %v, want %v", e.Name, e.ModTime, sampleModTime)
					}
					if w := c.want[e.Name]; e.Kind == KindFile && e.Mode != w.Mode {
						t.Errorf("entry %s: mode %v, want %v", e.Name, e.Mode, w.Mode)
					}
				}
			})
		}
	}
}

// TestDirectorySource reads a folder, through Open and through OpenFS, in lexical order.
func TestDirectorySource(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "src")
	tree := withEmptyDir(testkit.SampleTree())
	tree.WriteDir(t, dir)
	// The order fs.WalkDir gives (lexical within each folder) is the contract.
	var wantOrder []string
	if err := fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." {
			wantOrder = append(wantOrder, p)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	open := map[string]func() (*Reader, error){
		"Open(dir)":             func() (*Reader, error) { return Open(dir, Options{}) },
		"Open(dir/)":            func() (*Reader, error) { return Open(dir+string(filepath.Separator), Options{}) },
		"OpenFS(DirFS(dir),.)":  func() (*Reader, error) { return OpenFS(os.DirFS(dir), ".", Options{}) },
		"OpenFS(DirFS(parent))": func() (*Reader, error) { return OpenFS(os.DirFS(parent), "src", Options{}) },
		"Open(symlink-to-dir)":  func() (*Reader, error) { return Open(linkTo(t, dir), Options{}) },
	}
	for name, op := range open {
		for _, mode := range []readMode{viaRead, viaWriteTo} {
			t.Run(name+"/"+mode.String(), func(t *testing.T) {
				r, err := op()
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				got, err := collectWithin(t, r, mode, 30*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if d := testkit.Diff(tree, got.tree); d != "" {
					t.Fatalf("read back differs:\n%s", d)
				}
				if !slices.Equal(got.names(), wantOrder) {
					t.Fatalf("order:\n got %q\nwant %q", got.names(), wantOrder)
				}
				checkEntryInvariants(t, got.entries)
				for _, e := range got.entries {
					switch {
					case e.Name == "share/link-to-data" && (e.Kind != KindSymlink || e.Link != "data"):
						t.Errorf("symlink to a folder: got %v -> %q", e.Kind, e.Link)
					case e.Name == "lib" && e.Kind != KindDir:
						t.Errorf("lib is a %v", e.Kind)
					case e.Kind == KindFile && e.Mode != tree[e.Name].Mode:
						t.Errorf("%s: mode %v, want %v", e.Name, e.Mode, tree[e.Name].Mode)
					}
				}
			})
		}
	}

	t.Run("MapFS", func(t *testing.T) {
		fsys := fstest.MapFS{
			"b/x.txt":  {Data: []byte("x"), Mode: 0o644},
			"a/run":    {Data: []byte("#!/bin/sh\n"), Mode: 0o755},
			"a/link":   {Data: []byte("run"), Mode: fs.ModeSymlink | 0o777},
			"a-c.txt":  {Data: []byte("dash"), Mode: 0o644},
			"empty":    {Mode: fs.ModeDir | 0o755},
			"z/y/w.so": {Data: bytes.Repeat([]byte{1}, 600<<10), Mode: 0o755},
		}
		r, err := OpenFS(fsys, ".", Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := collectWithin(t, r, viaWriteTo, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"a", "a/link", "a/run", "a-c.txt", "b", "b/x.txt", "empty", "z", "z/y", "z/y/w.so"}
		if !slices.Equal(got.names(), want) {
			t.Fatalf("order:\n got %q\nwant %q", got.names(), want)
		}
		wantTree := testkit.Tree{
			"a/run": {Data: []byte("#!/bin/sh\n"), Mode: 0o755}, "a/link": {Link: "run"},
			"a-c.txt": {Data: []byte("dash"), Mode: 0o644}, "b/x.txt": {Data: []byte("x"), Mode: 0o644},
			"empty": {Dir: true}, "z/y/w.so": {Data: bytes.Repeat([]byte{1}, 600<<10), Mode: 0o755},
		}
		if d := testkit.Diff(wantTree, got.tree); d != "" {
			t.Fatal(d)
		}
	})

	t.Run("sha256 on a directory", func(t *testing.T) {
		if r, err := Open(dir, Options{SHA256: strings.Repeat("0", 64)}); err == nil {
			r.Close()
			t.Fatal("a sha256 for a directory source was accepted")
		}
	})

	t.Run("DirSize", func(t *testing.T) {
		var want int64
		for _, n := range tree {
			if n.Link == "" && !n.Dir {
				want += int64(len(n.Data))
			}
		}
		if got := DirSize(os.DirFS(dir), "."); got != want {
			t.Fatalf("DirSize = %d, want %d", got, want)
		}
	})
}

func linkTo(t *testing.T, target string) string {
	p := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSkipAndPartialReads leaves content unread or half read: Next must skip the rest and
// the following entries must be intact.
func TestSkipAndPartialReads(t *testing.T) {
	t.Parallel()
	big := testkit.Tree{
		"a.bin":   {Data: randomData(1, 3<<20), Mode: 0o644}, // many chunks
		"b.txt":   {Data: []byte("b"), Mode: 0o644},
		"c.bin":   {Data: randomData(2, 700<<10), Mode: 0o755},
		"d/e.txt": {Data: []byte("eeee"), Mode: 0o644},
		"f.bin":   {Data: randomData(3, 5<<20), Mode: 0o644},
		"g":       {Link: "b.txt"},
	}
	tarData := big.Tar(t, testkit.TarOptions{})
	sources := map[string][]byte{
		"x.tar":     tarData,
		"x.tar.zst": compressorFor(t, "tar.zst").compressFast(t, tarData),
		"x.zip":     big.Zip(t, ""),
	}
	for name, data := range sources {
		t.Run(name, func(t *testing.T) {
			r, _ := openFile(t, name, data, Options{})
			i := 0
			for {
				en, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				want := big[en.Name]
				switch i % 3 {
				case 0: // skip all content
				case 1: // read a little, across a chunk boundary for the big ones
					n := min(len(want.Data), chunkSize+17)
					buf := make([]byte, n)
					if _, err := io.ReadFull(r, buf); err != nil {
						t.Fatalf("%s: %v", en.Name, err)
					}
					if !bytes.Equal(buf, want.Data[:n]) {
						t.Fatalf("%s: first %d bytes differ", en.Name, n)
					}
				case 2: // read everything, then Read again at the end
					got, err := io.ReadAll(r)
					if err != nil {
						t.Fatalf("%s: %v", en.Name, err)
					}
					if !bytes.Equal(got, want.Data) {
						t.Fatalf("%s: content differs", en.Name)
					}
					if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
						t.Fatalf("%s: Read after the end = %d, %v", en.Name, n, err)
					}
				}
				i++
			}
			if i != len(big) {
				t.Fatalf("%d entries, want %d", i, len(big))
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("Next after the end: %v, want io.EOF again", err)
			}
		})
	}
}

// wordData is text-like data: it compresses, and decompresses quickly, in every format.
func wordData(seed int64, n int) []byte {
	words := strings.Fields("render farm conda channel blender houdini nuke package archive stream entry zstd frame lease")
	rng := rand.New(rand.NewSource(seed))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[rng.Intn(len(words))])
		b.WriteByte(" \n"[rng.Intn(2)])
	}
	return b.Bytes()[:n]
}

// smallSample is testkit.SampleTree with its big binaries cut down, for tests that read
// an archive many times.
func smallSample() testkit.Tree {
	tr := testkit.SampleTree()
	for p, n := range tr {
		if len(n.Data) > 8<<10 {
			n.Data = n.Data[:8<<10]
			tr[p] = n
		}
	}
	return tr
}

func randomData(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// TestChecksum checks the sha256 verification of every format.
func TestChecksum(t *testing.T) {
	t.Parallel()
	tree := testkit.SampleTree()
	tarData := tree.Tar(t, testkit.TarOptions{Top: "t"})
	formats := map[string][]byte{"src.zip": tree.Zip(t, "t")}
	for _, c := range compressors {
		formats["src."+c.name] = c.compress(t, tarData)
	}
	for name, data := range formats {
		sum := testkit.SHA256(data)
		t.Run(name+"/right", func(t *testing.T) {
			for _, s := range []string{sum, strings.ToUpper(sum)} {
				got, err := readArchive(t, name, data, Options{SHA256: s}, viaWriteTo)
				if err != nil {
					t.Fatal(err)
				}
				if d := testkit.Diff(tree.Prefixed("t"), got.tree); d != "" {
					t.Fatal(d)
				}
			}
		})
		t.Run(name+"/wrong", func(t *testing.T) {
			wrong := testkit.SHA256([]byte("something else"))
			r, p := openFile(t, name, data, Options{SHA256: strings.ToUpper(wrong)})
			got, err := collectWithin(t, r, viaRead, 30*time.Second)
			var ce *ChecksumError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *ChecksumError", err)
			}
			if ce.Expected != wrong || ce.Actual != sum || ce.Path != p {
				t.Fatalf("ChecksumError{%q, %q, %q}, want {%q, %q, %q}", ce.Path, ce.Expected, ce.Actual, p, wrong, sum)
			}
			mustFail(t, err, p, wrong, sum, "sha256")
			if strings.HasSuffix(name, ".zip") && len(got.entries) != 0 {
				t.Fatalf("a zip with a wrong sha256 gave %d entries before the error; it must be checked first", len(got.entries))
			}
			// The error sticks.
			if _, err2 := r.Next(); !errors.As(err2, &ce) {
				t.Fatalf("Next after the checksum error: %v", err2)
			}
		})
		md5sum := fmt.Sprintf("%x", md5.Sum(data))
		t.Run(name+"/md5", func(t *testing.T) {
			if _, err := readArchive(t, name, data, Options{SHA256: sum, MD5: md5sum}, viaRead); err != nil {
				t.Fatalf("right sha256 and md5: %v", err)
			}
			wrong := fmt.Sprintf("%x", md5.Sum([]byte("something else")))
			_, err := readArchive(t, name, data, Options{SHA256: sum, MD5: wrong}, viaRead)
			var ce *ChecksumError
			if !errors.As(err, &ce) || ce.Algorithm != "md5" || ce.Expected != wrong || ce.Actual != md5sum {
				t.Fatalf("right sha256, wrong md5: got %v, want an md5 *ChecksumError", err)
			}
			mustFail(t, err, "md5 mismatch", wrong, md5sum)
		})
	}
}

// TestContextCancel checks that a caller blocked in Next or Read returns when its
// context ends, even though the source never delivers another byte.
func TestContextCancel(t *testing.T) {
	t.Parallel()
	for _, blockIn := range []string{"Next", "Read"} {
		t.Run(blockIn, func(t *testing.T) {
			dir := t.TempDir()
			fifo := filepath.Join(dir, "stuck.tar")
			if err := mkfifo(fifo); err != nil {
				t.Skipf("no named pipes here: %v", err)
			}
			// Feed the first entry's header and part of its content, then stall.
			data := makeTar(t, tarEntry{name: "a", typ: tar.TypeReg, data: strings.Repeat("x", 1<<20), mode: 0o644})
			stall := make(chan struct{})
			defer close(stall)
			go func() {
				w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
				if err != nil {
					return
				}
				defer w.Close()
				n := 512
				if blockIn == "Read" {
					n = 512 + 4096
				}
				w.Write(data[:n])
				<-stall
			}()
			ctx, cancel := context.WithCancel(context.Background())
			r, err := Open(fifo, Options{Context: ctx})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			time.AfterFunc(200*time.Millisecond, cancel)
			done := make(chan error, 1)
			go func() {
				if blockIn == "Next" {
					_, err := r.Next()
					if err == nil {
						_, err = r.Next()
					}
					done <- err
					return
				}
				if _, err := r.Next(); err != nil {
					done <- err
					return
				}
				_, err := io.Copy(io.Discard, r)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("got %v, want context.Canceled", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the reader did not return after its context was cancelled")
			}
		})
	}
}

// TestCorruptCompressed truncates and damages archives: every read must end in an error,
// never a hang, a panic or a clean io.EOF.
func TestCorruptCompressed(t *testing.T) {
	t.Parallel()
	tree := smallSample()
	tarData := tree.Tar(t, testkit.TarOptions{Top: "pkg", DirEntries: true})
	type corruptCase struct {
		name     string // file name suffix
		data     []byte
		extraCut []int
		flips    bool // whether damage is detectable without a sha256
	}
	var cases []corruptCase
	for _, c := range compressors {
		cc := corruptCase{name: c.name, data: c.compress(t, tarData), flips: c.tool != ""}
		if c.tool == "" {
			// A plain tar cut at a block boundary has no decoder to notice; only the
			// missing end-of-archive marker tells. (Cut after the first of its two zero
			// blocks, it is accepted, as GNU tar and archive/tar accept it.)
			cc.extraCut = []int{512, 1024, len(tarData) - 1024, len(tarData) / 1024 * 512}
		}
		cases = append(cases, cc)
	}
	cases = append(cases, corruptCase{name: "zip", data: tree.Zip(t, "pkg"), flips: true})

	for _, c := range cases {
		file := "src." + c.name
		n := len(c.data)
		cuts := append([]int{1, 3, 7, 12, 13, 20, 100, 600, n / 4, n / 2, n - 4096, n - 100}, c.extraCut...)
		for _, cut := range cuts {
			if cut <= 0 || cut >= n {
				continue
			}
			t.Run(fmt.Sprintf("%s/truncated-%d-of-%d", c.name, cut, n), func(t *testing.T) {
				for _, mode := range []readMode{viaRead, viaWriteTo} {
					_, err := readArchive(t, file, c.data[:cut], Options{}, mode)
					mustFail(t, err, file, "truncated")
					if c.name != "zip" && !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Errorf("error %q is not io.ErrUnexpectedEOF", err)
					}
				}
				// With the recipe's sha256 the answer is the mismatch; for a tar it also
				// keeps the decoder's error (a zip is hashed before it is read).
				_, err := readArchive(t, file, c.data[:cut], Options{SHA256: testkit.SHA256(c.data)}, viaWriteTo)
				var ce *ChecksumError
				if !errors.As(err, &ce) || (c.name != "zip" && !errors.Is(err, io.ErrUnexpectedEOF)) {
					t.Errorf("with the sha256: got %v, want a *ChecksumError (wrapping io.ErrUnexpectedEOF)", err)
				}
			})
		}
		// The end of a compressed file is its trailer (xz index and footer, gzip CRC and
		// size, zstd checksum, zip directory); a cut anywhere in it must be noticed too,
		// though the tar inside is complete. (xz cut right at its index once passed.)
		t.Run(c.name+"/every-cut-in-the-last-48-bytes", func(t *testing.T) {
			for cut := max(1, n-48); cut < n; cut++ {
				_, err := readArchive(t, file, c.data[:cut], Options{}, viaWriteTo)
				if err == nil || err == io.EOF || !strings.Contains(err.Error(), "truncated") {
					t.Errorf("cut at %d of %d: got %v, want an error saying it is truncated", cut, n, err)
				}
			}
		})
		for _, pos := range []int{n / 3, n / 2, 2 * n / 3} {
			for _, flip := range []byte{0x01, 0x80, 0xff} {
				bad := bytes.Clone(c.data)
				bad[pos] ^= flip
				t.Run(fmt.Sprintf("%s/flip-%#x-at-%d", c.name, flip, pos), func(t *testing.T) {
					if c.flips {
						_, err := readArchive(t, file, bad, Options{}, viaWriteTo)
						mustFail(t, err, file)
					}
					_, err := readArchive(t, file, bad, Options{SHA256: testkit.SHA256(c.data)}, viaRead)
					var ce *ChecksumError
					if !errors.As(err, &ce) {
						t.Errorf("with the sha256: got %v, want a *ChecksumError", err)
					}
				})
			}
		}
	}
	t.Run("xz index damaged", func(t *testing.T) {
		data := compressorFor(t, "tar.xz").compress(t, tarData)
		bad := bytes.Clone(data)
		bad[len(bad)-20] ^= 0x55 // in the index, after all of the tar
		_, err := readArchive(t, "src.tar.xz", bad, Options{}, viaWriteTo)
		mustFail(t, err, "src.tar.xz")
	})
	t.Run("trailing garbage after xz", func(t *testing.T) {
		data := append(compressorFor(t, "tar.xz").compress(t, tarData), "garbage!"...)
		_, err := readArchive(t, "src.tar.xz", data, Options{}, viaWriteTo)
		mustFail(t, err, "src.tar.xz")
	})
}

// TestTruncatedXZ checks the words a user sees for the common case: a partial download of
// a .tar.xz made by xz-utils.
func TestTruncatedXZ(t *testing.T) {
	t.Parallel()
	data := testkit.Compress(t, testkit.SampleTree().Tar(t, testkit.TarOptions{Top: "blender-4.1.1-linux-x64"}), "xz", "-T1")
	for _, cut := range []int{len(data) / 2, len(data) - 1, 500, 20, 13, 12, 5} {
		_, err := readArchive(t, "blender.tar.xz", data[:cut], Options{}, viaWriteTo)
		mustFail(t, err, "blender.tar.xz", "truncated")
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: %v is not io.ErrUnexpectedEOF", cut, err)
		}
	}
}

// TestUnsafeEntries refuses names that would leave the prefix, links that point outside or
// forward, and entries a package cannot hold; the error names the entry.
func TestUnsafeEntries(t *testing.T) {
	ok := tarEntry{name: "pkg/ok.txt", data: "fine"}
	cases := []struct {
		name    string
		entries []tarEntry
		mention string
	}{
		{"dotdot", []tarEntry{{name: "../evil", data: "x"}}, "../evil"},
		{"dotdot-inside", []tarEntry{{name: "a/../../evil", data: "x"}}, "a/../../evil"},
		{"dotdot-after-dot", []tarEntry{{name: "./../evil", data: "x"}}, "./../evil"},
		{"dotdot-dir", []tarEntry{{name: "pkg/../../", typ: tar.TypeDir}}, "pkg/../../"},
		{"absolute", []tarEntry{{name: "/etc/passwd", data: "x"}}, "/etc/passwd"},
		{"drive", []tarEntry{{name: "C:/x", data: "x"}}, "C:/x"},
		{"drive-backslash", []tarEntry{{name: `C:\x`, data: "x", paxNames: true}}, `C:\x`},
		{"backslash-dotdot", []tarEntry{{name: `a\..\..\evil`, data: "x", paxNames: true}}, `a\..\..\evil`},
		{"dotdot-symlink", []tarEntry{{name: "../link", typ: tar.TypeSymlink, link: "x"}}, "../link"},
		{"hardlink-outside", []tarEntry{{name: "pkg/h", typ: tar.TypeLink, link: "../../etc/passwd"}}, "pkg/h"},
		{"hardlink-absolute", []tarEntry{{name: "pkg/h", typ: tar.TypeLink, link: "/etc/passwd"}}, "pkg/h"},
		{"hardlink-forward", []tarEntry{{name: "pkg/h", typ: tar.TypeLink, link: "pkg/later"}, {name: "pkg/later", data: "x"}}, "pkg/h"},
		{"hardlink-missing", []tarEntry{{name: "pkg/h", typ: tar.TypeLink, link: "pkg/nothing"}}, "pkg/h"},
		{"hardlink-to-dir", []tarEntry{{name: "pkg/d/", typ: tar.TypeDir}, {name: "pkg/h", typ: tar.TypeLink, link: "pkg/d"}}, "pkg/h"},
		{"hardlink-to-symlink", []tarEntry{{name: "pkg/s", typ: tar.TypeSymlink, link: "ok.txt"}, {name: "pkg/h", typ: tar.TypeLink, link: "pkg/s"}}, "pkg/h"},
		{"hardlink-to-self", []tarEntry{{name: "pkg/h", typ: tar.TypeLink, link: "pkg/h"}}, "pkg/h"},
		{"char-device", []tarEntry{{name: "pkg/null", typ: tar.TypeChar}}, "pkg/null"},
		{"block-device", []tarEntry{{name: "pkg/sda", typ: tar.TypeBlock}}, "pkg/sda"},
		{"fifo", []tarEntry{{name: "pkg/fifo", typ: tar.TypeFifo}}, "pkg/fifo"},
	}
	for _, c := range cases {
		for _, comp := range []string{"tar", "tar.gz"} {
			t.Run(c.name+"/"+comp, func(t *testing.T) {
				data := compressorFor(t, comp).compress(t, makeTar(t, append([]tarEntry{ok}, c.entries...)...))
				r, _ := openFile(t, "bad."+comp, data, Options{})
				got, err := collectWithin(t, r, viaRead, 30*time.Second)
				mustFail(t, err, c.mention, "bad."+comp)
				checkEntryInvariants(t, got.entries)
				if len(got.entries) == 0 || got.entries[0].Name != "pkg/ok.txt" {
					t.Fatalf("the safe entry before the bad one was not delivered: %q", got.names())
				}
			})
		}
	}

	zipCases := []struct{ name, entry string }{
		{"dotdot", "../evil"},
		{"dotdot-inside", "a/../../evil"},
		{"absolute", "/etc/passwd"},
		{"backslash", `..\evil`},
		{"drive", "C:/evil"},
		{"nul-byte", "a\x00b"},
	}
	for _, c := range zipCases {
		t.Run("zip/"+c.name, func(t *testing.T) {
			data := makeZip(t, zipEntry{name: "ok.txt", data: "fine"}, zipEntry{name: c.entry, data: "x"})
			_, err := readArchive(t, "bad.zip", data, Options{}, viaRead)
			mustFail(t, err, quote(c.entry), "bad.zip")
		})
	}
	// With the stricter GODEBUG settings, archive/tar and archive/zip refuse such names
	// themselves; the error must still name the entry.
	t.Run("GODEBUG=tarinsecurepath=0,zipinsecurepath=0", func(t *testing.T) {
		t.Setenv("GODEBUG", "tarinsecurepath=0,zipinsecurepath=0")
		_, err := readArchive(t, "bad.tar", makeTar(t, ok, tarEntry{name: "../evil", data: "x"}), Options{}, viaRead)
		mustFail(t, err, `"../evil"`)
		_, err = readArchive(t, "bad.zip", makeZip(t, zipEntry{name: "ok.txt"}, zipEntry{name: "../evil"}), Options{}, viaRead)
		mustFail(t, err, `"../evil"`)
	})
	t.Run("zip/fifo", func(t *testing.T) {
		data := makeZip(t, zipEntry{name: "pipe", mode: fs.ModeNamedPipe | 0o644})
		_, err := readArchive(t, "bad.zip", data, Options{}, viaRead)
		mustFail(t, err, "pipe")
	})

	t.Run("directory with a FIFO", func(t *testing.T) {
		dir := t.TempDir()
		testkit.WriteFile(t, dir, "a.txt", []byte("a"))
		if err := mkfifo(filepath.Join(dir, "fifo")); errors.Is(err, errors.ErrUnsupported) {
			t.Skip("this OS has no FIFOs")
		} else if err != nil {
			t.Fatal(err)
		}
		r, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		_, err = collectWithin(t, r, viaRead, 30*time.Second)
		mustFail(t, err, "fifo")
	})
}

// TestHardlinks reads hard links as KindHardlink naming an earlier file, also through a
// chain of links and with "./" spellings.
func TestHardlinks(t *testing.T) {
	data := makeTar(t,
		tarEntry{name: "./pkg/", typ: tar.TypeDir},
		tarEntry{name: "./pkg/bin/tool", data: "binary", mode: 0o755},
		tarEntry{name: "./pkg/bin/tool2", typ: tar.TypeLink, link: "./pkg/bin/tool"},
		tarEntry{name: "pkg/bin/tool3", typ: tar.TypeLink, link: "pkg/bin/tool2"},
		tarEntry{name: "pkg/lib/x", typ: tar.TypeLink, link: "pkg//bin/./tool"},
	)
	for _, comp := range []string{"tar", "tar.xz"} {
		got, err := readArchive(t, "links."+comp, compressorFor(t, comp).compress(t, data), Options{}, viaRead)
		if err != nil {
			t.Fatal(err)
		}
		checkEntryInvariants(t, got.entries)
		want := map[string]string{"pkg/bin/tool2": "pkg/bin/tool", "pkg/bin/tool3": "pkg/bin/tool", "pkg/lib/x": "pkg/bin/tool"}
		for _, e := range got.entries {
			if w, ok := want[e.Name]; ok && (e.Kind != KindHardlink || e.Link != w) {
				t.Errorf("%s: %v -> %q, want a hard link to %q", e.Name, e.Kind, e.Link, w)
			}
		}
		if d := testkit.Diff(testkit.Tree{
			"pkg/bin/tool":  {Data: []byte("binary"), Mode: 0o755},
			"pkg/bin/tool2": {Data: []byte("binary"), Mode: 0o755},
			"pkg/bin/tool3": {Data: []byte("binary"), Mode: 0o755},
			"pkg/lib/x":     {Data: []byte("binary"), Mode: 0o755},
		}, got.tree); d != "" {
			t.Fatal(d)
		}
	}
}

// TestCloseMidStream closes readers at every stage; Close must return at once and the
// reading goroutine must be gone. It counts goroutines, so it must not be parallel (the
// parallel tests of this package are paused while it runs).
func TestCloseMidStream(t *testing.T) {
	big := testkit.Tree{
		"a.txt":     {Data: []byte("small"), Mode: 0o644},
		"b.txt":     {Data: []byte("small"), Mode: 0o644},
		"c/d.txt":   {Data: []byte("small"), Mode: 0o644},
		"c/e/f.bin": {Data: wordData(5, 5<<20), Mode: 0o644}, // more than the read-ahead
		"g.txt":     {Data: []byte("after"), Mode: 0o644},
	}
	tarData := big.Tar(t, testkit.TarOptions{Top: "top"})
	tmp := t.TempDir()
	sources := map[string]string{}
	for _, c := range compressors {
		sources[c.name] = testkit.WriteFile(t, tmp, "big."+c.name, c.compressFast(t, tarData))
	}
	sources["zip"] = testkit.WriteFile(t, tmp, "big.zip", big.Zip(t, "top"))
	sums := map[string]string{}
	for name, p := range sources {
		sums[name] = sumIfFile(t, p)
	}
	sources["dir"] = filepath.Join(tmp, "dir")
	big.WriteDir(t, sources["dir"])
	stages := []struct {
		name string
		do   func(t *testing.T, r *Reader)
	}{
		{"right after Open", func(t *testing.T, r *Reader) {}},
		{"after one Next", func(t *testing.T, r *Reader) { next(t, r) }},
		{"inside a big file, content unread", func(t *testing.T, r *Reader) {
			for !strings.HasSuffix(next(t, r).Name, ".bin") {
			}
		}},
		{"inside a big file, partly read", func(t *testing.T, r *Reader) {
			for !strings.HasSuffix(next(t, r).Name, ".bin") {
			}
			if _, err := io.ReadFull(r, make([]byte, 3*chunkSize+5)); err != nil {
				t.Fatal(err)
			}
		}},
		{"after a few entries", func(t *testing.T, r *Reader) {
			for i := 0; i < 3; i++ {
				next(t, r)
			}
		}},
		{"after the end", func(t *testing.T, r *Reader) {
			if _, err := collect(r, viaWriteTo); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for name, p := range sources {
		for _, st := range stages {
			t.Run(name+"/"+st.name, func(t *testing.T) {
				before := runtime.NumGoroutine()
				r, err := Open(p, Options{SHA256: sums[name]})
				if err != nil {
					t.Fatal(err)
				}
				st.do(t, r)
				time.Sleep(5 * time.Millisecond) // let the producer fill the read-ahead and block
				start := time.Now()
				closed := make(chan struct{})
				go func() { r.Close(); close(closed) }()
				select {
				case <-closed:
				case <-time.After(10 * time.Second):
					t.Fatal("Close did not return")
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("Close took %v", d)
				}
				if err := r.Close(); err != nil {
					t.Errorf("second Close: %v", err)
				}
				waitGoroutines(t, before)
			})
		}
	}
}

func next(t *testing.T, r *Reader) *Entry {
	t.Helper()
	en, err := r.Next()
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return en
}

func sumIfFile(t *testing.T, p string) string {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.IsDir() {
		return ""
	}
	s, err := SHA256File(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestUseAfterClose: Next, Read and WriteTo on a closed Reader fail instead of blocking.
func TestUseAfterClose(t *testing.T) {
	data := testkit.SampleTree().Tar(t, testkit.TarOptions{})
	for _, stage := range []string{"fresh", "in a file"} {
		t.Run(stage, func(t *testing.T) {
			r, _ := openFile(t, "x.tar", data, Options{})
			if stage == "in a file" {
				for next(t, r).Kind != KindFile {
				}
			}
			r.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				if _, err := r.Next(); err == nil || err == io.EOF {
					t.Errorf("Next after Close: %v, want an error", err)
				}
				if _, err := r.Read(make([]byte, 10)); err == nil || err == io.EOF {
					t.Errorf("Read after Close: %v, want an error", err)
				}
				if _, err := r.WriteTo(io.Discard); err == nil {
					t.Errorf("WriteTo after Close: %v, want an error", err)
				}
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("use after Close hangs")
			}
		})
	}
}

// TestUnknownFormats gives clear errors for what is not an archive.
func TestUnknownFormats(t *testing.T) {
	sevenZip := append([]byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c, 0, 4}, randomData(7, 200)...)
	cases := []struct {
		file  string
		data  []byte
		words []string
	}{
		{"empty.tar.xz", nil, []string{"empty.tar.xz", "empty"}},
		{"random.bin", randomData(8, 5000), []string{"random.bin", "unknown archive format"}},
		{"small.tar.gz", []byte("<html>404 Not Found</html>"), []string{"small.tar.gz", "unknown archive format"}},
		{"release.7z", sevenZip, []string{"release.7z", "7-Zip"}},
		{"random.tar", randomData(9, 5000), []string{"random.tar", "tar"}},
		{"short.tar", []byte("x"), []string{"short.tar"}},
		{"magic-only.tar.xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0}, []string{"magic-only.tar.xz"}},
		{"half-magic.tar.xz", []byte{0xfd, '7', 'z'}, []string{"half-magic.tar.xz", "truncated"}},
		{"magic-only.tar.zst", []byte{0x28, 0xb5, 0x2f, 0xfd}, []string{"magic-only.tar.zst"}},
		{"magic-only.tar.gz", []byte{0x1f, 0x8b}, []string{"magic-only.tar.gz"}},
		{"magic-only.tar.bz2", []byte("BZh"), []string{"magic-only.tar.bz2"}},
		{"magic-only.zip", []byte("PK\x03\x04"), []string{"magic-only.zip"}},
		{"gz-of-text.tar.gz", testkit.Compress(t, []byte(strings.Repeat("not a tar\n", 100)), "gzip"), []string{"gz-of-text.tar.gz", "tar"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			p := testkit.WriteFile(t, t.TempDir(), c.file, c.data)
			r, err := Open(p, Options{})
			if err == nil {
				defer r.Close()
				var got *collected
				got, err = collectWithin(t, r, viaRead, 30*time.Second)
				if got != nil && len(got.entries) > 0 {
					t.Errorf("entries %q from a non-archive", got.names())
				}
			}
			mustFail(t, err, c.words...)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := Open(filepath.Join(t.TempDir(), "nope.tar.xz"), Options{})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("got %v, want fs.ErrNotExist", err)
		}
		_, err = OpenFS(os.DirFS(t.TempDir()), "nope.tar.xz", Options{})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("OpenFS: got %v, want fs.ErrNotExist", err)
		}
	})
}

// TestProgress checks that Progress rises and ends at the size of the source.
func TestProgress(t *testing.T) {
	t.Parallel()
	tree := testkit.SampleTree()
	tree["big.bin"] = testkit.Node{Data: randomData(11, 5<<19), Mode: 0o644} // several ticks
	tarData := tree.Tar(t, testkit.TarOptions{})
	files := map[string][]byte{"src.zip": tree.Zip(t, "")}
	for _, c := range compressors {
		if c.tool == "bzip2" { // Go's bzip2 is slow on random data; one tick will do
			files["src."+c.name] = c.compress(t, testkit.SampleTree().Tar(t, testkit.TarOptions{}))
			continue
		}
		files["src."+c.name] = c.compressFast(t, tarData)
	}
	small := makeTar(t, tarEntry{name: "a", data: "a"})
	files["small.tar"] = small
	files["small.tar.gz"] = compressorFor(t, "tar.gz").compress(t, small)
	files["small.zip"] = makeZip(t, zipEntry{name: "a", data: "a"})

	check := func(t *testing.T, calls []int64, want int64, many bool) {
		t.Helper()
		if len(calls) == 0 {
			t.Fatal("Progress was never called")
		}
		for i := 1; i < len(calls); i++ {
			if calls[i] <= calls[i-1] {
				t.Fatalf("progress goes %d -> %d: %v", calls[i-1], calls[i], calls)
			}
		}
		if calls[len(calls)-1] != want {
			t.Fatalf("progress ends at %d, want %d: %v", calls[len(calls)-1], want, calls)
		}
		if many && len(calls) < 2 {
			t.Fatalf("only %v for a %d byte source", calls, want)
		}
	}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var calls []int64
			opts := Options{SHA256: testkit.SHA256(data), Progress: func(n int64) {
				mu.Lock()
				calls = append(calls, n)
				mu.Unlock()
			}}
			if _, err := readArchive(t, name, data, opts, viaWriteTo); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			check(t, calls, int64(len(data)), len(data) > 2<<20)
		})
	}
	t.Run("dir", func(t *testing.T) {
		dir := t.TempDir()
		tree.WriteDir(t, dir)
		var mu sync.Mutex
		var calls []int64
		r, err := Open(dir, Options{Progress: func(n int64) {
			mu.Lock()
			calls = append(calls, n)
			mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := collectWithin(t, r, viaRead, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		check(t, calls, DirSize(os.DirFS(dir), "."), true)
	})
}

func TestSHA256File(t *testing.T) {
	data := randomData(12, 100000)
	p := testkit.WriteFile(t, t.TempDir(), "f", data)
	got, err := SHA256File(p)
	if err != nil || got != testkit.SHA256(data) {
		t.Fatalf("SHA256File = %q, %v; want %q", got, err, testkit.SHA256(data))
	}
	if _, err := SHA256File(p + ".missing"); err == nil {
		t.Fatal("no error for a missing file")
	}
}

func TestKindAndFormatStrings(t *testing.T) {
	for k, want := range map[Kind]string{KindFile: "file", KindDir: "directory", KindSymlink: "symlink", KindHardlink: "hard link", Kind(99): "unknown"} {
		if k.String() != want {
			t.Errorf("Kind(%d) = %q, want %q", int(k), k.String(), want)
		}
	}
	for f, want := range map[Format]string{FormatTar: "tar", FormatTarXZ: "tar.xz", FormatTarGZ: "tar.gz", FormatTarBZ2: "tar.bz2", FormatTarZST: "tar.zst", FormatZip: "zip"} {
		if f.String() != want {
			t.Errorf("Format(%d) = %q, want %q", int(f), f.String(), want)
		}
	}
}

// TestTarCLIs reads archives made by GNU tar and bsdtar from a real folder: "./" names,
// hard links, sparse files and each tool's own header formats.
func TestTarCLIs(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "blender-4.1.1-linux-x64")
	tree := testkit.SampleTree()
	tree.WriteDir(t, src)
	if err := os.Link(filepath.Join(src, "bin", "tool"), filepath.Join(src, "bin", "tool-hardlink")); err != nil {
		t.Fatal(err)
	}
	// A sparse file: a hole, some data, a hole.
	sparse := make([]byte, 3<<20)
	copy(sparse[1<<20:], "data in the middle")
	f, err := os.Create(filepath.Join(src, "sparse.img"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("data in the middle"), 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(len(sparse))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want := testkit.Tree{}
	for p, n := range tree {
		want["blender-4.1.1-linux-x64/"+p] = n
	}
	want["blender-4.1.1-linux-x64/bin/tool-hardlink"] = tree["bin/tool"]
	want["blender-4.1.1-linux-x64/sparse.img"] = testkit.Node{Data: sparse, Mode: 0o644}

	gnu := testkit.Tool(t, "tar")
	bsd := testkit.Tool(t, "bsdtar")
	parent := filepath.Dir(src)
	cases := []struct {
		name string
		tool string
		args []string
	}{
		{"gnu-default", gnu, []string{"--sparse"}},
		{"gnu-posix", gnu, []string{"--format=posix", "--sparse"}},
		{"gnu-oldgnu", gnu, []string{"--format=oldgnu", "--sparse"}},
		{"bsdtar-pax", bsd, []string{"--format=pax"}},
		{"bsdtar-gnutar", bsd, []string{"--format=gnutar"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "src.tar")
			args := append(append([]string{"-cf", out}, c.args...), "-C", parent, "blender-4.1.1-linux-x64")
			testkit.Run(t, parent, c.tool, args...)
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			data = compressorFor(t, "tar.xz").compressFast(t, data)
			got, err := readArchive(t, "src.tar.xz", data, Options{SHA256: testkit.SHA256(data)}, viaWriteTo)
			if err != nil {
				t.Fatal(err)
			}
			checkEntryInvariants(t, got.entries)
			if d := testkit.Diff(want, got.tree); d != "" {
				t.Fatalf("read back differs:\n%s", d)
			}
			hardlinks := 0
			for _, e := range got.entries {
				if e.Kind == KindHardlink {
					hardlinks++
				}
			}
			if hardlinks != 1 {
				t.Fatalf("%d hard links, want 1", hardlinks)
			}
		})
	}
}

// noReadAtFS hides ReadAt from the files of an fs.FS.
type noReadAtFS struct{ fs.FS }

type noReadAtFile struct{ fs.File }

func (f noReadAtFS) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return noReadAtFile{file}, nil
}

// TestOpenFSFile reads archive files through an fs.FS.
func TestOpenFSFile(t *testing.T) {
	tree := smallSample()
	xzData := compressorFor(t, "tar.xz").compress(t, tree.Tar(t, testkit.TarOptions{}))
	zipData := tree.Zip(t, "")
	fsys := fstest.MapFS{
		"sources/src.tar.xz": {Data: xzData},
		"sources/src.zip":    {Data: zipData},
	}
	for _, name := range []string{"sources/src.tar.xz", "sources/src.zip"} {
		t.Run(name, func(t *testing.T) {
			data := fsys[name].Data
			r, err := OpenFS(fsys, name, Options{SHA256: testkit.SHA256(data)})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := collectWithin(t, r, viaRead, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if d := testkit.Diff(tree, got.tree); d != "" {
				t.Fatal(d)
			}
			r2, err := OpenFS(fsys, name, Options{SHA256: testkit.SHA256(nil)})
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close()
			_, err = collectWithin(t, r2, viaRead, 30*time.Second)
			var ce *ChecksumError
			if !errors.As(err, &ce) || ce.Path != name {
				t.Fatalf("got %v, want a *ChecksumError for %s", err, name)
			}
		})
	}
	t.Run("zip without ReadAt is copied to a temporary file", func(t *testing.T) {
		tmp := t.TempDir()
		r, err := OpenFS(noReadAtFS{fsys}, "sources/src.zip", Options{TempDir: tmp, SHA256: testkit.SHA256(zipData)})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := collectWithin(t, r, viaRead, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if d := testkit.Diff(tree, got.tree); d != "" {
			t.Fatal(d)
		}
		r.Close()
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("the temporary copy was left behind: %v", left)
		}
	})
}

// slowFS serves files whose Read is slow, as on a network file system.
type slowFS struct{ fs.FS }

type slowFile struct{ fs.File }

func (f slowFS) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return slowFile{file}, nil
}

func (f slowFile) Read(p []byte) (int, error) {
	time.Sleep(10 * time.Millisecond)
	return f.File.Read(p[:min(len(p), 16<<10)])
}

func (f slowFile) ReadAt(p []byte, off int64) (int, error) {
	return f.File.(io.ReaderAt).ReadAt(p, off)
}

// TestCloseWhileHashing closes a reader while it is still hashing or decoding a slow file:
// Close must not wait for the rest of the file.
func TestCloseWhileHashing(t *testing.T) {
	tree := testkit.Tree{"a.txt": {Data: []byte("a"), Mode: 0o644}, "big.bin": {Data: randomData(31, 4<<20), Mode: 0o644}}
	tarData := tree.Tar(t, testkit.TarOptions{})
	fsys := fstest.MapFS{
		"src.zip":    {Data: tree.Zip(t, "")},
		"src.tar.gz": {Data: compressorFor(t, "tar.gz").compressFast(t, tarData)},
		"src.tar":    {Data: tarData},
	}
	// Reading a whole file takes 4 MiB / 16 KiB * 10ms = 2.5s or more.
	for name, f := range fsys {
		for _, nexts := range []int{0, 1} {
			if name == "src.zip" && nexts > 0 {
				continue // a zip's first entry comes after the whole file is hashed
			}
			t.Run(fmt.Sprintf("%s/after-%d-Next", name, nexts), func(t *testing.T) {
				before := runtime.NumGoroutine()
				r, err := OpenFS(slowFS{fsys}, name, Options{SHA256: testkit.SHA256(f.Data)})
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < nexts; i++ {
					if _, err := r.Next(); err != nil {
						t.Fatal(err)
					}
				}
				start := time.Now()
				r.Close()
				if d := time.Since(start); d > time.Second {
					t.Errorf("Close took %v", d)
				}
				waitGoroutines(t, before)
			})
		}
	}
}
