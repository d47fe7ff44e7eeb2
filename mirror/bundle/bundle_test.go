package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

type pkg struct {
	e    Entry
	data []byte
}

func mkpkg(subdir, filename string, size int, withMD5 bool) pkg {
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(uint64(len(filename)), uint64(size)))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	s := sha256.Sum256(data)
	e := Entry{Subdir: subdir, Filename: filename, Size: int64(size), SHA256: hex.EncodeToString(s[:])}
	if withMD5 {
		m := md5.Sum(data)
		e.MD5 = hex.EncodeToString(m[:])
	}
	return pkg{e, data}
}

var (
	locksAB = []LockFile{{"pixi.lock", []byte("version: 6\nenvironments: {}\n")}, {"pixi.lock", []byte("version: 6\n# the other project\n")}}
	locksC  = []LockFile{{"conda-lock.yml", []byte("version: 1\n")}}
	// Sizes around the 512-byte tar block, in two subdirs, with and without md5.
	pkgs5 = []pkg{
		mkpkg("linux-64", "a-1.0-h0_0.conda", 1000, true),
		mkpkg("noarch", "b-2.0-py_0.tar.bz2", 512, false),
		mkpkg("linux-64", "c-3.0-h1_0.conda", 513, true),
		mkpkg("noarch", "d-4.0-pyh_1.conda", 0, true),
		mkpkg("linux-64", "e_f-1!5.0+local-h2_0.tar.bz2", 70000, true),
	}
)

// pack writes a bundle in one go and returns its bytes.
func pack(t testing.TB, path string, locks []LockFile, pkgs []pkg) []byte {
	t.Helper()
	w, err := Create(path, locks)
	if err != nil {
		t.Fatal(err)
	}
	addAll(t, w, pkgs)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return readFile(t, path)
}

// addAll adds the packages the writer does not have yet.
func addAll(t testing.TB, w *Writer, pkgs []pkg) {
	t.Helper()
	for _, p := range pkgs {
		if w.Has(p.e.Subdir, p.e.Filename, p.e.SHA256) {
			continue
		}
		if err := w.Add(p.e, bytes.NewReader(p.data)); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readAll reads a bundle's locks and packages; err is the first error.
func readAll(r *Reader) (got []pkg, err error) {
	for {
		e, body, err := r.Next()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		data, err := io.ReadAll(body)
		if err != nil {
			return got, err
		}
		got = append(got, pkg{e, data})
	}
}

func readBundle(path string) ([]LockFile, []pkg, error) {
	r, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	got, err := readAll(r)
	return r.Locks(), got, err
}

func samePkgs(t *testing.T, got, want []pkg) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d packages, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].e != want[i].e || !bytes.Equal(got[i].data, want[i].data) {
			t.Errorf("package %d: got %+v (%d bytes), want %+v (%d bytes)", i, got[i].e, len(got[i].data), want[i].e, len(want[i].data))
		}
	}
}

// entryOffsets maps each entry's name to where its header and its data start.
func entryOffsets(t *testing.T, b []byte) (hdrs, datas map[string]int64) {
	t.Helper()
	hdrs, datas = map[string]int64{}, map[string]int64{}
	c := &countReader{r: bytes.NewReader(b)}
	tr := tar.NewReader(c)
	prev := int64(0)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		hdrs[hdr.Name], datas[hdr.Name] = prev, c.n
		prev = (c.n + hdr.Size + 511) &^ 511
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		locks []LockFile
		pkgs  []pkg
	}{
		{"two locks, packages in two subdirs", locksAB, pkgs5},
		{"one lock, one package", locksC, pkgs5[4:]},
		{"no packages", locksC, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.tar")
			b := pack(t, path, tt.locks, tt.pkgs)
			if _, err := os.Stat(path + partialSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("partial left behind: %v", err)
			}
			locks, got, err := readBundle(path)
			if err != nil {
				t.Fatal(err)
			}
			if !equalLocks(locks, tt.locks) {
				t.Errorf("locks: got %q, want %q", locks, tt.locks)
			}
			samePkgs(t, got, tt.pkgs)
			// The layout other tools see: VERSION first, manifest last, hashes in PAX.
			tr := tar.NewReader(bytes.NewReader(b))
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
				if p, ok := strings.CutPrefix(hdr.Name, pkgsDir); ok {
					e := tt.pkgs[len(names)-2-len(tt.locks)].e
					if p != e.Path() || hdr.PAXRecords[paxSHA256] != e.SHA256 || hdr.PAXRecords[paxMD5] != e.MD5 {
						t.Errorf("entry %s has PAX %v, want %+v", hdr.Name, hdr.PAXRecords, e)
					}
				}
			}
			if names[0] != versionName || names[1] != locksDir+"1-"+tt.locks[0].Name || names[len(names)-1] != manifestName {
				t.Errorf("entries %q", names)
			}
		})
	}
}

// Entries nobody reads are skipped (seeking over them), and the reader stays in step.
func TestReaderSkipsUnreadEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.tar")
	pack(t, path, locksAB, pkgs5)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var prev io.Reader
	for i := 0; ; i++ {
		e, body, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if prev != nil {
			if _, err := prev.Read(make([]byte, 1)); err == nil || err == io.EOF {
				t.Errorf("an entry's reader read on after Next: %v", err)
			}
		}
		prev = body
		if i%2 == 0 {
			continue
		}
		if data, err := io.ReadAll(body); err != nil || e != pkgs5[i].e || !bytes.Equal(data, pkgs5[i].data) {
			t.Errorf("entry %d: %+v, %v", i, e, err)
		}
	}
}

func TestReaderDetectsDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "good.tar")
	good := pack(t, path, locksAB, pkgs5)
	hdrs, datas := entryOffsets(t, good)
	third := pkgsDir + pkgs5[2].e.Path()
	tests := []struct {
		name   string
		damage func(b []byte) []byte
		check  func(t *testing.T, err error)
	}{
		{"flipped byte in a package", func(b []byte) []byte { b[datas[third]+100] ^= 1; return b }, func(t *testing.T, err error) {
			var he *HashMismatchError
			if !errors.As(err, &he) || he.Entry != pkgs5[2].e || he.Algo != "sha256" || !strings.Contains(err.Error(), pkgs5[2].e.Filename) {
				t.Errorf("got %v, want a HashMismatchError naming %s", err, third)
			}
		}},
		{"no manifest", func(b []byte) []byte { return b[:hdrs[manifestName]] }, incomplete},
		{"cut in a package", func(b []byte) []byte { return b[:datas[third]+10] }, incomplete},
		{"cut in a header", func(b []byte) []byte { return b[:hdrs[third]+300] }, incomplete},
		{"manifest edited", func(b []byte) []byte {
			i := datas[manifestName] + int64(bytes.Index(b[datas[manifestName]:], []byte(`"size":513`)))
			b[i+9] = '4'
			return b
		}, formatError(manifestName)},
		{"version 2", func(b []byte) []byte { b[datas[versionName]] = '2'; return b }, func(t *testing.T, err error) {
			var ve *VersionError
			if !errors.As(err, &ve) || ve.Version != "2" {
				t.Errorf("got %v, want a VersionError", err)
			}
		}},
		{"not a tar", func([]byte) []byte { return []byte("hello") }, formatError("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "b.tar")
			writeFile(t, p, tt.damage(bytes.Clone(good)))
			_, _, err := readBundle(p)
			if err == nil {
				t.Fatal("read without error")
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("%v does not name the bundle", err)
			}
			tt.check(t, err)
		})
	}
}

func incomplete(t *testing.T, err error) {
	var ie *IncompleteError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "run pack again") {
		t.Errorf("got %v, want an IncompleteError", err)
	}
}

func formatError(entry string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Entry != entry {
			t.Errorf("got %v, want a FormatError about entry %q", err, entry)
		}
	}
}

func TestResumeAfterTornWrite(t *testing.T) {
	dir := t.TempDir()
	straight := pack(t, filepath.Join(dir, "straight.tar"), locksAB, pkgs5)
	// A partial bundle of the first three packages, as a crashed pack leaves it.
	w, err := Create(filepath.Join(dir, "p.tar"), locksAB)
	if err != nil {
		t.Fatal(err)
	}
	addAll(t, w, pkgs5[:3])
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	partial := readFile(t, filepath.Join(dir, "p.tar"+partialSuffix))
	hdrs, datas := entryOffsets(t, partial)
	name := func(i int) string { return pkgsDir + pkgs5[i].e.Path() }
	secondLock := locksDir + "2-pixi.lock"
	tests := []struct {
		name string
		cut  int64  // where the partial ends
		tail string // and garbage after it
		how  Start
		kept int
	}{
		{"whole", int64(len(partial)), "", StartResumed, 3},
		{"between entries", hdrs[name(2)], "", StartResumed, 2},
		{"mid PAX header", hdrs[name(2)] + 100, "", StartResumed, 2},
		{"mid header", hdrs[name(2)] + 600, "", StartResumed, 2},
		{"mid data", datas[name(2)] + 10, "", StartResumed, 2},
		{"data without padding", datas[name(2)] + pkgs5[2].e.Size, "", StartResumed, 3},
		{"first package torn", datas[name(0)] + 999, "", StartResumed, 0},
		{"trailing garbage", int64(len(partial)), "garbage", StartResumed, 3},
		{"zeros after an entry", hdrs[name(2)], string(make([]byte, 1024)), StartResumed, 2},
		{"in the lock files", datas[secondLock] + 3, "", StartOver, 0},
		{"empty", 0, "", StartOver, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.tar")
			writeFile(t, path+partialSuffix, append(bytes.Clone(partial[:tt.cut]), tt.tail...))
			w, err := Create(path, locksAB)
			if err != nil {
				t.Fatal(err)
			}
			if how, kept := w.Start(); how != tt.how || kept != tt.kept {
				t.Errorf("Start() = %v, %d; want %v, %d", how, kept, tt.how, tt.kept)
			}
			for i, p := range pkgs5 {
				if has := w.Has(p.e.Subdir, p.e.Filename, strings.ToUpper(p.e.SHA256)); has != (i < tt.kept) {
					t.Errorf("Has(%s) = %v", p.e.Path(), has)
				}
			}
			addAll(t, w, pkgs5)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(readFile(t, path), straight) {
				t.Error("the resumed bundle differs from one packed in one go")
			}
		})
	}
}

func TestCreateWithOtherLocksStartsOver(t *testing.T) {
	for _, name := range []string{"b.tar" + partialSuffix, "b.tar"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			old := pack(t, filepath.Join(dir, "old.tar"), locksAB, pkgs5)
			path := filepath.Join(dir, "b.tar")
			writeFile(t, filepath.Join(dir, name), old)
			w, err := Create(path, locksC)
			if err != nil {
				t.Fatal(err)
			}
			if how, kept := w.Start(); how != StartOver || kept != 0 {
				t.Errorf("Start() = %v, %d", how, kept)
			}
			if name == "b.tar" && !bytes.Equal(readFile(t, path), old) {
				t.Error("the old complete bundle changed before Close")
			}
			addAll(t, w, pkgs5[1:2])
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			locks, got, err := readBundle(path)
			if err != nil || !equalLocks(locks, locksC) {
				t.Fatalf("got locks %q, %v", locks, err)
			}
			samePkgs(t, got, pkgs5[1:2])
		})
	}
}

func TestCreateOnCompleteBundle(t *testing.T) {
	dir := t.TempDir()
	straight := pack(t, filepath.Join(dir, "straight.tar"), locksAB, pkgs5)
	sixth := mkpkg("osx-arm64", "g-1-0.conda", 2000, false)
	withSixth := pack(t, filepath.Join(dir, "six.tar"), locksAB, append(pkgs5[:5:5], sixth))
	hdrs, datas := entryOffsets(t, straight)
	tests := []struct {
		name   string
		damage func([]byte) []byte
		add    []pkg
		how    Start
		kept   int
		want   []byte
	}{
		{"verified and left alone", nil, pkgs5, StartComplete, 5, straight},
		{"one package more", nil, append(pkgs5[:5:5], sixth), StartComplete, 5, withSixth},
		{"damaged package", func(b []byte) []byte { b[datas[pkgsDir+pkgs5[3].e.Path()]-1]++; return b }, pkgs5, StartResumed, 3, straight},
		{"no manifest", func(b []byte) []byte { return b[:hdrs[manifestName]+700] }, pkgs5, StartResumed, 5, straight},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.tar")
			b := bytes.Clone(straight)
			if tt.damage != nil {
				b = tt.damage(b)
			}
			writeFile(t, path, b)
			before, _ := os.Stat(path)
			w, err := Create(path, locksAB)
			if err != nil {
				t.Fatal(err)
			}
			if how, kept := w.Start(); how != tt.how || kept != tt.kept {
				t.Errorf("Start() = %v, %d; want %v, %d", how, kept, tt.how, tt.kept)
			}
			if _, err := os.Stat(path); (err == nil) != (tt.how == StartComplete) {
				t.Errorf("bundle at path while %v: %v", tt.how, err)
			}
			addAll(t, w, tt.add)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(readFile(t, path), tt.want) {
				t.Error("bundle differs from one packed in one go")
			}
			if after, _ := os.Stat(path); tt.how == StartComplete && len(tt.add) == 5 && !after.ModTime().Equal(before.ModTime()) {
				t.Error("a verified bundle was rewritten")
			}
		})
	}
}

func TestCreateRefusesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	v2 := pack(t, filepath.Join(dir, "v2.tar"), locksC, nil)
	_, datas := entryOffsets(t, v2)
	v2[datas[versionName]] = '2'
	for name, content := range map[string][]byte{"text": []byte("my notes"), "version 2": v2} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.tar")
			writeFile(t, path, content)
			if _, err := Create(path, locksC); err == nil || !strings.Contains(err.Error(), "not replacing") {
				t.Errorf("Create = %v, want a refusal", err)
			}
			if !bytes.Equal(readFile(t, path), content) {
				t.Error("file changed")
			}
		})
	}
	for _, locks := range [][]LockFile{nil, {{"a/pixi.lock", nil}}, {{"..", nil}}, {{"", nil}}} {
		if _, err := Create(filepath.Join(dir, "c.tar"), locks); err == nil {
			t.Errorf("Create with locks %q succeeded", locks)
		}
	}
}

func TestAddRefusesWrongBytes(t *testing.T) {
	good := pkgs5[0]
	wrongMD5 := good.e
	wrongMD5.MD5 = strings.Repeat("0", 32)
	tests := []struct {
		name  string
		e     Entry
		r     io.Reader
		check func(error) bool
	}{
		{"other bytes", good.e, bytes.NewReader(pkgs5[4].data[:good.e.Size]), isHash("sha256")},
		{"wrong md5", wrongMD5, bytes.NewReader(good.data), isHash("md5")},
		{"too short", good.e, bytes.NewReader(good.data[:10]), isSize(10)},
		{"too long", good.e, io.MultiReader(bytes.NewReader(good.data), strings.NewReader("xx")), isSize(good.e.Size + 2)},
		{"read error", good.e, io.MultiReader(bytes.NewReader(good.data[:600]), iotest.ErrReader(io.ErrClosedPipe)), func(err error) bool { return errors.Is(err, io.ErrClosedPipe) }},
		{"bad name", Entry{Subdir: "linux-64", Filename: "../a.conda", Size: 1, SHA256: good.e.SHA256}, strings.NewReader("x"), func(err error) bool { return err != nil }},
		{"conflict", Entry{Subdir: pkgs5[1].e.Subdir, Filename: pkgs5[1].e.Filename, SHA256: good.e.SHA256, Size: good.e.Size}, bytes.NewReader(good.data), func(err error) bool {
			var ce *ConflictError
			return errors.As(err, &ce)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "b.tar")
			w, err := Create(path, locksAB)
			if err != nil {
				t.Fatal(err)
			}
			addAll(t, w, pkgs5[1:3])
			before, _ := w.f.Stat()
			if err := w.Add(tt.e, tt.r); !tt.check(err) {
				t.Errorf("Add = %v", err)
			}
			if after, _ := w.f.Stat(); after.Size() != before.Size() {
				t.Errorf("failed Add left %d bytes", after.Size()-before.Size())
			}
			addAll(t, w, pkgs5[3:4])
			if err := w.Abort(); err != nil {
				t.Fatal(err)
			}
			// A resume keeps exactly the good packages, and finishes like a straight pack.
			w, err = Create(path, locksAB)
			if err != nil {
				t.Fatal(err)
			}
			if how, kept := w.Start(); how != StartResumed || kept != 3 {
				t.Errorf("Start() = %v, %d", how, kept)
			}
			want := []pkg{pkgs5[1], pkgs5[2], pkgs5[3], pkgs5[0], pkgs5[4]}
			addAll(t, w, want)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(readFile(t, path), pack(t, filepath.Join(dir, "straight.tar"), locksAB, want)) {
				t.Error("bundle differs from one packed in one go")
			}
		})
	}
}

func isHash(algo string) func(error) bool {
	return func(err error) bool {
		var he *HashMismatchError
		return errors.As(err, &he) && he.Algo == algo && he.Entry.Filename == pkgs5[0].e.Filename
	}
}

func isSize(got int64) func(error) bool {
	return func(err error) bool {
		var se *SizeMismatchError
		return errors.As(err, &se) && se.Got == got
	}
}

func TestAddSamePackageTwice(t *testing.T) {
	w, err := Create(filepath.Join(t.TempDir(), "b.tar"), locksC)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	addAll(t, w, pkgs5[:1])
	if err := w.Add(pkgs5[0].e, iotest.ErrReader(errors.New("read"))); err != nil {
		t.Errorf("adding a package the bundle has: %v", err)
	}
}

// rawEntry is a tar entry for hand-made bundles; a negative size writes a header that
// claims -size bytes and nothing after it.
type rawEntry struct {
	hdr  tar.Header
	data string
}

func raw(name, data string, pax map[string]string) rawEntry {
	return rawEntry{tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644, PAXRecords: pax, Format: tar.FormatPAX}, data}
}

func rawBundle(t testing.TB, entries ...rawEntry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if err := tw.WriteHeader(&e.hdr); err != nil {
			t.Fatal(err)
		}
		if e.hdr.Size > int64(len(e.data)) {
			return buf.Bytes() // a header claiming more than there is
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReaderRefusesUnsafeEntries(t *testing.T) {
	p := pkgs5[3] // empty
	sha := map[string]string{paxSHA256: p.e.SHA256}
	head := []rawEntry{raw(versionName, versionData, nil), raw(locksDir+"1-pixi.lock", "x", nil)}
	bad := func(name string) rawEntry { return raw(name, "", sha) }
	withType := func(name string, typ byte) rawEntry {
		e := raw(name, "", sha)
		e.hdr.Typeflag, e.hdr.Linkname = typ, "/etc/passwd"
		return e
	}
	huge := func(name string) rawEntry { e := raw(name, "", nil); e.hdr.Size = 64<<20 + 1; return e }
	ok := raw(pkgsDir+"noarch/d-1-0.conda", "", sha)
	tests := []struct {
		name    string
		entries []rawEntry
		entry   string // named by the FormatError
	}{
		{"dot-dot", []rawEntry{bad(pkgsDir + "../../etc/x.conda")}, pkgsDir + "../../etc/x.conda"},
		{"dot-dot subdir", []rawEntry{bad(pkgsDir + "../x.conda")}, pkgsDir + "../x.conda"},
		{"absolute", []rawEntry{bad("/etc/passwd")}, "/etc/passwd"},
		{"absolute package", []rawEntry{bad("/" + pkgsDir + "noarch/x.conda")}, "/" + pkgsDir + "noarch/x.conda"},
		{"deeper", []rawEntry{bad(pkgsDir + "noarch/sub/x.conda")}, pkgsDir + "noarch/sub/x.conda"},
		{"not a package", []rawEntry{bad(pkgsDir + "noarch/x.sh")}, pkgsDir + "noarch/x.sh"},
		{"dot-file", []rawEntry{bad(pkgsDir + "noarch/.conda")}, pkgsDir + "noarch/.conda"},
		{"backslash", []rawEntry{bad(pkgsDir + `noarch\..\x.conda`)}, pkgsDir + `noarch\..\x.conda`},
		{"odd subdir", []rawEntry{bad(pkgsDir + "Linux 64/x.conda")}, pkgsDir + "Linux 64/x.conda"},
		{"no subdir", []rawEntry{bad(pkgsDir + "x.conda")}, pkgsDir + "x.conda"},
		{"other folder", []rawEntry{bad(root + "etc/x.conda")}, root + "etc/x.conda"},
		{"symlink", []rawEntry{withType(ok.hdr.Name, tar.TypeSymlink)}, ok.hdr.Name},
		{"hard link", []rawEntry{withType(ok.hdr.Name, tar.TypeLink)}, ok.hdr.Name},
		{"folder", []rawEntry{withType(pkgsDir+"noarch/", tar.TypeDir)}, pkgsDir + "noarch/"},
		{"duplicate", []rawEntry{ok, ok}, ok.hdr.Name},
		{"no sha256", []rawEntry{raw(ok.hdr.Name, "", nil)}, ok.hdr.Name},
		{"bad md5", []rawEntry{raw(ok.hdr.Name, "", map[string]string{paxSHA256: p.e.SHA256, paxMD5: "xyz"})}, ok.hdr.Name},
		{"lock out of order", []rawEntry{raw(locksDir+"3-a.lock", "", nil)}, locksDir + "3-a.lock"},
		{"lock in a folder", []rawEntry{raw(locksDir+"2-a/b.lock", "", nil)}, locksDir + "2-a/b.lock"},
		{"lock too large", []rawEntry{huge(locksDir + "2-a.lock")}, locksDir + "2-a.lock"},
		{"manifest too large", []rawEntry{huge(manifestName)}, manifestName},
		{"entry after manifest", []rawEntry{raw(manifestName, `{"version":1,"locks":["1-pixi.lock"],"packages":[]}`, nil), ok}, ok.hdr.Name},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := rawBundle(t, append(head[:2:2], tt.entries...)...)
			r, err := newReader("b.tar", bytes.NewReader(b))
			var got []pkg
			if err == nil {
				got, err = readAll(r)
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Entry != tt.entry || !strings.Contains(err.Error(), "b.tar") {
				t.Errorf("got %v, want a FormatError about %q", err, tt.entry)
			}
			for _, p := range got {
				if p.e.problem() != "" || p.e.Path() != ok.hdr.Name[len(pkgsDir):] {
					t.Errorf("gave entry %+v", p.e)
				}
			}
		})
	}
}
