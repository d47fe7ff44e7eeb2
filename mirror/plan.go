package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/input"
	"github.com/condachan/condachan/mirror/bundle"
	"github.com/condachan/condachan/mirror/lockfile"
)

// ErrNoLocks: a run was given neither lock files nor a bundle that holds some.
var ErrNoLocks = errors.New("no lock files: give the locks to mirror, or a bundle made by pack (it holds its locks)")

// Plan is what a run reads before it starts: the locks, the packages they name, and
// where the bytes come from.
type Plan struct {
	Locks     []*lockfile.Lock
	LockFiles []bundle.LockFile // the locks' bytes, for a bundle
	Packages  []lockfile.Package
	Source    Source
	bundle    *bundle.Reader
}

// Close releases the bundle a plan reads from.
func (p *Plan) Close() error {
	if p.bundle != nil {
		return p.bundle.Close()
	}
	return nil
}

// DefaultCache is where verified downloads wait until they are published or packed.
func DefaultCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "condachan", "mirror")
}

// Request says what a run is to mirror and where the bytes come from.
type Request struct {
	Locks []string // lock files; none: the bundle's own
	// From is "" (the locks' URLs), a folder of packages, a bundle file, or the
	// s3://bucket/key of a bundle.
	From   string
	Cache  string // where downloads and spool files wait (default DefaultCache)
	Select lockfile.Options
	// Channel opens the bucket of an s3:// bundle.
	Channel channel.Options
}

// Prepare reads the locks and opens the source.
func Prepare(ctx context.Context, req Request) (*Plan, error) {
	if req.Cache == "" {
		req.Cache = DefaultCache()
	}
	p := &Plan{}
	if err := p.openSource(ctx, req); err != nil {
		return nil, err
	}
	err := p.readLocks(req.Locks, req.Select)
	if err == nil {
		p.Packages, err = Packages(p.Locks)
	}
	if err == nil && len(p.Packages) == 0 {
		err = &EmptySelectionError{Locks: lockNames(p.Locks), Selection: req.Select}
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *Plan) openSource(ctx context.Context, req Request) error {
	from := req.From
	switch {
	case from == "":
		p.Source = FromUpstream(req.Cache)
		return nil
	case strings.HasPrefix(strings.ToLower(from), "s3://"):
		return p.openRemoteBundle(ctx, req)
	}
	st, err := os.Stat(from)
	if err != nil {
		return &InputError{What: "the folder or bundle to take packages from", Err: err}
	}
	if st.IsDir() {
		p.Source = FromDir(from)
		return nil
	}
	r, err := bundle.Open(from)
	if err != nil {
		return fmt.Errorf("bundle %s: %w", from, err)
	}
	p.useBundle(r, from, req.Cache)
	return nil
}

// openRemoteBundle streams a bundle from an object store: its bucket is opened as a
// channel at its root, so that the key is the object's name.
func (p *Plan) openRemoteBundle(ctx context.Context, req Request) error {
	loc, err := channel.ParseLocation(req.From)
	if err != nil || loc.Prefix == "" {
		return &InputError{What: "the bundle to take packages from", Err: fmt.Errorf("%s is not s3://bucket/key", req.From)}
	}
	bucket, err := channel.OpenExisting(ctx, "s3://"+loc.Bucket, req.Channel)
	if err != nil {
		return fmt.Errorf("bundle %s: %w", req.From, err)
	}
	rc, _, err := bucket.Get(ctx, loc.Prefix)
	if errors.Is(err, channel.ErrNotFound) {
		return &InputError{What: "the bundle to take packages from", Err: fmt.Errorf("%s does not exist", req.From)}
	}
	if err != nil {
		return fmt.Errorf("bundle %s: %w", req.From, err)
	}
	r, err := bundle.NewReader(req.From, rc)
	if err != nil {
		return fmt.Errorf("bundle %s: %w", req.From, err)
	}
	p.useBundle(r, req.From, req.Cache)
	return nil
}

func (p *Plan) useBundle(r *bundle.Reader, name, cache string) {
	p.bundle = r
	p.Source = &Bundle{Reader: r, Path: name, Spool: filepath.Join(cache, fmt.Sprintf("spool-%d", os.Getpid()))}
}

// readLocks reads the lock files given, or the bundle's when none are.
func (p *Plan) readLocks(paths []string, sel lockfile.Options) error {
	if len(paths) == 0 && p.bundle != nil {
		for _, lf := range p.bundle.Locks() {
			l, err := lockfile.Parse(bytes.NewReader(lf.Data), lf.Name, sel)
			if err != nil {
				return err
			}
			p.Locks = append(p.Locks, l)
			p.LockFiles = append(p.LockFiles, lf)
		}
	}
	for _, path := range paths {
		data, err := readLockFile(path)
		if err != nil {
			return &InputError{What: "lock file", Err: err}
		}
		l, err := lockfile.Parse(bytes.NewReader(data), path, sel)
		if err != nil {
			return err
		}
		p.Locks = append(p.Locks, l)
		p.LockFiles = append(p.LockFiles, bundle.LockFile{Name: filepath.Base(path), Data: data})
	}
	if len(p.Locks) == 0 {
		return ErrNoLocks
	}
	return nil
}

// readLockFile reads a lock whole (its bytes go into a bundle), refusing one larger than
// any lock the parser reads.
func readLockFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, lockfile.MaxSize+1))
	if err == nil && len(data) > lockfile.MaxSize {
		err = fmt.Errorf("%s: larger than %d MiB, which is no lock file", path, lockfile.MaxSize>>20)
	}
	return data, err
}

func lockNames(locks []*lockfile.Lock) []string {
	var out []string
	for _, l := range locks {
		out = append(out, l.Path)
	}
	return out
}

// InputError is a lock file or package source that cannot be opened: something the
// user must give.
type InputError struct {
	What string
	Err  error
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %v", e.What, e.Err) }

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*InputError) Is(target error) bool { return target == input.ErrInvalid }

func (e *InputError) Unwrap() error { return e.Err }

// EmptySelectionError: the locks, with the environments and platforms chosen, name no
// package.
type EmptySelectionError struct {
	Locks     []string
	Selection lockfile.Options
}

func (e *EmptySelectionError) Error() string {
	msg := fmt.Sprintf("%s name no package", strings.Join(e.Locks, ", "))
	if len(e.Selection.Environments) > 0 || len(e.Selection.Platforms) > 0 {
		msg += fmt.Sprintf(" for environments %v and platforms %v", e.Selection.Environments, e.Selection.Platforms)
	}
	return msg + ": nothing to mirror"
}
