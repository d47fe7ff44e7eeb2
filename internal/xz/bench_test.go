package xz

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// BenchmarkDecode decodes the file named by CONDACHAN_XZ_BENCH_FILE, e.g. a
// large upstream .tar.xz; it is skipped when the variable is unset.
func BenchmarkDecode(b *testing.B) {
	name := os.Getenv("CONDACHAN_XZ_BENCH_FILE")
	if name == "" {
		b.Skip("set CONDACHAN_XZ_BENCH_FILE to an .xz file to benchmark")
	}
	comp, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	benchDecode(b, comp)
}

// BenchmarkDecodeGenerated needs only the xz CLI.
func BenchmarkDecodeGenerated(b *testing.B) {
	benchDecode(b, xzCompress(b, inputs()["mixed"]))
}

func benchDecode(b *testing.B, comp []byte) {
	var n int64
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(comp))
		if err != nil {
			b.Fatal(err)
		}
		n, err = io.Copy(io.Discard, r)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(n)
}
