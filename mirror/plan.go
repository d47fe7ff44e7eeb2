package mirror

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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

// Prepare reads the locks and opens the source. from is "" (upstream URLs), a folder
// of packages, or a bundle file; a bundle brings its own locks when lockPaths is empty.
func Prepare(lockPaths []string, from, cache string, sel lockfile.Options) (*Plan, error) {
	if cache == "" {
		cache = DefaultCache()
	}
	p := &Plan{}
	if err := p.openSource(from, cache); err != nil {
		return nil, err
	}
	err := p.readLocks(lockPaths, sel)
	if err == nil {
		p.Packages, err = Packages(p.Locks)
	}
	if err == nil && len(p.Packages) == 0 {
		err = &EmptySelectionError{Locks: lockNames(p.Locks), Selection: sel}
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *Plan) openSource(from, cache string) error {
	if from == "" {
		p.Source = FromUpstream(cache)
		return nil
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
	p.bundle = r
	p.Source = &Bundle{Reader: r, Path: from, Spool: filepath.Join(cache, fmt.Sprintf("spool-%d", os.Getpid()))}
	return nil
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
