package channel

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"time"
)

// FS is a read-only fs.FS view of a store's objects: Open streams an object (one GET),
// and the file also reads at offsets with ranged GETs, so a zip can be read through its
// central directory without downloading it first. The build reads source archives staged
// in S3 this way, straight into the package, without a local copy.
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

type objectFile struct {
	ctx  context.Context
	s    Store
	obj  Object
	body io.ReadCloser
	off  int64
}

func (o *objectFile) Stat() (fs.FileInfo, error) { return objectInfo{o.obj}, nil }

func (o *objectFile) Read(p []byte) (int, error) {
	if o.body == nil {
		rc, got, err := o.s.GetRange(o.ctx, o.obj.Key, o.off, -1)
		if err != nil {
			return 0, err
		}
		if got.ETag != "" && got.ETag != o.obj.ETag {
			rc.Close()
			return 0, &fs.PathError{Op: "read", Path: o.obj.Key, Err: errors.New("the object changed while being read")}
		}
		o.body = rc
	}
	n, err := o.body.Read(p)
	o.off += int64(n)
	return n, err
}

func (o *objectFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= o.obj.Size {
		return 0, io.EOF
	}
	b, err := o.s.ReadRange(o.ctx, o.obj.Key, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	n := copy(p, b)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
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
