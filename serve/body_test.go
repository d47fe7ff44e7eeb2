package serve

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// Every section of a body reads back as the bytes it was made of, whether the body is
// in memory or in a memfd, across the in-memory head's edge.
func TestBodySections(t *testing.T) {
	for _, size := range []int{0, 1, sniffLen - 1, sniffLen, sniffLen + 1, zeroCopyMin - 1, zeroCopyMin, zeroCopyMin + sniffLen + 3, 5<<20 + 7} {
		data := randomBytes(size, uint64(size))
		for _, mk := range []struct {
			name string
			fn   func() (*body, error)
		}{
			{"readBody", func() (*body, error) { return readBody(bytes.NewReader(data), int64(size)) }},
			{"bytesBody", func() (*body, error) { return bytesBody(data), nil }},
		} {
			b, err := mk.fn()
			if err != nil {
				t.Fatalf("%s of %d bytes: %v", mk.name, size, err)
			}
			if b.size != int64(size) {
				t.Fatalf("%s of %d bytes: size %d", mk.name, size, b.size)
			}
			inFile := b.file != nil
			if want := runtime.GOOS == "linux" && size >= zeroCopyMin; inFile != want {
				t.Errorf("%s of %d bytes: in a memfd %v, expected %v", mk.name, size, inFile, want)
			}
			sections := [][2]int{{0, size}, {0, min(size, sniffLen)}, {size / 3, size - size/3}, {size, 0}}
			if size > sniffLen+10 {
				sections = append(sections, [2]int{sniffLen - 5, 10}, [2]int{sniffLen, size - sniffLen}, [2]int{size - 1, 1})
			}
			for _, s := range sections {
				// Small reads too: they must not stop at the head's edge.
				for _, bufSize := range []int{7, 32 << 10} {
					r := b.reader(int64(s[0]), int64(s[1]))
					got, err := io.ReadAll(struct{ io.Reader }{&chunkedReader{r, bufSize}})
					if err != nil {
						t.Fatalf("%s of %d bytes, section %v: %v", mk.name, size, s, err)
					}
					if !bytes.Equal(got, data[s[0]:s[0]+s[1]]) {
						t.Fatalf("%s of %d bytes, section %v (reads of %d): wrong bytes", mk.name, size, s, bufSize)
					}
				}
			}
			// A chunk split off a reader covers exactly its part.
			r := b.reader(0, int64(size))
			var joined []byte
			for r.off < r.end {
				c := r.next(zeroCopyMin / 3)
				if mem, ok := c.inMemory(); ok {
					joined = append(joined, mem...)
				} else {
					part, err := io.ReadAll(c)
					if err != nil {
						t.Fatal(err)
					}
					joined = append(joined, part...)
				}
			}
			if !bytes.Equal(joined, data) {
				t.Fatalf("%s of %d bytes: chunks do not join up to the body", mk.name, size)
			}
			if inFile {
				// Sealed: the bytes cannot change under a Content-Length already sent.
				if _, err := b.file.WriteAt([]byte("x"), 0); err == nil {
					t.Errorf("%s of %d bytes: the memfd took a write", mk.name, size)
				}
				if err := b.file.Truncate(1); err == nil {
					t.Errorf("%s of %d bytes: the memfd could be truncated", mk.name, size)
				}
			}
		}
	}
}

type chunkedReader struct {
	r io.Reader
	n int
}

func (c *chunkedReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// An object that changed size while it was read is refused, not kept short or cut.
func TestReadBodyChangedObject(t *testing.T) {
	for _, size := range []int{100, zeroCopyMin + 100} {
		data := randomBytes(size, 1)
		if _, err := readBody(bytes.NewReader(data[:size-1]), int64(size)); err == nil || !strings.Contains(err.Error(), "shrank") {
			t.Errorf("%d bytes announced, one fewer read: %v", size, err)
		}
		if _, err := readBody(bytes.NewReader(append(data, 'x')), int64(size)); err == nil || !strings.Contains(err.Error(), "grew") {
			t.Errorf("%d bytes announced, one more read: %v", size, err)
		}
		if _, err := readBody(io.MultiReader(bytes.NewReader(data[:10]), failingReader{}), int64(size)); err == nil || !strings.Contains(err.Error(), "connection reset") {
			t.Errorf("%d bytes, the read failed: %v", size, err)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) {
	return 0, errors.New("read tcp: connection reset by peer")
}
