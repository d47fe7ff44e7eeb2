package xz

import (
	"bytes"
	"io"
	"testing"

	uxz "github.com/ulikunitz/xz"
)

// referenceDecode decodes with github.com/ulikunitz/xz, used only to
// cross-check this package in tests. Its dictionary is capped at 1 MiB
// (it would allocate 8 MiB per block, which dominates fuzzing time); no
// test output here needs more history than that.
func referenceDecode(comp []byte) ([]byte, error) {
	r, err := uxz.ReaderConfig{DictCap: 1 << 20}.NewReader(bytes.NewReader(comp))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(r, fuzzOutputLimit))
}

// fuzzOutputLimit keeps a tiny input that expands enormously from making a
// fuzz iteration slow.
const fuzzOutputLimit = 1 << 20

func FuzzReader(f *testing.F) {
	in := inputs()
	small := in["part"][:3000]
	seeds := [][]byte{
		xzCompress(f, nil),
		xzCompress(f, in["small"]),
		xzCompress(f, small, "--check=crc32"),
		xzCompress(f, small, "--check=none", "--lzma2=dict=4KiB,lc=0,lp=2,pb=1"),
		xzCompress(f, small, "--check=sha256", "--block-size=1000"),
		xzCompress(f, small, "--delta=dist=2", "--lzma2=preset=0"),
		xzCompress(f, in["random"][:2000], "-T2", "--block-size=1500"),
		append(xzCompress(f, in["small"]), append(make([]byte, 4), xzCompress(f, small[:100])...)...),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, comp []byte) {
		r, err := NewReader(bytes.NewReader(comp))
		if err != nil {
			return
		}
		var out bytes.Buffer
		_, err = io.Copy(&out, io.LimitReader(r, fuzzOutputLimit))
		if err != nil || out.Len() == fuzzOutputLimit {
			return
		}
		// Accepted: a second decoder that also accepts must agree.
		ref, rerr := referenceDecode(comp)
		if rerr == nil && len(ref) < fuzzOutputLimit && !bytes.Equal(ref, out.Bytes()) {
			t.Fatalf("output differs from reference decoder: %d vs %d bytes", out.Len(), len(ref))
		}
	})
}
