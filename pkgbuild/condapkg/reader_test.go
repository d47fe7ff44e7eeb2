package condapkg_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/pkgbuild/condapkg"
)

func TestReaderRoundTrip(t *testing.T) {
	c := sampleContent()
	stem := "sample-1.0-0"
	data := buildConda(t, stem, condapkg.Options{Level: condapkg.LevelMax, ModTime: testModTime}, c)
	checkReaderRoundTrip(t, data, stem, c)
}

// checkReaderRoundTrip reads a package written from c back with Reader.
func checkReaderRoundTrip(t *testing.T, data []byte, stem string, c pkgContent) {
	t.Helper()
	r, err := condapkg.NewReader(bytes.NewReader(data), int64(len(data)), "/some/dir/"+stem+condapkg.Extension)
	if err != nil {
		t.Fatal(err)
	}
	if r.Stem() != stem {
		t.Errorf("Stem() = %q", r.Stem())
	}
	if got, want := r.Members(), []string{condapkg.MetadataMember, condapkg.PkgMember(stem), condapkg.InfoMember(stem)}; !reflect.DeepEqual(got, want) {
		t.Errorf("Members() = %q, want %q", got, want)
	}
	md, err := r.Metadata()
	if err != nil || md.FormatVersion != condapkg.FormatVersion {
		t.Errorf("Metadata() = %+v, %v", md, err)
	}
	files, err := r.InfoFiles("info/files", "info/index.json", "info/absent")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || !strings.Contains(string(files["info/files"]), c.tree.Paths()[0]+"\n") {
		t.Errorf("InfoFiles = %q", files)
	}
	idx, err := r.IndexJSON()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(c.index)
	got, _ := json.Marshal(idx)
	if !bytes.Equal(got, want) {
		t.Errorf("IndexJSON = %s, want %s", got, want)
	}
	tr, err := r.PkgTar()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	seen := testkit.Tree{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			seen[strings.TrimSuffix(hdr.Name, "/")] = testkit.Node{Dir: true}
		case tar.TypeSymlink:
			seen[hdr.Name] = testkit.Node{Link: hdr.Linkname}
		default:
			seen[hdr.Name] = testkit.Node{Data: b, Mode: hdr.FileInfo().Mode().Perm()}
		}
	}
	if d := testkit.Diff(c.tree, seen); d != "" {
		t.Errorf("PkgTar differs from what was written:\n%s", d)
	}
}

// craftConda assembles a .conda from raw member bytes with archive/zip (stored), so that
// tests can give the Reader what our Writer never writes.
func craftConda(t testing.TB, members ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < len(members); i += 2 {
		hdr := &zip.FileHeader{Name: members[i].(string), Method: zip.Store}
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(members[i+1].([]byte))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarZst builds a tar.zst member with the given encoder options.
func tarZst(t testing.TB, files map[string][]byte, opts ...zstd.EOption) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, name := range sortedKeys(files) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg})
		tw.Write(files[name])
	}
	tw.Close()
	var out bytes.Buffer
	enc, err := zstd.NewWriter(&out, opts...)
	if err != nil {
		t.Fatal(err)
	}
	enc.Write(tb.Bytes())
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestReaderRejects(t *testing.T) {
	stem := "r-1-0"
	info := tarZst(t, map[string][]byte{"info/index.json": []byte(`{"name":"r"}`)})
	pkg := tarZst(t, map[string][]byte{"a": []byte("a")})
	open := func(data []byte, name string) (*condapkg.Reader, error) {
		return condapkg.NewReader(bytes.NewReader(data), int64(len(data)), name)
	}
	good := craftConda(t, condapkg.MetadataMember, []byte(`{"conda_pkg_format_version":2}`), condapkg.PkgMember(stem), pkg, condapkg.InfoMember(stem), info)
	if _, err := open(good, stem+condapkg.Extension); err != nil {
		t.Fatalf("crafted package: %v", err)
	}
	for _, name := range []string{"r-1-0.tar.bz2", ".conda", "r-1-0"} {
		if _, err := open(good, name); err == nil {
			t.Errorf("file name %q: no error", name)
		}
	}
	if _, err := open(good, "renamed-1-0.conda"); err == nil || !strings.Contains(err.Error(), "renamed") {
		t.Errorf("renamed file: %v", err)
	}
	if _, err := open(good[:len(good)-10], stem+condapkg.Extension); err == nil {
		t.Error("truncated zip: no error")
	}
	if _, err := open(craftConda(t, condapkg.MetadataMember, []byte(`{}`), condapkg.InfoMember(stem), info), stem+condapkg.Extension); err == nil {
		t.Error("no pkg member: no error")
	}

	// metadata.json: absent is version 2; another version or junk is an error.
	r, err := open(craftConda(t, condapkg.PkgMember(stem), pkg, condapkg.InfoMember(stem), info), stem+condapkg.Extension)
	if err != nil {
		t.Fatal(err)
	}
	if md, err := r.Metadata(); err != nil || md.FormatVersion != 2 {
		t.Errorf("no metadata.json: %+v, %v", md, err)
	}
	for _, meta := range []string{`{"conda_pkg_format_version":3}`, `not json`, strings.Repeat(" ", 1<<17)} {
		r, err := open(craftConda(t, condapkg.MetadataMember, []byte(meta), condapkg.PkgMember(stem), pkg, condapkg.InfoMember(stem), info), stem+condapkg.Extension)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Metadata(); err == nil {
			t.Errorf("metadata.json %.20q: no error", meta)
		}
	}

	// A compressed (deflated) member.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create(condapkg.InfoMember(stem))
	w.Write(info)
	w, _ = zw.CreateHeader(&zip.FileHeader{Name: condapkg.PkgMember(stem), Method: zip.Store})
	w.Write(pkg)
	zw.Close()
	r, err = open(buf.Bytes(), stem+condapkg.Extension)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.InfoFiles("info/index.json"); err == nil || !strings.Contains(err.Error(), "stored") {
		t.Errorf("deflated info member: %v", err)
	}

	// Windows above 2^27 are refused, as zstd clients do.
	padded := []byte(`{"pad":"` + strings.Repeat("x", 300<<10) + `"}`)
	for window, ok := range map[int]bool{condapkg.MaxWindow: true, 2 * condapkg.MaxWindow: false} {
		member := tarZst(t, map[string][]byte{"info/index.json": padded}, zstd.WithWindowSize(window))
		r, err = open(craftConda(t, condapkg.PkgMember(stem), pkg, condapkg.InfoMember(stem), member), stem+condapkg.Extension)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.IndexJSON(); (err == nil) != ok || err != nil && !strings.Contains(err.Error(), "window") {
			t.Errorf("window of %d: %v, want ok=%v", window, err, ok)
		}
	}

	// An info file over the per-file limit, and an info member over the total limit.
	// (Only the header is needed: the size is checked before anything is read.)
	enc, _ := zstd.NewWriter(nil)
	huge := enc.EncodeAll(rawTarHeader("info/index.json", '0', condapkg.MaxInfoFile+1, false, nil), nil)
	r, err = open(craftConda(t, condapkg.PkgMember(stem), pkg, condapkg.InfoMember(stem), huge), stem+condapkg.Extension)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.IndexJSON(); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("64 MiB+1 index.json: %v", err)
	}

	defer condapkg.SetMaxInfoTar(64 << 10)()
	bomb := tarZst(t, map[string][]byte{"info/a-padding": make([]byte, 1<<20), "info/index.json": []byte(`{}`)})
	r, err = open(craftConda(t, condapkg.PkgMember(stem), pkg, condapkg.InfoMember(stem), bomb), stem+condapkg.Extension)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.IndexJSON(); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("info member decompressing past the limit: %v", err)
	}
	// Exactly at the limit is fine.
	var exact bytes.Buffer
	tw := tar.NewWriter(&exact)
	tw.WriteHeader(&tar.Header{Name: "info/index.json", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("{}"))
	tw.Close()
	condapkg.SetMaxInfoTar(int64(exact.Len()))
	r, err = open(craftConda(t, condapkg.PkgMember(stem), pkg, condapkg.InfoMember(stem), enc.EncodeAll(exact.Bytes(), nil)), stem+condapkg.Extension)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := r.InfoTar()
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("info tar of exactly the limit: %v", err)
		}
	}
	tr.Close()
}

// FuzzReader feeds arbitrary bytes to the Reader as a .conda: no panics, no hangs, and
// errors rather than unbounded memory.
func FuzzReader(f *testing.F) {
	f.Add(buildConda(f, fuzzStem, condapkg.Options{Level: condapkg.LevelFast, ModTime: testModTime}, smallContent()))
	f.Add(buildConda(f, fuzzStem, condapkg.Options{Level: condapkg.LevelMax, ModTime: testModTime}, pkgContent{index: map[string]any{"name": "fz"}}))
	func() {
		defer condapkg.SetZip64Threshold(512)()
		c := smallContent()
		c.index = map[string]any{"n": 1}
		c.tree = testkit.Tree{"x": {Data: bytes.Repeat([]byte("zip64 "), 200), Mode: 0o644}}
		f.Add(buildConda(f, fuzzStem, condapkg.Options{ModTime: testModTime}, c))
	}()
	// Members without zstd checksums, so that mutations get past the frame checksum into
	// the decoder and the tar reader (archive/zip checks its CRC only at the very end).
	pkgTar, infoTar := fuzzTars(f)
	f.Add(craftConda(f, condapkg.MetadataMember, []byte(`{"conda_pkg_format_version":2}`),
		condapkg.PkgMember(fuzzStem), zstdNoCRC(f, pkgTar), condapkg.InfoMember(fuzzStem), zstdNoCRC(f, infoTar)))
	f.Fuzz(func(t *testing.T, data []byte) {
		exerciseReader(t, data)
	})
}

// FuzzReaderMembers fuzzes what is inside a well-formed ZIP: the pkg and info members,
// either as given (zstd) or as tars that the target compresses itself.
func FuzzReaderMembers(f *testing.F) {
	pkgTar, infoTar := fuzzTars(f)
	f.Add(pkgTar, infoTar, false)
	f.Add(zstdNoCRC(f, pkgTar), zstdNoCRC(f, infoTar), true)
	for _, bomb := range sparseBombs() {
		f.Add(bomb, infoTar, false)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(false), zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pkg, info []byte, compressed bool) {
		if !compressed {
			pkg, info = enc.EncodeAll(pkg, nil), enc.EncodeAll(info, nil)
		}
		exerciseReader(t, craftConda(t, condapkg.MetadataMember, []byte(`{"conda_pkg_format_version":2}`),
			condapkg.PkgMember(fuzzStem), pkg, condapkg.InfoMember(fuzzStem), info))
	})
}

const fuzzStem = "fz-1-0"

// fuzzTars are small pkg and info tars with what tar readers have to handle: PAX records
// for long and non-ASCII names, symlinks, directories, owners.
func fuzzTars(t testing.TB) (pkg, info []byte) {
	tree := testkit.Tree{
		"bin/app":                           {Data: []byte("#!/bin/sh\n"), Mode: 0o755},
		"bin/app-link":                      {Link: "app"},
		"share/" + strings.Repeat("n", 120): {Data: []byte("long"), Mode: 0o644},
		"share/café.txt":                    {Data: []byte("é"), Mode: 0o644},
		"empty":                             {Dir: true},
	}
	pkg = tree.Tar(t, testkit.TarOptions{DirEntries: true})
	info = testkit.Tree{
		"info/index.json": {Data: []byte(`{"name":"fz","version":"1","build":"0"}`), Mode: 0o644},
		"info/files":      {Data: []byte("bin/app\n"), Mode: 0o644},
	}.Tar(t, testkit.TarOptions{})
	return pkg, info
}

func zstdNoCRC(t testing.TB, b []byte) []byte {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(false), zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeAll(b, nil)
}

// exerciseReader does everything an index run does with a package, and reads the pkg
// member to the end.
func exerciseReader(t *testing.T, data []byte) {
	r, err := condapkg.NewReader(bytes.NewReader(data), int64(len(data)), fuzzStem+condapkg.Extension)
	if err != nil {
		return
	}
	r.Members()
	r.Metadata()
	r.InfoFiles("info/index.json", "info/paths.json", "info/files")
	r.IndexJSON()
	tr, err := r.PkgTar()
	if err != nil {
		return
	}
	defer tr.Close()
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 64<<10)
	for {
		if _, err := tr.Next(); err != nil {
			return
		}
		for {
			if time.Now().After(deadline) {
				t.Fatal("reading the pkg member takes more than 10 s")
			}
			if _, err := tr.Read(buf); err != nil {
				break
			}
		}
	}
}

// rawTarHeader renders one 512-byte tar header block by hand, for headers archive/tar
// refuses to write.
func rawTarHeader(name string, typeflag byte, size int64, gnu bool, fill func(blk []byte)) []byte {
	blk := make([]byte, 512)
	copy(blk, name)
	copy(blk[100:], "0000644\x00")
	copy(blk[108:], "0000000\x00")
	copy(blk[116:], "0000000\x00")
	copy(blk[124:], fmt.Sprintf("%011o\x00", size))
	copy(blk[136:], "14000000000\x00")
	blk[156] = typeflag
	if gnu {
		copy(blk[257:], "ustar  \x00")
	} else {
		copy(blk[257:], "ustar\x0000")
	}
	if fill != nil {
		fill(blk)
	}
	copy(blk[148:156], "        ")
	sum := 0
	for _, c := range blk {
		sum += int(c)
	}
	copy(blk[148:], fmt.Sprintf("%06o\x00 ", sum))
	return blk
}

// sparseBombs are tars of a few blocks whose one entry claims 2^50 bytes of zeros, in the
// old GNU sparse format and in the PAX 0.1 one.
func sparseBombs() map[string][]byte {
	end := make([]byte, 1024)
	oldGNU := rawTarHeader("bomb", 'S', 0, true, func(blk []byte) {
		// No sparse entries (all data is a hole); the real size in base-256.
		blk[483] = 0x80
		binary.BigEndian.PutUint64(blk[487:], 1<<50)
	})
	rec := func(k, v string) string {
		body := " " + k + "=" + v + "\n"
		n := len(body) + 1
		for n != len(body)+len(fmt.Sprint(n)) {
			n = len(body) + len(fmt.Sprint(n))
		}
		return fmt.Sprint(n) + body
	}
	pax := rec("GNU.sparse.size", fmt.Sprint(int64(1)<<50)) + rec("GNU.sparse.numblocks", "1") + rec("GNU.sparse.map", "0,0")
	paxData := append([]byte(pax), make([]byte, (512-len(pax)%512)%512)...)
	pax01 := append(rawTarHeader("PaxHeaders/bomb", 'x', int64(len(pax)), false, nil), paxData...)
	pax01 = append(pax01, rawTarHeader("bomb", '0', 0, false, nil)...)
	return map[string][]byte{
		"old GNU": append(append([]byte{}, oldGNU...), end...),
		"PAX 0.1": append(pax01, end...),
	}
}

// TestReaderRefusesSparse: a sparse entry would let a tiny member expand without bound
// (holes are made up by the tar reader, not decompressed), so the Reader refuses them.
func TestReaderRefusesSparse(t *testing.T) {
	info := tarZst(t, map[string][]byte{"info/index.json": []byte(`{}`)})
	for name, bomb := range sparseBombs() {
		t.Run(name, func(t *testing.T) {
			// archive/tar itself reads the header as a 2^50-byte file.
			hdr, err := tar.NewReader(bytes.NewReader(bomb)).Next()
			if err != nil || hdr.Size != 1<<50 {
				t.Fatalf("crafted sparse header: %v, %+v", err, hdr)
			}
			member := zstdNoCRC(t, bomb)
			data := craftConda(t, condapkg.PkgMember("s-1-0"), member, condapkg.InfoMember("s-1-0"), info)
			r, err := condapkg.NewReader(bytes.NewReader(data), int64(len(data)), "s-1-0.conda")
			if err != nil {
				t.Fatal(err)
			}
			tr, err := r.PkgTar()
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			if hdr, err := tr.Next(); err == nil || !strings.Contains(err.Error(), "sparse") {
				t.Errorf("PkgTar().Next() = %+v, %v; want a sparse-file error", hdr, err)
			}
			if _, err := tr.Next(); err == nil {
				t.Errorf("Next after the error: no error")
			}
			data = craftConda(t, condapkg.PkgMember("s-1-0"), member, condapkg.InfoMember("s-1-0"), member)
			r, err = condapkg.NewReader(bytes.NewReader(data), int64(len(data)), "s-1-0.conda")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.InfoFiles("bomb"); err == nil || !strings.Contains(err.Error(), "sparse") {
				t.Errorf("InfoFiles: %v, want a sparse-file error", err)
			}
		})
	}
}
