package mirror

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/condachan/condachan/mirror/bundle"
	"github.com/condachan/condachan/mirror/lockfile"
)

// PackResult reports a Pack run.
type PackResult struct {
	Bundle   string  `json:"bundle"`
	Packages int     `json:"packages"`
	Added    int     `json:"added"`
	Kept     int     `json:"kept"` // already in the partial bundle a run before left
	Bytes    int64   `json:"bytes_added"`
	Seconds  float64 `json:"seconds"`
}

// Pack fetches and verifies every package into one bundle at path, with the lock files
// inside, for `mirror --from` on the other side of an air gap. Up to Concurrency
// packages are fetched at once while the verified ones are appended. A failed or
// interrupted run leaves a partial bundle that the next run with the same locks resumes:
// it fetches only what is missing.
func Pack(ctx context.Context, path string, locks []bundle.LockFile, pkgs []lockfile.Package, src Source, opts Options) (*PackResult, error) {
	opts.defaults()
	start := time.Now()
	res := &PackResult{Bundle: path, Packages: len(pkgs)}
	w, err := bundle.Create(path, locks)
	if err != nil {
		return res, err
	}
	var todo []lockfile.Package
	for _, p := range pkgs {
		if w.Has(p.Subdir, p.Filename, p.SHA256) {
			res.Kept++
			continue
		}
		todo = append(todo, p)
	}
	if err := appendAll(ctx, w, todo, src, opts, res); err != nil {
		if aerr := w.Abort(); aerr != nil {
			err = errors.Join(err, fmt.Errorf("keep partial bundle: %w", aerr))
		}
		return res, fmt.Errorf("%w\nthe bundle is incomplete: run pack again with the same locks to fetch what is missing", err)
	}
	if err := w.Close(); err != nil {
		return res, fmt.Errorf("finish bundle %s: %w", path, err)
	}
	src.done(todo)
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// appendAll fetches todo from src and appends each verified package to the bundle, in
// the order they arrive.
func appendAll(ctx context.Context, w *bundle.Writer, todo []lockfile.Package, src Source, opts Options, res *PackResult) error {
	total, unit := progressTotal(todo)
	var done int64
	opts.Progress.Status(fmt.Sprintf("packing %d package(s) from %s", len(todo), src))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var fl flight
	ready := make(chan verified, opts.Concurrency)
	delivered := make(chan error, 1)
	go func() {
		defer close(ready)
		delivered <- src.deliver(ctx, todo, opts.Concurrency, ready, &fl)
	}()
	// Packages go on being appended after one failed: the partial bundle then holds
	// everything but the failures, which is all a re-run fetches.
	var appendErr error
	for v := range ready {
		if appendErr == nil {
			appendErr = appendOne(w, v)
			if appendErr != nil {
				cancel(appendErr)
			} else {
				res.Added++
				res.Bytes += v.size
				done += unit(v)
				opts.Progress.Update(done, total)
			}
		}
		if v.spool || (v.cached && appendErr == nil) {
			removeFile(v.path) // the bundle holds it now
		}
	}
	for _, err := range []error{appendErr, <-delivered, fl.err()} {
		if err != nil {
			return err
		}
	}
	return context.Cause(ctx)
}

// appendOne copies a verified package into the bundle.
func appendOne(w *bundle.Writer, v verified) error {
	f, err := os.Open(v.path)
	if err != nil {
		return err
	}
	defer f.Close()
	e := bundle.Entry{Subdir: v.pkg.Subdir, Filename: v.pkg.Filename, Size: v.size, SHA256: v.sha256, MD5: v.md5}
	if err := w.Add(e, f); err != nil {
		return fmt.Errorf("add %s/%s to the bundle: %w", v.pkg.Subdir, v.pkg.Filename, err)
	}
	return nil
}
