package condapkg_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/pkgbuild/condapkg"
)

// TestZip64LargePackage writes a package whose pkg member really passes 4 GiB (random,
// incompressible content streamed through the Writer, never held in memory) and reads it
// back with our Reader, cph and streaming bsdtar. It needs about 9 GiB of free space in the
// temp dir (the archive plus one extraction at a time) and a few minutes, so it only runs
// when asked for.
func TestZip64LargePackage(t *testing.T) {
	if os.Getenv("CONDACHAN_LONG_TESTS") != "1" {
		t.Skip("writes and extracts a > 4 GiB package (about 9 GiB free in $TMPDIR, several minutes); " +
			"run with: CONDACHAN_LONG_TESTS=1 go test -run TestZip64LargePackage -timeout 60m -v ./pkgbuild/condapkg/")
	}
	cph := testkit.Tool(t, "cph")
	testkit.Tool(t, "bsdtar")
	const bigSize = 4<<30 + 64<<20 // past 4 GiB even before the tar and zstd overhead
	stem := "large-1.0-0"
	dir := t.TempDir()
	path := filepath.Join(dir, stem+condapkg.Extension)
	small := []byte("small file next to a big one\n")
	entryTime := testModTime.Add(-time.Hour)
	phase := time.Now()
	lap := func(what string) {
		t.Logf("%s: %v", what, time.Since(phase).Round(100*time.Millisecond))
		phase = time.Now()
	}

	// Write.
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := condapkg.NewWriter(f, stem, condapkg.Options{Level: condapkg.LevelFast, ModTime: testModTime})
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := w.Pkg()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pkg.WriteBytes("a/before.txt", 0o644, small); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	src := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{4, 2}), bigSize), h)
	res, err := pkg.WriteFile("data/big.bin", 0o755, bigSize, entryTime, src)
	if err != nil {
		t.Fatal(err)
	}
	wantSum := hex.EncodeToString(h.Sum(nil))
	if hex.EncodeToString(res.SHA256[:]) != wantSum || res.Size != bigSize {
		t.Fatalf("FileResult %x/%d, want %s/%d", res.SHA256, res.Size, wantSum, int64(bigSize))
	}
	if err := pkg.WriteSymlink("data/big-link", "big.bin", entryTime); err != nil {
		t.Fatal(err)
	}
	if _, err := pkg.WriteBytes("z/after.txt", 0o644, small); err != nil {
		t.Fatal(err)
	}
	if err := pkg.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := w.Info()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := info.WriteBytes("info/index.json", 0o644, []byte(`{"name":"large"}`)); err != nil {
		t.Fatal(err)
	}
	if err := info.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	lap("write")

	// Structure: zip64 for the pkg member's sizes, the info member's offset and the
	// central directory; one zstd frame.
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		t.Fatal(err)
	}
	a := checkContainer(t, in, st.Size(), stem, testModTime, condapkg.Zip64Threshold())
	p, i := a.member(condapkg.PkgMember(stem)), a.member(condapkg.InfoMember(stem))
	if p.size <= max32 || p.localExtra != extraZip64 || !i.centralZip64 || i.headerOffset <= max32 || !a.zip64End {
		t.Errorf("zip64 not used where needed: pkg %+v, info %+v, end record %v", p, i, a.zip64End)
	}
	lap("structure check")

	// Our Reader.
	r, err := condapkg.NewReader(in, st.Size(), path)
	if err != nil {
		t.Fatal(err)
	}
	if idx, err := r.IndexJSON(); err != nil || idx["name"] != "large" {
		t.Errorf("IndexJSON = %v, %v", idx, err)
	}
	tr, err := r.PkgTar()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		if hdr.Name == "data/big.bin" {
			h := sha256.New()
			n, err := io.Copy(h, tr)
			if err != nil || n != bigSize || hex.EncodeToString(h.Sum(nil)) != wantSum {
				t.Errorf("Reader: data/big.bin: %d bytes, %x, %v", n, h.Sum(nil), err)
			}
		}
	}
	tr.Close()
	if len(names) != 4 {
		t.Errorf("Reader: entries %v", names)
	}
	lap("read with Reader")

	checkExtracted := func(who, root string) {
		t.Helper()
		big := filepath.Join(root, "data", "big.bin")
		fi, err := os.Stat(big)
		if err != nil {
			t.Errorf("%s: %v", who, err)
			return
		}
		if fi.Size() != bigSize || fi.Mode().Perm()&0o111 != 0o111 {
			t.Errorf("%s: big.bin is %d bytes, mode %v", who, fi.Size(), fi.Mode())
		}
		if sum := sha256File(t, big); sum != wantSum {
			t.Errorf("%s: big.bin sha256 %s, want %s", who, sum, wantSum)
		}
		if target, err := os.Readlink(filepath.Join(root, "data", "big-link")); err != nil || target != "big.bin" {
			t.Errorf("%s: big-link -> %q, %v", who, target, err)
		}
		for _, s := range []string{"a/before.txt", "z/after.txt"} {
			if b, err := os.ReadFile(filepath.Join(root, s)); err != nil || !bytes.Equal(b, small) {
				t.Errorf("%s: %s: %q, %v", who, s, b, err)
			}
		}
	}

	// cph x extracts to <dir>/<stem>.
	testkit.Run(t, dir, cph, "x", path)
	out := filepath.Join(dir, stem)
	checkExtracted("cph x", out)
	os.RemoveAll(out)
	lap("cph x")

	// bsdtar, streaming the ZIP from stdin: only the local headers tell it the sizes.
	out = filepath.Join(dir, "bsdtar")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	bsdtarPipe(t, path, condapkg.PkgMember(stem), out)
	checkExtracted("bsdtar", out)
	os.RemoveAll(out)
	lap("bsdtar")
}

func sha256File(t testing.TB, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
