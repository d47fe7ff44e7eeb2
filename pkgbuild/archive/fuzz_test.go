package archive

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/condachan/condachan/internal/testkit"
)

// fuzzContentLimit bounds what one fuzz input may make the reader produce: a few bytes of
// gzip or a sparse tar entry can stand for gigabytes of output, which is slow, not wrong.
const fuzzContentLimit = 16 << 20

// fuzzTree is a small tree with every kind of entry, for seeds.
func fuzzTree() testkit.Tree {
	return testkit.Tree{
		"bin/tool":         {Data: []byte("#!/bin/sh\necho tool\n"), Mode: 0o755},
		"bin/tool-link":    {Link: "tool"},
		"lib/data.bin":     {Data: randomData(21, 700), Mode: 0o644},
		"share/empty":      {Data: nil, Mode: 0o644},
		"share/dir":        {Dir: true},
		"share/ünïcödé.md": {Data: []byte("# hi\n"), Mode: 0o644},
		"share/deeply/nested/folder/with/a/name/long/enough/for/the/pax/path/record/to/be/needed/file.txt": {Data: []byte("x"), Mode: 0o644},
	}
}

// fuzzDir makes the folder the inputs of one fuzz target are written to (t.TempDir for
// each input would cost more than reading most inputs).
func fuzzDir(f *testing.F) string {
	dir, err := os.MkdirTemp("", "archive-fuzz-")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

var fuzzSeq atomic.Int64

// fuzzRead writes data to a file called name in dir, opens it and reads everything, in a
// way chosen by the input itself. Errors are fine; a panic, a hang or an unsafe entry is
// not. It reports whether the reader reached a clean end.
func fuzzRead(t *testing.T, dir, name string, data []byte) (clean bool) {
	p := filepath.Join(dir, fmt.Sprint(fuzzSeq.Add(1)), name)
	if err := os.Mkdir(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(p))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var opts Options
	if len(data)%2 == 0 {
		opts.SHA256 = testkit.SHA256(data)
	}
	r, err := Open(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Go's fuzzing has no time limit per input: turn a hang into a crash it records.
	timer := time.AfterFunc(60*time.Second, func() { panic("the archive reader hangs on this input") })
	defer timer.Stop()

	var entries []*Entry
	defer func() { checkEntryInvariants(t, entries) }()
	var total int64
	buf := make([]byte, 1+len(data)%4096)
	for i := 0; ; i++ {
		en, err := r.Next()
		if err == io.EOF {
			return true
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return false
		}
		entries = append(entries, en)
		if en.Kind != KindFile || ((i+len(data))%5 == 0 && en.Size <= 1<<20) {
			continue // leave the content to Next
		}
		var n int64
		if i%2 == 0 {
			n, err = io.Copy(io.Discard, io.LimitReader(readerOnly{r}, fuzzContentLimit-total))
			if err == nil && n < fuzzContentLimit-total {
				err = io.EOF // LimitReader was not what stopped it
			}
		} else {
			for err == nil && total+n < fuzzContentLimit {
				var m int
				m, err = r.Read(buf)
				n += int64(m)
			}
		}
		total += n
		if err == io.EOF && n != en.Size {
			t.Fatalf("entry %s: %d bytes of content, Size says %d", en.Name, n, en.Size)
		}
		if total >= fuzzContentLimit {
			return false
		}
	}
}

func addTarSeeds(f *testing.F) [][]byte {
	tr := fuzzTree()
	var seeds [][]byte
	for _, format := range []tar.Format{tar.FormatPAX, tar.FormatGNU} {
		seeds = append(seeds, tr.Tar(f, testkit.TarOptions{Top: "top", DirEntries: true, Format: format}))
	}
	seeds = append(seeds, sparseTars(f)...)
	seeds = append(seeds,
		asciiTar(f),
		makeTar(f,
			tarEntry{name: "a/file", data: "content"},
			tarEntry{name: "a/hard", typ: tar.TypeLink, link: "a/file"},
			tarEntry{name: "a/sym", typ: tar.TypeSymlink, link: "file"},
			tarEntry{name: "../evil", data: "x"},
		),
	)
	return seeds
}

// sparseTars has GNU tar write a sparse file (a hole, a few bytes, a hole) in its two
// sparse formats: archive/tar cannot write them.
func sparseTars(f *testing.F) [][]byte {
	dir := f.TempDir()
	sp, err := os.Create(filepath.Join(dir, "sparse"))
	if err != nil {
		f.Fatal(err)
	}
	if _, err := sp.WriteAt([]byte("data"), 8192); err != nil {
		f.Fatal(err)
	}
	if err := sp.Truncate(3 * 8192); err != nil {
		f.Fatal(err)
	}
	sp.Close()
	gnu := testkit.Tool(f, "tar")
	var out [][]byte
	for _, format := range []string{"--format=gnu", "--format=posix"} {
		// -b 1: no padding of the archive to 10 KiB, a small seed.
		testkit.Run(f, dir, gnu, "-cf", "out.tar", "-b", "1", "--sparse", format, "sparse")
		b, err := os.ReadFile(filepath.Join(dir, "out.tar"))
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func asciiTar(f *testing.F) []byte {
	return asciiOnly(fuzzTree()).Tar(f, testkit.TarOptions{Format: tar.FormatUSTAR})
}

// FuzzTar reads arbitrary bytes as a plain .tar file.
func FuzzTar(f *testing.F) {
	for _, s := range addTarSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte{})
	dir := fuzzDir(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, dir, "fuzz.tar", data)
	})
}

// FuzzZip reads arbitrary bytes as a .zip file.
func FuzzZip(f *testing.F) {
	f.Add(fuzzTree().Zip(f, ""))
	f.Add(fuzzTree().Zip(f, "top"))
	f.Add(makeZip(f, zipEntry{name: "a", data: "aaaa"}, zipEntry{name: "l", data: "a", mode: os.ModeSymlink | 0o777}, zipEntry{name: "../evil", data: "x"}))
	f.Add(makeZip(f))
	dir := fuzzDir(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, dir, "fuzz.zip", data)
	})
}

// FuzzXZ reads arbitrary bytes as a .tar.xz file; the seeds come from the xz CLI.
func FuzzXZ(f *testing.F) {
	tars := addTarSeeds(f)
	f.Add(testkit.Compress(f, tars[0], "xz", "-T1", "-0"))
	f.Add(testkit.Compress(f, tars[1], "xz", "-T1", "--check=crc32", "-1"))
	f.Add(testkit.Compress(f, tars[2], "xz", "-T1", "--check=sha256", "--block-size=2048", "-0"))
	f.Add(testkit.Compress(f, tars[3], "xz", "-T1", "--check=none", "--lzma2=dict=4KiB,lc=1,lp=1,pb=0"))
	f.Add(testkit.Compress(f, nil, "xz", "-T1"))
	dir := fuzzDir(f)
	xz := testkit.Tool(f, "xz")
	f.Fuzz(func(t *testing.T, data []byte) {
		if !fuzzRead(t, dir, "fuzz.tar.xz", data) {
			return
		}
		// What the reader accepted in full must be intact for xz-utils too: a damaged or
		// cut-off stream must never pass as a clean end.
		cmd := exec.Command(xz, "-t", "-q", "-q")
		cmd.Stdin = bytes.NewReader(data)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the reader accepted this input, xz -t rejects it: %v %s", err, out)
		}
	})
}

// FuzzRPM reads arbitrary bytes as an .rpm: its headers, compressors and cpio payload.
func FuzzRPM(f *testing.F) {
	cpio := testkit.Cpio([]testkit.CpioEntry{
		{Name: "./usr/lib64/a.so.1", Mode: 0o100755, Data: []byte("lib")},
		{Name: "./usr/lib64/a.so", Mode: 0o120777, Data: []byte("a.so.1")},
		{Name: "./usr/share/doc", Mode: 0o040755},
		{Name: "./usr/lib64/h1", Mode: 0o100644, Ino: 7, Nlink: 2},
		{Name: "./usr/lib64/h2", Mode: 0o100644, Ino: 7, Nlink: 2, Data: []byte("linked")},
	})
	f.Add(testkit.RPM("", cpio))
	f.Add(testkit.RPM("gzip", testkit.Compress(f, cpio, "gzip")))
	f.Add(testkit.RPM("xz", testkit.Compress(f, cpio, "xz", "-T1", "-0")))
	f.Add(testkit.RPM("zstd", testkit.Compress(f, cpio, "zstd", "-q")))
	p := testkit.RPMBuild(f, f.TempDir(), "libXss", "1.2.3", testkit.Tree{"usr/lib64/x": {Data: []byte("x"), Mode: 0o644}}, "zstd", nil)
	real, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real)
	dir := fuzzDir(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, dir, "fuzz.rpm", data)
	})
}

// FuzzDeb reads arbitrary bytes as a .deb.
func FuzzDeb(f *testing.F) {
	for _, comp := range []string{"none", "gzip"} {
		data, err := os.ReadFile(testkit.Deb(f, f.TempDir(), "x", "1.0", testkit.Tree{"usr/bin/x": {Data: []byte("x"), Mode: 0o755}}, comp))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	dir := fuzzDir(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, dir, "fuzz.deb", data)
	})
}

// FuzzMakeself reads arbitrary bytes as a makeself installer.
func FuzzMakeself(f *testing.F) {
	for _, comp := range []string{"--nocomp", "--gzip"} {
		data, err := os.ReadFile(testkit.Makeself(f, f.TempDir(), "x.run", testkit.Tree{"setup.sh": {Data: []byte("true\n"), Mode: 0o755}}, comp))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("#!/bin/sh\n# Makeself 2.1\nfilesizes=\"10\"\noffset=`head -n 4 \"$0\" | wc -c`\n0123456789"))
	dir := fuzzDir(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, dir, "fuzz.run", data)
	})
}
