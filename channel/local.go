package channel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Local is a channel in a folder. Writes go to a temp file in the target's folder and are
// renamed into place, so readers never see a partial object. Conditional writes and
// deletes compare and swap under an exclusive lock on .condachan/store.lock, held only for
// the stat-and-rename; the operating system drops that lock when a process dies, so a
// crash can never leave the channel locked.
type Local struct {
	root string
	// mu queues this process's conditional writes before the file lock, which then only
	// waits for other processes: goroutines polling the lock would sleep in turn.
	mu *sync.Mutex
	// created: the folder did not exist before NewLocal made it (see Abandon).
	created bool
}

// NewLocal opens (and creates) a channel folder.
func NewLocal(dir string) (*Local, error) {
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("channel folder %s: %w", dir, err)
	}
	return &Local{root: dir, mu: &sync.Mutex{}, created: errors.Is(statErr, fs.ErrNotExist)}, nil
}

// Abandon removes the channel folder NewLocal created, and the folders made in it since,
// as far as they are empty: a command that made a new channel and then failed leaves no
// empty channel behind. It removes no file, so a folder that holds one stays (the store
// lock of a run that took the lease is one: removing a lock file another process may
// have open would break the lock).
func (l *Local) Abandon() error {
	if !l.created {
		return nil
	}
	var dirs []string
	filepath.WalkDir(l.root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- { // the deepest first
		os.Remove(dirs[i]) // fails, and keeps it, unless it is empty
	}
	return nil
}

func (l *Local) String() string { return l.root }

// Root is the channel folder.
func (l *Local) Root() string { return l.root }

// Path returns the file of a key.
func (l *Local) Path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// CheckKey refuses keys that are not clean relative paths, as every Store does (backends
// call it before they touch a key).
func CheckKey(key string) error { return checkKey(key) }

// checkKey refuses keys that are not clean relative paths. A colon is refused too: on
// Windows it names an alternate data stream or a drive, and no conda file name has one.
func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") || strings.ContainsAny(key, ":\x00") || path.Clean(key) != key || key == ".." || strings.HasPrefix(key, "../") {
		return fmt.Errorf("invalid object key %q", key)
	}
	return nil
}

// ErrOutsideChannel refuses a symbolic link that leads out of a channel folder: reads
// follow links only while they stay inside it, or a server of the channel would hand out
// any file its user can read. Absolute links are refused too (os.Root cannot tell where
// they lead without a race): link with relative paths inside a channel.
var ErrOutsideChannel = fmt.Errorf("a symbolic link that leads out of the channel folder: %w", fs.ErrPermission)

// openRead opens key for reading, following symbolic links only inside the channel.
func (l *Local) openRead(key string) (*os.File, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(l.root)
	if err != nil {
		return nil, fmt.Errorf("channel folder %s: %w", l.root, err)
	}
	defer r.Close()
	f, err := r.Open(filepath.FromSlash(key))
	return f, l.readError(key, err)
}

// statRead is Stat with the same rule for symbolic links as openRead.
func (l *Local) statRead(key string) (fs.FileInfo, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(l.root)
	if err != nil {
		return nil, fmt.Errorf("channel folder %s: %w", l.root, err)
	}
	defer r.Close()
	fi, err := r.Stat(filepath.FromSlash(key))
	return fi, l.readError(key, err)
}

func (l *Local) readError(key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return notFound(key, err)
	case strings.Contains(err.Error(), "path escapes from parent"): // os.Root's refusal
		return fmt.Errorf("%s in %s: %w; copy the file into the channel, or link to it with a relative path that stays inside the channel", key, l.root, ErrOutsideChannel)
	}
	return err
}

func (l *Local) object(key string, fi fs.FileInfo) Object {
	return Object{Key: key, Size: fi.Size(), ETag: fileETag(fi), Modified: fi.ModTime()}
}

func (l *Local) Stat(ctx context.Context, key string) (Object, error) {
	fi, err := l.statRead(key)
	if err != nil {
		return Object{}, err
	}
	if !fi.Mode().IsRegular() {
		return Object{}, fmt.Errorf("%s: %w (a folder)", key, ErrNotFound)
	}
	return l.object(key, fi), nil
}

func notFound(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return err
}

func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	f, err := l.openRead(key)
	if err != nil {
		return nil, Object{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Object{}, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, Object{}, fmt.Errorf("%s: %w (a folder)", key, ErrNotFound)
	}
	return f, l.object(key, fi), nil
}

func (l *Local) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, Object, error) {
	rc, obj, err := l.Get(ctx, key)
	if err != nil {
		return nil, obj, err
	}
	f := rc.(*os.File)
	if offset < 0 || offset > obj.Size {
		f.Close()
		return nil, obj, fmt.Errorf("%s: range starts at %d, past the end (%d bytes)", key, offset, obj.Size)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, obj, err
	}
	if length < 0 || offset+length > obj.Size {
		length = obj.Size - offset
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, length), f}, obj, nil
}

func (l *Local) ReadRange(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	rc, _, err := l.Get(ctx, key) // a folder is not an object
	if err != nil {
		return nil, err
	}
	f := rc.(*os.File)
	defer f.Close()
	buf := make([]byte, length)
	n, err := f.ReadAt(buf, offset)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return buf[:n], nil
}

func (l *Local) Put(ctx context.Context, key string, body io.Reader, size int64, opts PutOptions) (Object, error) {
	dst, err := l.Path(key)
	if err != nil {
		return Object{}, err
	}
	if opts.IfAbsent && opts.IfMatch != "" {
		return Object{}, errors.New("put: IfAbsent and IfMatch together")
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return Object{}, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return Object{}, err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, &ctxReader{ctx, body})
	if err != nil {
		return Object{}, fmt.Errorf("write %s: %w", key, err)
	}
	if size >= 0 && n != size {
		return Object{}, fmt.Errorf("write %s: got %d bytes, expected %d", key, n, size)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return Object{}, err
	}
	if !opts.Deferred || !deferredSync {
		if err := tmp.Sync(); err != nil {
			return Object{}, err
		}
	}
	if err := tmp.Close(); err != nil {
		return Object{}, err
	}
	if !opts.IfAbsent && opts.IfMatch == "" {
		if err := os.Rename(tmp.Name(), dst); err != nil {
			return Object{}, err
		}
		done = true
		return l.Stat(ctx, key)
	}
	var obj Object
	err = l.locked(ctx, func() error {
		fi, err := os.Stat(dst)
		switch {
		case err == nil && opts.IfAbsent:
			return fmt.Errorf("%s: %w (it already exists)", key, ErrPreconditionFailed)
		case err == nil && fileETag(fi) != opts.IfMatch:
			return fmt.Errorf("%s: %w (it changed)", key, ErrPreconditionFailed)
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return err
		case err != nil && opts.IfMatch != "":
			return fmt.Errorf("%s: %w (it is gone)", key, ErrPreconditionFailed)
		}
		if err := os.Rename(tmp.Name(), dst); err != nil {
			return err
		}
		done = true
		fi, err = os.Stat(dst)
		if err != nil {
			return err
		}
		obj = l.object(key, fi)
		return nil
	})
	return obj, err
}

func (l *Local) PutFile(ctx context.Context, key, src string, opts PutOptions) (Object, error) {
	f, err := os.Open(src)
	if err != nil {
		return Object{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Object{}, err
	}
	return l.Put(ctx, key, f, fi.Size(), opts)
}

func (l *Local) Delete(ctx context.Context, key, ifMatch string) error {
	p, err := l.Path(key)
	if err != nil {
		return err
	}
	if ifMatch == "" {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return l.locked(ctx, func() error {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fileETag(fi) != ifMatch {
			return fmt.Errorf("%s: %w (it changed)", key, ErrPreconditionFailed)
		}
		return os.Remove(p)
	})
}

// List walks the folder under prefix. Temp files of writes in progress are skipped: they
// are not objects yet.
func (l *Local) List(ctx context.Context, prefix string, fn func(Object) error) error {
	start := l.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(l.root, filepath.FromSlash(prefix[:i]))
	}
	var objs []Object
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == start {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if key != "." && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(key, prefix) || isTempName(d.Name()) {
			return nil
		}
		fi, err := l.statRead(key) // follows a symlinked package that stays in the channel
		if errors.Is(err, ErrOutsideChannel) {
			// Listed as the link itself, so that reading it fails and is reported.
			fi, err = d.Info()
			if err != nil {
				return nil
			}
		} else if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		objs = append(objs, l.object(key, fi))
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	for _, o := range objs {
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

func isTempName(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-")
}

const storeLockKey = InternalPrefix + "store.lock"

// locked runs fn holding the channel folder's store lock.
func (l *Local) locked(ctx context.Context, fn func() error) error {
	if l.mu != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
	}
	f, err := l.openStoreLock()
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		ok, err := tryLockFile(f)
		if err != nil {
			return fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	defer unlockFile(f)
	return fn()
}

// openStoreLock opens a new handle on the store lock file, creating it (and .condachan/)
// when need be, without taking the lock.
func (l *Local) openStoreLock() (*os.File, error) {
	p := filepath.Join(l.root, filepath.FromSlash(storeLockKey))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
}

// StoreLock is one handle on the folder's store lock, the file lock that makes Local's
// conditional writes atomic. It is for checking that the folder's file system locks files
// as Local needs (channel/doctor does): handles take the lock one at a time, and Local's
// writes wait while a handle holds it.
type StoreLock struct{ f *os.File }

// OpenStoreLock opens a new handle on the store lock (.condachan/store.lock, created when
// need be) without taking it. Close it when done.
func (l *Local) OpenStoreLock() (*StoreLock, error) {
	f, err := l.openStoreLock()
	if err != nil {
		return nil, err
	}
	return &StoreLock{f: f}, nil
}

// Path is the lock file.
func (s *StoreLock) Path() string { return s.f.Name() }

// TryLock takes the lock without waiting; false when another handle holds it.
func (s *StoreLock) TryLock() (bool, error) { return tryLockFile(s.f) }

// Unlock releases the lock.
func (s *StoreLock) Unlock() error { return unlockFile(s.f) }

// Close closes the handle (releasing the lock if it holds it).
func (s *StoreLock) Close() error { return s.f.Close() }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Leftovers lists the temp files of interrupted writes (see Put and isTempName) anywhere
// in the folder, .condachan/ included, last modified at least olderThan ago. Folders
// linked into the channel are not followed: their temp files belong to another folder.
func (l *Local) Leftovers(ctx context.Context, olderThan time.Duration) ([]Leftover, error) {
	return l.leftovers(ctx, olderThan, time.Now())
}

func (l *Local) leftovers(ctx context.Context, age time.Duration, now time.Time) ([]Leftover, error) {
	var out []Leftover
	// The trailing separator makes WalkDir follow a channel folder that is itself a link.
	err := filepath.WalkDir(l.root+string(filepath.Separator), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				// The channel folder, or a folder in it, went away meanwhile.
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() || !isTempName(d.Name()) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // renamed into place or removed meanwhile
		}
		if err != nil {
			return err
		}
		if !olderThan(now, fi.ModTime(), age) {
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		out = append(out, Leftover{Kind: LeftoverTempFile, Key: filepath.ToSlash(rel), Since: fi.ModTime(), Size: fi.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look for temp files of interrupted writes in %s: %w", l.root, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Sweep removes the temp files Leftovers lists. Each is looked at again just before it
// goes, and kept if it was written to since it was listed (a stalled write that resumed).
func (l *Local) Sweep(ctx context.Context, olderThan time.Duration) ([]Leftover, error) {
	found, err := l.Leftovers(ctx, olderThan)
	if err != nil {
		return nil, err
	}
	var removed []Leftover
	var errs []error
	for _, lo := range found {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		p := filepath.Join(l.root, filepath.FromSlash(lo.Key))
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil && !fi.ModTime().Equal(lo.Since) {
			continue
		}
		if err == nil {
			err = os.Remove(p)
		}
		switch {
		case err == nil:
			removed = append(removed, lo)
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, fmt.Errorf("remove the temp file %s of an interrupted write: %w", p, err))
		}
	}
	return removed, errors.Join(errs...)
}

// OpenFile implements FileOpener: Get, as the file it is.
func (l *Local) OpenFile(ctx context.Context, key string) (*os.File, Object, error) {
	rc, obj, err := l.Get(ctx, key)
	if err != nil {
		return nil, obj, err
	}
	return rc.(*os.File), obj, nil
}
