package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/condachan/condachan/mirror/bundle"
	"github.com/condachan/condachan/mirror/lockfile"
)

// Source is where the packages' bytes come from: upstream URLs, a folder, or a bundle
// packed on a connected machine. Every source verifies each package against its lock
// before handing it on.
type Source interface {
	// deliver sends a verified copy of every package in want to out, up to n at once,
	// counting them in fl while they are fetched. A package that cannot be had is
	// recorded in fl and the others go on; deliver returns an error only when it cannot
	// go on at all (an unreadable bundle).
	deliver(ctx context.Context, want []lockfile.Package, n int, out chan<- verified, fl *flight) error
	// done is told the run published everything: cached copies can go.
	done(published []lockfile.Package)
	String() string
}

// FromUpstream fetches from the locks' URLs, keeping verified downloads in cache until
// they are published.
func FromUpstream(cache string) *Upstream { return &Upstream{Cache: cache} }

func (u *Upstream) deliver(ctx context.Context, want []lockfile.Package, n int, out chan<- verified, fl *flight) error {
	u.defaults()
	eachAtOnce(ctx, want, n, fl, func(ctx context.Context, p lockfile.Package) error {
		fl.fetch(1)
		v, err := u.fetch(ctx, p)
		fl.fetch(-1)
		if err != nil {
			return err
		}
		return send(ctx, out, v)
	})
	return nil
}

func (u *Upstream) done(published []lockfile.Package) { u.removeCached(published) }

func (u *Upstream) String() string { return "upstream URLs" }

// eachAtOnce runs fn for every package, n at a time. A package that fails is recorded
// in fl and the others go on; only a cancelled ctx stops the rest.
func eachAtOnce(ctx context.Context, pkgs []lockfile.Package, n int, fl *flight, fn func(context.Context, lockfile.Package) error) {
	var g errgroup.Group
	g.SetLimit(n)
	for _, p := range pkgs {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := fn(ctx, p); err != nil && ctx.Err() == nil {
				fl.fail(err)
			}
			return nil
		})
	}
	g.Wait()
}

func send(ctx context.Context, out chan<- verified, v verified) error {
	select {
	case out <- v:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Dir takes packages from a folder: <dir>/<subdir>/<file> (a channel's layout, or an
// unpacked bundle) or <dir>/<file> (a conda package cache).
type Dir string

// FromDir takes packages from a folder.
func FromDir(dir string) Dir { return Dir(dir) }

func (d Dir) deliver(ctx context.Context, want []lockfile.Package, n int, out chan<- verified, fl *flight) error {
	eachAtOnce(ctx, want, n, fl, func(ctx context.Context, p lockfile.Package) error {
		fl.fetch(1)
		defer fl.fetch(-1)
		looked := []string{filepath.Join(string(d), p.Subdir, p.Filename), filepath.Join(string(d), p.Filename)}
		for _, path := range looked {
			h, err := hashFile(path)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
			if err := h.check(p, path); err != nil {
				return err
			}
			return send(ctx, out, verified{pkg: p, path: path, size: h.size, sha256: h.sha256, md5: h.md5})
		}
		return &MissingError{Package: p, Looked: looked}
	})
	return nil
}

func (Dir) done([]lockfile.Package) {}

func (d Dir) String() string { return string(d) }

// Bundle takes packages from a bundle made by Pack, reading it once from start to end;
// each wanted package is copied to a spool file in Spool, uploaded, and removed, so the
// disk holds only the packages in flight.
type Bundle struct {
	Reader *bundle.Reader
	Path   string
	Spool  string
}

func (b *Bundle) deliver(ctx context.Context, want []lockfile.Package, _ int, out chan<- verified, fl *flight) error {
	wanted := map[string]lockfile.Package{}
	for _, p := range want {
		wanted[p.Subdir+"/"+p.Filename] = p
	}
	if err := os.MkdirAll(b.Spool, 0o755); err != nil {
		return err
	}
	for {
		e, body, err := b.Reader.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read bundle %s: %w", b.Path, err)
		}
		p, ok := wanted[e.Subdir+"/"+e.Filename]
		if !ok {
			continue // in the bundle for another lock or environment
		}
		delete(wanted, e.Subdir+"/"+e.Filename)
		fl.fetch(1)
		v, err := b.spool(p, body)
		fl.fetch(-1)
		if err != nil {
			var mismatch *HashMismatchError
			if !errors.As(err, &mismatch) {
				return err
			}
			fl.fail(err)
			continue
		}
		if err := send(ctx, out, v); err != nil {
			os.Remove(v.path)
			return err
		}
	}
	for _, p := range want {
		if _, missing := wanted[p.Subdir+"/"+p.Filename]; missing {
			fl.fail(&MissingError{Package: p, Looked: []string{"bundle " + b.Path}})
		}
	}
	return nil
}

// spool copies one package out of the bundle, verified against its lock.
func (b *Bundle) spool(p lockfile.Package, body io.Reader) (verified, error) {
	path := filepath.Join(b.Spool, fmt.Sprintf("%s-%s", p.Subdir, p.Filename))
	h, err := writeVerified(path, body, p, "bundle "+b.Path)
	if err != nil {
		return verified{}, err
	}
	return verified{pkg: p, path: path, size: h.size, sha256: h.sha256, md5: h.md5, spool: true}, nil
}

func (b *Bundle) done([]lockfile.Package) { os.Remove(b.Spool) }

func (b *Bundle) String() string { return "bundle " + b.Path }
