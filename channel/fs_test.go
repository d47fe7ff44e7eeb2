package channel_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/s3test"
)

// rangeCounter counts the ranged reads that reach a store (on S3, one GET each).
type rangeCounter struct {
	channel.Store
	n atomic.Int64
}

func (c *rangeCounter) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, channel.Object, error) {
	c.n.Add(1)
	return c.Store.GetRange(ctx, key, offset, length)
}

func (c *rangeCounter) ReadRange(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	c.n.Add(1)
	return c.Store.ReadRange(ctx, key, offset, length)
}

// fsBackends are the stores FS is tested over: a local folder and versitygw.
func fsBackends(t *testing.T) []struct {
	name  string
	store func(t *testing.T) channel.Store
} {
	return []struct {
		name  string
		store func(t *testing.T) channel.Store
	}{
		{"local", func(t *testing.T) channel.Store {
			st, err := channel.NewLocal(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return st
		}},
		{"s3", func(t *testing.T) channel.Store {
			srv := s3test.Start(t)
			return srv.Store(t, srv.NewBucket(t), "")
		}},
	}
}

// testZip builds a zip of n entries, half stored random bytes (incompressible), half
// deflated text, about 16 KiB each, and returns it with its members.
func testZip(t *testing.T, n int, seed int64) ([]byte, map[string][]byte) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	members := map[string][]byte{}
	for i := range n {
		name := fmt.Sprintf("app-1.0/lib/module%03d.bin", i)
		data := make([]byte, 16<<10+rng.Intn(1024))
		method := zip.Store
		if i%2 == 0 {
			rng.Read(data)
		} else {
			method = zip.Deflate
			copy(data, strings.Repeat(fmt.Sprintf("line %d of member %d\n", rng.Int(), i), len(data)))
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		members[name] = data
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), members
}

func putObject(t *testing.T, st channel.Store, key string, data []byte) {
	t.Helper()
	if _, err := st.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), channel.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func openReaderAt(t *testing.T, st channel.Store, key string) (io.ReaderAt, int64) {
	t.Helper()
	f, err := channel.FS(context.Background(), st).Open(key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f.(io.ReaderAt), fi.Size()
}

// archive/zip reads a zip through ReadAt in pieces of a few bytes to a few KiB; each
// 1 MiB block of the object must be fetched once, not once per piece (one GET per ReadAt
// made 1705 requests for this 1.7 MB zip).
func TestFSReadsZipInFewRequests(t *testing.T) {
	for _, b := range fsBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			st := b.store(t)
			data, members := testZip(t, 200, 1)
			putObject(t, st, "sources/app-1.0.zip", data)
			counter := &rangeCounter{Store: st}
			ra, size := openReaderAt(t, counter, "sources/app-1.0.zip")
			var s3Before int64
			if s3, ok := st.(channel.RequestCounter); ok {
				s3Before = s3.Stats().Get.Load()
			}
			zr, err := zip.NewReader(ra, size)
			if err != nil {
				t.Fatal(err)
			}
			if len(zr.File) != len(members) {
				t.Fatalf("%d entries, want %d", len(zr.File), len(members))
			}
			for _, zf := range zr.File {
				rc, err := zf.Open()
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(rc) // runs the CRC check at the end
				rc.Close()
				if err != nil {
					t.Fatalf("%s: %v", zf.Name, err)
				}
				if !bytes.Equal(got, members[zf.Name]) {
					t.Fatalf("%s: content differs", zf.Name)
				}
			}
			blocks := (size + 1<<20 - 1) >> 20
			if n := counter.n.Load(); n > blocks {
				t.Errorf("%d range requests for a %d-byte zip of %d entries, want at most %d (one per 1 MiB block)", n, size, len(zr.File), blocks)
			}
			if s3, ok := st.(channel.RequestCounter); ok {
				if gets := s3.Stats().Get.Load() - s3Before; gets > blocks {
					t.Errorf("%d GET requests, want at most %d", gets, blocks)
				}
			}
		})
	}
}

func TestFSReadAt(t *testing.T) {
	data := make([]byte, 3<<20+12345)
	rand.New(rand.NewSource(2)).Read(data)
	size := int64(len(data))
	tests := []struct {
		name     string
		off      int64
		len      int
		want     int   // bytes read
		eof      bool  // io.EOF expected
		requests int64 // range requests made by this read alone, on a fresh file
	}{
		{"small", 100, 30, 30, false, 1},
		{"across two blocks", 1<<20 - 10, 20, 20, false, 2},
		{"last block", size - 50, 50, 50, false, 1},
		{"past the end", size - 10, 100, 10, true, 1},
		{"at the end", size, 10, 0, true, 0},
		{"empty", 5, 0, 0, false, 0},
		{"large goes straight through", 1000, 2 << 20, 2 << 20, false, 1},
		{"large past the end", size - (1 << 20) - 5, 2 << 20, 1<<20 + 5, true, 1},
	}
	for _, b := range fsBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			st := b.store(t)
			putObject(t, st, "a.bin", data)
			for _, tt := range tests {
				counter := &rangeCounter{Store: st}
				ra, _ := openReaderAt(t, counter, "a.bin")
				p := make([]byte, tt.len)
				n, err := ra.ReadAt(p, tt.off)
				if n != tt.want || (err == io.EOF) != tt.eof || (err != nil && err != io.EOF) {
					t.Errorf("%s: ReadAt(%d bytes at %d) = %d, %v; want %d (EOF %v)", tt.name, tt.len, tt.off, n, err, tt.want, tt.eof)
					continue
				}
				if n > 0 && !bytes.Equal(p[:n], data[tt.off:tt.off+int64(n)]) {
					t.Errorf("%s: wrong bytes", tt.name)
				}
				if got := counter.n.Load(); got != tt.requests {
					t.Errorf("%s: %d range requests, want %d", tt.name, got, tt.requests)
				}
			}
			// io.ReaderAt allows parallel calls: they share the cache.
			ra, _ := openReaderAt(t, st, "a.bin")
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewSource(int64(g)))
					p := make([]byte, 4096)
					for range 200 {
						off := rng.Int63n(size - int64(len(p)))
						if _, err := ra.ReadAt(p, off); err != nil || !bytes.Equal(p, data[off:off+int64(len(p))]) {
							t.Errorf("parallel ReadAt at %d: %v", off, err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// Replacing the object while a zip is read through it must fail with an error naming
// the key, not hand out bytes of two versions.
func TestFSReadAtObjectReplacedMidRead(t *testing.T) {
	for _, b := range fsBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			st := b.store(t)
			const key = "sources/app-1.0.zip"
			data, _ := testZip(t, 200, 3)
			putObject(t, st, key, data)
			ra, size := openReaderAt(t, st, key)
			zr, err := zip.NewReader(ra, size) // reads (and caches) the end of the object
			if err != nil {
				t.Fatal(err)
			}
			other, _ := testZip(t, 200, 4) // another version of the same size
			if len(other) != len(data) {
				other = append(other[:0:0], data...)
				other[0] ^= 1
			}
			putObject(t, st, key, other)
			var readErr error
			for _, zf := range zr.File {
				rc, err := zf.Open()
				if err == nil {
					_, err = io.Copy(io.Discard, rc)
					rc.Close()
				}
				if err != nil {
					readErr = err
					break
				}
			}
			if !errors.Is(readErr, channel.ErrChanged) || !strings.Contains(readErr.Error(), key) {
				t.Fatalf("reading the replaced object: %v, want an error naming %s that wraps ErrChanged", readErr, key)
			}
			var pe *fs.PathError
			if !errors.As(readErr, &pe) || pe.Path != key {
				t.Errorf("error %v is not a PathError for %s", readErr, key)
			}
			// A large read, which skips the cache, checks the version too.
			if _, err := ra.ReadAt(make([]byte, 2<<20), 0); !errors.Is(err, channel.ErrChanged) {
				t.Errorf("large read: %v, want ErrChanged", err)
			}
		})
	}
}
