package channel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sync"
	"time"
)

// FS is a read-only fs.FS view of a store's objects: Open streams an object (one GET),
// and the file also reads at offsets (io.ReaderAt) with ranged GETs of 1 MiB blocks, so a
// zip can be read through its central directory without downloading it first. Every read
// checks that the object is still the version Stat saw at open (ErrChanged otherwise).
// The build reads source archives staged in S3 this way, straight into the package,
// without a local copy.
func FS(ctx context.Context, s Store) fs.FS { return storeFS{ctx, s} }

type storeFS struct {
	ctx context.Context
	s   Store
}

func (f storeFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) || name == "." {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	obj, err := f.s.Stat(f.ctx, name)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			err = fs.ErrNotExist
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &objectFile{ctx: f.ctx, s: f.s, obj: obj}, nil
}

// ErrChanged is wrapped by the error of a read that finds the object replaced since it
// was opened (its ETag or size changed): the bytes already read belong to another version.
var ErrChanged = errors.New("the object changed while being read")

// ReadAt serves reads smaller than readAtBlock from aligned blocks of that size, keeping
// the last readAtBlocks of them. archive/zip reads a zip through ReaderAt in many small
// pieces (the central directory in 4 KiB steps, a 30-byte local header per entry, then
// the entry through a bufio or flate reader), and one ranged GET per piece made reading a
// zip in S3 cost a round trip every few KiB. Reads of a block or more go straight
// through: the cache would only copy them.
const (
	readAtBlock  = 1 << 20
	readAtBlocks = 8
)

type objectFile struct {
	ctx  context.Context
	s    Store
	obj  Object // as seen at open: every later read must find this ETag and size
	body io.ReadCloser
	off  int64

	mu     sync.Mutex
	blocks []cachedBlock // least recently used first
}

type cachedBlock struct {
	off  int64
	data []byte // never changed once cached, so it is read outside the lock
}

func (o *objectFile) Stat() (fs.FileInfo, error) { return objectInfo{o.obj}, nil }

func (o *objectFile) Read(p []byte) (int, error) {
	if o.body == nil {
		rc, got, err := o.s.GetRange(o.ctx, o.obj.Key, o.off, -1)
		if err != nil {
			return 0, err
		}
		if err := o.checkVersion(got); err != nil {
			rc.Close()
			return 0, err
		}
		o.body = rc
	}
	n, err := o.body.Read(p)
	o.off += int64(n)
	return n, err
}

// ReadAt may be called from several goroutines at once, as io.ReaderAt allows.
func (o *objectFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: o.obj.Key, Err: fmt.Errorf("negative offset %d", off)}
	}
	if off >= o.obj.Size {
		return 0, io.EOF
	}
	want := p
	if rest := o.obj.Size - off; int64(len(want)) > rest {
		want = want[:rest]
	}
	var n int
	var err error
	if len(want) >= readAtBlock {
		n, err = o.fetch(want, off)
	} else {
		for n < len(want) {
			pos := off + int64(n)
			start := pos - pos%readAtBlock
			var b []byte
			if b, err = o.block(start); err != nil {
				break
			}
			n += copy(want[n:], b[pos-start:])
		}
	}
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// block returns the cached block at start, fetching it when it is not there. Two
// goroutines missing the same block both fetch it; the lock is not held over a request.
func (o *objectFile) block(start int64) ([]byte, error) {
	if data := o.cached(start); data != nil {
		return data, nil
	}
	data := make([]byte, min(readAtBlock, o.obj.Size-start))
	if _, err := o.fetch(data, start); err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, b := range o.blocks {
		if b.off == start { // fetched meanwhile by another ReadAt
			return data, nil
		}
	}
	if len(o.blocks) == readAtBlocks {
		o.blocks = append(o.blocks[:0], o.blocks[1:]...)
	}
	o.blocks = append(o.blocks, cachedBlock{start, data})
	return data, nil
}

// cached returns the block at start and marks it most recently used, or nil.
func (o *objectFile) cached(start int64) []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, b := range o.blocks {
		if b.off == start {
			copy(o.blocks[i:], o.blocks[i+1:])
			o.blocks[len(o.blocks)-1] = b
			return b.data
		}
	}
	return nil
}

// fetch fills p from off with one ranged read, which must find the object as it was at
// open: otherwise the bytes would mix two versions of it.
func (o *objectFile) fetch(p []byte, off int64) (int, error) {
	rc, got, err := o.s.GetRange(o.ctx, o.obj.Key, off, int64(len(p)))
	if errors.Is(err, ErrNotFound) {
		return 0, &fs.PathError{Op: "read", Path: o.obj.Key, Err: fmt.Errorf("%w: it was deleted", ErrChanged)}
	}
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	if err := o.checkVersion(got); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(rc, p)
	if err != nil {
		return n, &fs.PathError{Op: "read", Path: o.obj.Key, Err: fmt.Errorf("%d bytes at %d: %w", len(p), off, err)}
	}
	return n, nil
}

// checkVersion compares what a read found with the object as opened. A server that sends
// no ETag is trusted on the size alone.
func (o *objectFile) checkVersion(got Object) error {
	switch {
	case got.ETag != "" && got.ETag != o.obj.ETag:
		return &fs.PathError{Op: "read", Path: o.obj.Key, Err: fmt.Errorf("%w (ETag %s when opened, %s now)", ErrChanged, o.obj.ETag, got.ETag)}
	case got.Size != o.obj.Size:
		return &fs.PathError{Op: "read", Path: o.obj.Key, Err: fmt.Errorf("%w (%d bytes when opened, %d now)", ErrChanged, o.obj.Size, got.Size)}
	}
	return nil
}

func (o *objectFile) Close() error {
	if o.body != nil {
		return o.body.Close()
	}
	return nil
}

type objectInfo struct{ obj Object }

func (i objectInfo) Name() string       { return path.Base(i.obj.Key) }
func (i objectInfo) Size() int64        { return i.obj.Size }
func (i objectInfo) Mode() fs.FileMode  { return 0o444 }
func (i objectInfo) ModTime() time.Time { return i.obj.Modified }
func (i objectInfo) IsDir() bool        { return false }
func (i objectInfo) Sys() any           { return i.obj }
