package xz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// xzCompress runs the xz CLI on data. The tests depend on xz-utils being
// installed, as it is wherever this package is developed and tested.
func xzCompress(t testing.TB, data []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("xz", append([]string{"-c", "-T1"}, args...)...)
	cmd.Stdin = bytes.NewReader(data)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("xz %v: %v: %s", args, err, errb.String())
	}
	return out.Bytes()
}

// Generated inputs, deterministic so failures reproduce.

func randomBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// textBytes is word-like text with a Zipf-distributed vocabulary: it
// compresses the way prose and source code do, and xz encodes it quickly
// (a tiny vocabulary would make xz's match finder crawl).
func textBytes(n int, seed int64) []byte {
	rng := rand.New(rand.NewSource(seed))
	words := make([]string, 3000)
	for i := range words {
		w := make([]byte, 2+rng.Intn(9))
		for j := range w {
			w[j] = byte('a' + rng.Intn(26))
		}
		words[i] = string(w)
	}
	zipf := rand.NewZipf(rng, 1.1, 2, uint64(len(words)-1))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[zipf.Uint64()])
		switch rng.Intn(15) {
		case 0:
			b.WriteString(".\n")
		case 1:
			fmt.Fprintf(&b, " %d ", rng.Intn(100000))
		default:
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

// mixedBytes interleaves incompressible and compressible runs so the encoder
// emits uncompressed chunks between LZMA chunks, exercising the LZMA2 reset
// rules, plus long zero runs and short-period repeats for match copies.
func mixedBytes(n int, seed int64) []byte {
	rng := rand.New(rand.NewSource(seed))
	var b bytes.Buffer
	for b.Len() < n {
		switch rng.Intn(4) {
		case 0:
			b.Write(randomBytes(rng.Intn(200000), rng.Int63()))
		case 1:
			b.Write(textBytes(rng.Intn(200000), rng.Int63()))
		case 2:
			b.Write(make([]byte, rng.Intn(100000)))
		case 3:
			pat := randomBytes(1+rng.Intn(12), rng.Int63())
			for i := rng.Intn(5000); i > 0; i-- {
				b.Write(pat)
			}
		}
	}
	return b.Bytes()[:n]
}

var (
	fixturesOnce sync.Once
	fixtureData  map[string][]byte
)

func inputs() map[string][]byte {
	fixturesOnce.Do(func() {
		fixtureData = map[string][]byte{
			"empty":  {},
			"byte":   {'x'},
			"small":  []byte("hello, condachan\n"),
			"random": randomBytes(1<<20, 1),
			"text":   textBytes(1<<20, 2),
			"mixed":  mixedBytes(3<<20, 3),
			"part":   mixedBytes(512<<10, 4),
		}
	})
	return fixtureData
}

func decodeAll(t testing.TB, comp []byte) ([]byte, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(comp))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	_, err = io.Copy(&out, r)
	return out.Bytes(), err
}

func TestRoundTrip(t *testing.T) {
	in := inputs()
	cases := []struct {
		name  string
		input string
		args  []string
	}{
		{"empty", "empty", nil},
		{"byte", "byte", nil},
		{"small", "small", nil},
		{"random", "random", nil},
		{"text", "text", nil},
		{"mixed", "mixed", nil},
		{"check-none", "part", []string{"--check=none"}},
		{"check-crc32", "part", []string{"--check=crc32"}},
		{"check-crc64", "small", []string{"--check=crc64"}},
		{"check-sha256", "part", []string{"--check=sha256"}},
		{"check-sha256-empty", "empty", []string{"--check=sha256"}},
		{"preset-0", "mixed", []string{"-0"}},
		{"extreme-9", "part", []string{"-e", "-9"}},
		{"dict-4KiB", "mixed", []string{"--lzma2=dict=4KiB"}},
		{"dict-4KiB-text", "text", []string{"--lzma2=dict=4KiB,mf=hc4"}},
		{"dict-12KiB", "part", []string{"--lzma2=dict=12KiB"}},
		{"blocks", "part", []string{"--block-size=100000"}},
		{"blocks-list", "part", []string{"--block-list=1000,1,50000,0"}},
		{"blocks-sizes-in-header", "mixed", []string{"-T2", "--block-size=300000", "--lzma2=preset=1"}},
		{"lc0-lp4-pb0", "part", []string{"--lzma2=lc=0,lp=4,pb=0"}},
		{"lc4-lp0-pb4", "part", []string{"--lzma2=lc=4,lp=0,pb=4"}},
		{"lc1-lp3-pb2-nice273", "part", []string{"--lzma2=lc=1,lp=3,pb=2,nice=273"}},
		{"mode-fast", "mixed", []string{"--lzma2=mode=fast,mf=hc3"}},
		{"delta-1", "part", []string{"--delta=dist=1", "--lzma2"}},
		{"delta-4", "text", []string{"--delta=dist=4", "--lzma2=preset=1"}},
		{"delta-256", "part", []string{"--delta=dist=256", "--lzma2=preset=1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := in[tc.input]
			comp := xzCompress(t, data, tc.args...)
			got, err := decodeAll(t, comp)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("output differs: got %d bytes, want %d", len(got), len(data))
			}
		})
	}
}

// TestReadPatterns reads through Read (not WriteTo) with odd buffer sizes and
// from inputs that deliver bytes slowly, covering the buffering paths.
func TestReadPatterns(t *testing.T) {
	data := inputs()["part"]
	comp := xzCompress(t, data, "--block-size=200000", "--lzma2=dict=64KiB")
	wraps := map[string]func(io.Reader) io.Reader{
		"plain":   func(r io.Reader) io.Reader { return r },
		"onebyte": iotest.OneByteReader,
		"half":    iotest.HalfReader,
		"dataerr": iotest.DataErrReader,
	}
	for name, wrap := range wraps {
		for _, bufSize := range []int{1, 7, 4096, 1 << 20} {
			t.Run(fmt.Sprintf("%s/%d", name, bufSize), func(t *testing.T) {
				if name == "onebyte" && bufSize == 1 {
					data := data[:100000]
					comp := xzCompress(t, data)
					checkRead(t, wrap(bytes.NewReader(comp)), bufSize, data)
					return
				}
				checkRead(t, wrap(bytes.NewReader(comp)), bufSize, data)
			})
		}
	}
}

func checkRead(t *testing.T, src io.Reader, bufSize int, want []byte) {
	t.Helper()
	r, err := NewReader(src)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, bufSize)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("output differs: got %d bytes, want %d", len(got), len(want))
	}
	// Reads after EOF keep returning EOF.
	if n, err := r.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read after EOF: %d, %v", n, err)
	}
}

func TestConcatenatedAndPadding(t *testing.T) {
	in := inputs()
	a := xzCompress(t, in["small"])
	b := xzCompress(t, in["text"][:300000], "--check=sha256", "-1")
	c := xzCompress(t, in["empty"], "--check=none")
	pad4 := make([]byte, 4)
	pad12 := make([]byte, 12)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	want := cat(in["small"], in["text"][:300000])

	cases := []struct {
		name string
		comp []byte
		want []byte
	}{
		{"two", cat(a, b), want},
		{"three-with-empty", cat(a, c, b), want},
		{"padding-between", cat(a, pad4, b), want},
		{"padding-after", cat(a, b, pad12), want},
		{"padding-everywhere", cat(a, pad12, c, pad4, b, pad4), want},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeAll(t, tc.comp)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("output differs: got %d bytes, want %d", len(got), len(tc.want))
			}
		})
	}

	// Streams with different dictionary sizes make the window shrink and
	// grow again between blocks.
	mixed := in["mixed"]
	big := xzCompress(t, mixed[:1500000], "--lzma2=preset=1,dict=1MiB")
	tiny := xzCompress(t, mixed[1500000:2000000], "--lzma2=preset=1,dict=4KiB", "--check=crc32")
	mid := xzCompress(t, mixed[2000000:], "--lzma2=preset=1,dict=512KiB", "--block-size=300000")
	got, err := decodeAll(t, cat(big, tiny, pad4, mid, tiny))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, cat(mixed, mixed[1500000:2000000])) {
		t.Fatal("dictionary-size changes: output differs")
	}

	bad := []struct {
		name string
		comp []byte
	}{
		{"padding-not-multiple-of-4", cat(a, make([]byte, 3))},
		{"padding-6", cat(a, make([]byte, 6))},
		{"garbage-after", cat(a, []byte("junk"))},
		{"padding-before", cat(pad4, a)},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeAll(t, tc.comp)
			if err == nil {
				t.Fatal("expected an error")
			}
			if tc.name == "garbage-after" && !strings.Contains(err.Error(), "bad header magic") {
				t.Fatalf("got %v, want a bad magic error", err)
			}
			// Like xz -dc, the streams before the garbage are output.
			if tc.name != "padding-before" && !bytes.Equal(got, in["small"]) {
				t.Fatalf("got %q before the error", got)
			}
		})
	}
}

// corruptionSample returns a small .xz file whose every part (headers,
// several chunks, index, footer) is a target for byte flips.
func corruptionSample(t testing.TB, check string) ([]byte, []byte) {
	data := inputs()["part"][:40000]
	return data, xzCompress(t, data, "--check="+check, "--block-size=15000", "--lzma2=dict=8KiB")
}

// TestCorruption flips bytes all over valid files: every flip must give an
// error or (only conceivable in theory) the original output, never a panic,
// a hang or different output.
func TestCorruption(t *testing.T) {
	for _, check := range []string{"crc32", "crc64", "sha256"} {
		t.Run(check, func(t *testing.T) {
			t.Parallel()
			data, comp := corruptionSample(t, check)
			edge := 400
			if testing.Short() {
				edge = 100
			}
			for _, i := range cutPoints(len(comp), edge) {
				for _, x := range []byte{0x01, 0x80, 0xFF} {
					mod := bytes.Clone(comp)
					mod[i] ^= x
					got, err := decodeAll(t, mod)
					if err == nil && !bytes.Equal(got, data) {
						t.Fatalf("flip %#x at %d of %d: no error and wrong output", x, i, len(comp))
					}
				}
			}
		})
	}
}

// cutPoints returns every position within edge bytes of either end of a
// file of length n (where headers, the index and the footer live) and about
// 2*edge positions spread over the middle.
func cutPoints(n, edge int) []int {
	var ps []int
	step := max(1, n/(2*edge))
	for i := 0; i < n; {
		ps = append(ps, i)
		if i < edge || i >= n-edge {
			i++
		} else {
			i += step
		}
	}
	return ps
}

func TestTruncation(t *testing.T) {
	in := inputs()
	files := map[string][]byte{
		"small":  xzCompress(t, in["small"]),
		"empty":  xzCompress(t, in["empty"]),
		"blocks": xzCompress(t, in["part"][:60000], "--block-size=20000", "--check=sha256"),
		"random": xzCompress(t, in["random"][:150000]),
	}
	for name, comp := range files {
		t.Run(name, func(t *testing.T) {
			for _, n := range cutPoints(len(comp), 300) {
				_, err := decodeAll(t, comp[:n])
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("truncated to %d of %d: got %v, want an error wrapping io.ErrUnexpectedEOF", n, len(comp), err)
				}
				if !strings.Contains(err.Error(), "xz: truncated") {
					t.Fatalf("truncated to %d: error %q lacks context", n, err)
				}
			}
		})
	}
}

// TestErrors checks specific malformed inputs produce the intended errors.
func TestErrors(t *testing.T) {
	in := inputs()
	small := xzCompress(t, in["small"])
	crc64File := xzCompress(t, in["text"][:10000], "--check=crc64")

	// setHeaderCRC recomputes a stream header's CRC after editing its flags.
	setHeaderCRC := func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[8:], crc32.ChecksumIEEE(b[6:8]))
		return b
	}
	setFooterCRC := func(b []byte) []byte {
		f := b[len(b)-12:]
		binary.LittleEndian.PutUint32(f, crc32.ChecksumIEEE(f[4:10]))
		return b
	}
	// index returns the index of the last stream (its size comes from the
	// footer's backward size).
	index := func(b []byte) []byte {
		f := b[len(b)-12:]
		size := (int(binary.LittleEndian.Uint32(f[4:])) + 1) * 4
		return b[len(b)-12-size : len(b)-12]
	}
	setIndexCRC := func(b []byte) []byte {
		x := index(b)
		binary.LittleEndian.PutUint32(x[len(x)-4:], crc32.ChecksumIEEE(x[:len(x)-4]))
		return b
	}
	// lastCheck is the check field of the last block: just before the index.
	lastCheck := func(b []byte, size int) []byte {
		x := index(b)
		end := len(b) - 12 - len(x)
		return b[end-size : end]
	}

	cases := []struct {
		name string
		comp []byte
		want string
	}{
		{"not-xz", []byte("definitely not an xz file"), "bad header magic"},
		{"header-crc", func() []byte { b := bytes.Clone(small); b[8] ^= 1; return b }(), "stream header CRC32 mismatch"},
		{"unknown-check", setHeaderCRC(func() []byte { b := bytes.Clone(small); b[7] = 0x02; return b }()), "unsupported check type 0x2"},
		{"reserved-flags", setHeaderCRC(func() []byte { b := bytes.Clone(small); b[6] = 0x01; return b }()), "unsupported stream flags"},
		{"crc64-mismatch", func() []byte { b := bytes.Clone(crc64File); lastCheck(b, 8)[3] ^= 0x10; return b }(), "block 0: CRC64 mismatch"},
		{"footer-flags", setFooterCRC(func() []byte { b := bytes.Clone(small); b[len(b)-3] = 0x01; return b }()), "footer flags do not match"},
		{"footer-backward-size", setFooterCRC(func() []byte { b := bytes.Clone(small); b[len(b)-8]++; return b }()), "backward size"},
		{"footer-magic", func() []byte { b := bytes.Clone(small); b[len(b)-1] = 'X'; return b }(), "bad magic"},
		{"index-uncompressed-size", setIndexCRC(func() []byte {
			b := bytes.Clone(small)
			x := index(b)
			// indicator, count, unpadded size, uncompressed size (17)
			if x[1] != 1 || x[3] != byte(len(in["small"])) {
				t.Fatalf("unexpected index layout % x", x)
			}
			x[3]++
			return b
		}()), "index does not match"},
		{"index-count", setIndexCRC(func() []byte {
			b := bytes.Clone(small)
			index(b)[1] = 2
			return b
		}()), "index lists 2 blocks"},
		{"index-crc", func() []byte { b := bytes.Clone(small); x := index(b); x[len(x)-1] ^= 1; return b }(), "index CRC32 mismatch"},
		{"x86-filter", xzCompress(t, in["small"], "--x86", "--lzma2"), "unsupported filter 0x4 (x86 BCJ)"},
		{"arm-filter", xzCompress(t, in["small"], "--arm", "--lzma2"), "unsupported filter 0x7 (ARM BCJ)"},
		{"block-header-crc", func() []byte { b := bytes.Clone(small); b[12+2] ^= 1; return b }(), "block 0: header CRC32 mismatch"},
		{"dict-too-large", func() []byte {
			b := bytes.Clone(small)
			// Block header of xz -6: size, flags, filter id 0x21, props
			// size 1, dict byte. Ask for a 1.5 GiB dictionary.
			h := b[12:]
			if h[2] != 0x21 || h[3] != 1 {
				t.Fatalf("unexpected block header % x", h[:8])
			}
			h[4] = 39
			n := (int(h[0]) + 1) * 4
			binary.LittleEndian.PutUint32(h[n-4:], crc32.ChecksumIEEE(h[:n-4]))
			return b
		}(), "exceeds limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeAll(t, tc.comp)
			if err == nil {
				t.Fatalf("expected error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestBlockSizeFields uses multi-threaded xz, which records compressed and
// uncompressed sizes in block headers, and checks that wrong values are
// caught.
func TestBlockSizeFields(t *testing.T) {
	data := inputs()["text"][:200000]
	comp := xzCompress(t, data, "-T2", "--block-size=150000")
	h := comp[12:]
	if h[1]&0xC0 != 0xC0 {
		t.Fatalf("expected sizes in the block header, flags %#x", h[1])
	}
	got, err := decodeAll(t, comp)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("valid file: %v", err)
	}
	n := (int(h[0]) + 1) * 4
	for _, field := range []struct {
		name string
		off  int
	}{{"compressed", 2}, {"uncompressed", 0}} {
		t.Run(field.name, func(t *testing.T) {
			mod := bytes.Clone(comp)
			mh := mod[12:]
			off := 2
			if field.name == "uncompressed" {
				// Skip the compressed size varint.
				for mh[off]&0x80 != 0 {
					off++
				}
				off++
			}
			mh[off] ^= 0x01
			binary.LittleEndian.PutUint32(mh[n-4:], crc32.ChecksumIEEE(mh[:n-4]))
			_, err := decodeAll(t, mod)
			if err == nil || !strings.Contains(err.Error(), field.name+" size") {
				t.Fatalf("got %v, want a %s size error", err, field.name)
			}
		})
	}
}

// TestDifferential decodes the same files with github.com/ulikunitz/xz.
func TestDifferential(t *testing.T) {
	in := inputs()
	for _, name := range []string{"small", "part"} {
		comp := xzCompress(t, in[name], "--block-size=200000", "-1")
		ours, err := decodeAll(t, comp)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := referenceDecode(comp)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, ref) {
			t.Fatalf("%s: differs from reference decoder", name)
		}
	}
}
