// Package mirror copies exactly the conda packages that lock files name into a channel,
// so that render jobs in a network without internet can install a whole locked
// environment from the studio's channel alone. Packages come from their upstream URLs,
// from a folder, or from a bundle packed on a connected machine (Pack); every one is
// checked against its lock's hashes while it streams, uploaded create-if-absent like a
// published package, and the run ends with one index run. The channel's records are
// read from the packages themselves, as for any package.
//
// A run publishes all of its locks or nothing: it holds the channel lease while it
// transfers and indexes, so no other index run can see a package of a run that may still
// fail, and when one package fails, the uploads it made are removed before the lease is
// released. Publishers that queue behind the lease meanwhile are served by the run's
// index (group commit). Only a run killed outright leaves its verified uploads for the
// next index run.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/internal/progress"
	"github.com/condachan/condachan/mirror/lockfile"
	"github.com/condachan/condachan/publish"
)

// Options configure a mirror run.
type Options struct {
	// Concurrency is how many packages are fetched, and how many uploaded, at once
	// (default 8).
	Concurrency int
	Lease       channel.LeaseOptions
	Progress    progress.Reporter
	// Log receives one line per notable event (waiting for the lease, a rollback).
	Log func(string)
}

func (o *Options) defaults() {
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Progress == nil {
		o.Progress = progress.Nop{}
	}
}

// Item is one package of a run.
type Item struct {
	Key      string `json:"key"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Build    string `json:"build"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	Status   string `json:"status"` // uploaded, unchanged (already in the channel)
	Indexed  bool   `json:"indexed"`
	Upstream string `json:"url"`
}

// Result reports a run.
type Result struct {
	Channel  string                 `json:"channel"`
	Source   string                 `json:"source"`
	Packages []Item                 `json:"packages"`
	Uploaded int                    `json:"uploaded"`
	Bytes    int64                  `json:"bytes_uploaded"`
	Index    *index.Result          `json:"index,omitempty"`
	Requests *channel.RequestCounts `json:"requests,omitempty"`
	Seconds  float64                `json:"seconds"`
	// InFlight is the most packages the run fetched and uploaded at once.
	InFlight Flight `json:"in_flight"`
}

// Packages merges the packages of locks in order: one entry per channel key. The same
// file with other hashes in two locks is a *ConflictingLocksError.
func Packages(locks []*lockfile.Lock) ([]lockfile.Package, error) {
	var out []lockfile.Package
	seen := map[string]int{}
	for _, l := range locks {
		for _, p := range l.Packages {
			key := p.Subdir + "/" + p.Filename
			i, dup := seen[key]
			if !dup {
				if !channel.IsSubdir(p.Subdir) {
					return nil, fmt.Errorf("%s: %s is not a conda subdir condachan knows (%s)", p.Origin, p.Subdir, strings.Join(channel.KnownSubdirs, ", "))
				}
				seen[key] = len(out)
				out = append(out, p)
				continue
			}
			if !sameHashes(out[i], p) {
				return nil, &ConflictingLocksError{Key: key, First: out[i], Other: p}
			}
		}
	}
	return out, nil
}

func sameHashes(a, b lockfile.Package) bool {
	eq := func(x, y string) bool { return x == "" || y == "" || strings.EqualFold(x, y) }
	return eq(a.SHA256, b.SHA256) && eq(a.MD5, b.MD5) && (a.Size == 0 || b.Size == 0 || a.Size == b.Size)
}

// Mirror puts every package into the channel and indexes it. It returns the result
// so far with an error.
func Mirror(ctx context.Context, store channel.Store, pkgs []lockfile.Package, src Source, opts Options) (*Result, error) {
	opts.defaults()
	start := time.Now()
	r := &run{store: store, src: src, opts: opts, res: &Result{Channel: store.String(), Source: src.String()}, etags: map[string]string{}}
	err := r.mirror(ctx, pkgs)
	r.res.Requests = channel.Requests(store)
	r.res.InFlight = r.flight.peaks()
	r.res.Seconds = time.Since(start).Seconds()
	return r.res, err
}

// run is one mirror run's state, through its stages: survey what the channel holds,
// transfer the rest under the lease, index, and clean up.
type run struct {
	store channel.Store
	src   Source
	opts  Options
	res   *Result

	flight  flight
	mu      sync.Mutex
	created []publish.Upload  // uploads this run made, to remove if it fails
	uploads []publish.Upload  // every package this run put (uploaded or found unchanged)
	etags   map[string]string // key -> ETag of every package of the run in the channel
}

func (r *run) mirror(ctx context.Context, pkgs []lockfile.Package) error {
	r.opts.Progress.Status(fmt.Sprintf("looking at %d package(s) in %s", len(pkgs), r.store))
	todo, err := r.survey(ctx, pkgs)
	if err != nil {
		return err
	}
	if len(todo) == 0 && r.allIndexed(ctx) {
		r.log("every package is already in the channel and indexed: nothing to do")
		return nil
	}
	err = publish.UnderLease(ctx, r.store, r.publishOptions(), func(lease *channel.Lease) error {
		if len(todo) > 0 {
			if err := r.transfer(lease.Context(), todo); err != nil {
				return r.rollBack(err, lease)
			}
		}
		return r.index(ctx, lease)
	})
	if err != nil {
		return err
	}
	r.src.done(todo)
	return nil
}

func (r *run) publishOptions() publish.Options {
	return publish.Options{Lease: r.opts.Lease, Progress: r.opts.Progress, Log: r.opts.Log}
}

func (r *run) log(msg string) {
	if r.opts.Log != nil {
		r.opts.Log(msg)
	}
}

// survey lists the subdirs once and sorts the packages into those already in the
// channel with the same bytes (kept), and those to transfer. A file there with other
// bytes stops the run before anything is fetched: packages are immutable.
func (r *run) survey(ctx context.Context, pkgs []lockfile.Package) ([]lockfile.Package, error) {
	present := map[string]channel.Object{}
	for _, sd := range subdirsOf(pkgs) {
		err := r.store.List(ctx, sd+"/", func(o channel.Object) error {
			present[o.Key] = o
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list %s/: %w", sd, err)
		}
	}
	var todo, kept []lockfile.Package
	for _, p := range pkgs {
		key := p.Subdir + "/" + p.Filename
		item := Item{Key: key, Name: p.Name, Version: p.Version, Build: p.Build, SHA256: p.SHA256, Size: p.Size, Upstream: p.URL}
		if obj, ok := present[key]; ok {
			item.Status, item.Size = "unchanged", obj.Size
			r.etags[key] = obj.ETag
			kept = append(kept, p)
		} else {
			todo = append(todo, p)
		}
		r.res.Packages = append(r.res.Packages, item)
	}
	var conflicts flight
	eachAtOnce(ctx, kept, r.opts.Concurrency, &conflicts, func(ctx context.Context, p lockfile.Package) error {
		return r.sameAsStored(ctx, p, present[p.Subdir+"/"+p.Filename])
	})
	if err := conflicts.err(); err != nil {
		return nil, err
	}
	return todo, ctx.Err()
}

// sameAsStored makes sure a package already in the channel is the one the lock names.
func (r *run) sameAsStored(ctx context.Context, p lockfile.Package, listed channel.Object) error {
	obj, err := r.store.Stat(ctx, listed.Key)
	if err != nil {
		return fmt.Errorf("look at %s: %w", listed.Key, err)
	}
	sha, md, err := publish.StoredHashes(ctx, r.store, obj)
	if err != nil {
		return fmt.Errorf("read %s: %w", listed.Key, err)
	}
	if (p.SHA256 != "" && !strings.EqualFold(sha, p.SHA256)) || (p.SHA256 == "" && md != "" && !strings.EqualFold(md, p.MD5)) {
		return &publish.ConflictError{Key: listed.Key, Channel: r.store.String()}
	}
	return nil
}

func subdirsOf(pkgs []lockfile.Package) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range pkgs {
		if !seen[p.Subdir] {
			seen[p.Subdir] = true
			out = append(out, p.Subdir)
		}
	}
	sort.Strings(out)
	return out
}

// allIndexed reports whether every package is in its subdir's completed index.
func (r *run) allIndexed(ctx context.Context) bool {
	bySubdir := map[string]map[string]string{}
	for key, etag := range r.etags {
		sd, file, _ := strings.Cut(key, "/")
		if bySubdir[sd] == nil {
			bySubdir[sd] = map[string]string{}
		}
		bySubdir[sd][file] = etag
	}
	for sd, files := range bySubdir {
		if ok, err := index.Covered(ctx, r.store, sd, files); err != nil || !ok {
			return false
		}
	}
	for i := range r.res.Packages {
		r.res.Packages[i].Indexed = true
	}
	return true
}

// transfer runs the source and the uploads as one pipeline: up to Concurrency packages
// are fetched and verified while up to Concurrency verified ones are uploaded. Once a
// package has failed to arrive, nothing more is uploaded (the run will be rolled back),
// but the source goes on, so that the error names every bad package and a re-run finds
// the good ones cached.
func (r *run) transfer(ctx context.Context, todo []lockfile.Package) error {
	total, unit := progressTotal(todo)
	var done int64
	r.opts.Progress.Status(fmt.Sprintf("mirroring %d package(s) from %s", len(todo), r.src))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ready := make(chan verified, r.opts.Concurrency)
	delivered := make(chan error, 1)
	go func() {
		defer close(ready)
		delivered <- r.src.deliver(ctx, todo, r.opts.Concurrency, ready, &r.flight)
	}()
	var wg sync.WaitGroup
	var uploadErr error
	var once sync.Once
	for range r.opts.Concurrency {
		wg.Go(func() {
			for v := range ready {
				if ctx.Err() != nil || r.flight.failed() {
					r.discard(v)
					continue
				}
				r.flight.upload(1)
				err := r.upload(ctx, v)
				r.flight.upload(-1)
				if err != nil {
					once.Do(func() { uploadErr = err; cancel(err) })
					continue
				}
				r.mu.Lock()
				done += unit(v)
				r.opts.Progress.Update(done, total)
				r.mu.Unlock()
			}
		})
	}
	wg.Wait()
	derr := <-delivered
	for _, err := range []error{uploadErr, derr, r.flight.err()} {
		if err != nil {
			return err
		}
	}
	return context.Cause(ctx)
}

// progressTotal is what progress counts: bytes when the locks give every package's size,
// else packages (explicit files give no sizes), so that a total is always known and
// Deadline Cloud can show a percentage.
func progressTotal(pkgs []lockfile.Package) (total int64, unit func(verified) int64) {
	for _, p := range pkgs {
		if p.Size <= 0 {
			return int64(len(pkgs)), func(verified) int64 { return 1 }
		}
		total += p.Size
	}
	return total, func(v verified) int64 { return v.size }
}

// discard drops a verified package the run will not upload.
func (r *run) discard(v verified) {
	if v.spool {
		removeFile(v.path)
	}
}

// upload puts one verified package into the channel after checking its own metadata.
func (r *run) upload(ctx context.Context, v verified) error {
	defer r.discard(v)
	info, err := checkInside(v)
	if err != nil {
		r.flight.fail(err) // the lock's problem, like a hash mismatch: report it with the others
		return nil
	}
	up, err := publish.UploadFile(ctx, r.store, publish.File{Path: v.path, Name: v.pkg.Filename, Subdir: v.pkg.Subdir, Size: v.size, SHA256: v.sha256, MD5: v.md5, Info: info}, false)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.etags[up.Key] = up.ETag
	r.uploads = append(r.uploads, up)
	if up.Status == "uploaded" {
		r.created = append(r.created, up)
		r.res.Uploaded++
		r.res.Bytes += v.size
	}
	for i := range r.res.Packages {
		if r.res.Packages[i].Key == up.Key {
			r.res.Packages[i].Status, r.res.Packages[i].Size, r.res.Packages[i].SHA256 = up.Status, v.size, v.sha256
		}
	}
	return nil
}

// rollBack removes what this run uploaded, each only if it is still the object this run
// wrote; the lease is still held, so no index run has seen them. A run that lost the
// lease removes nothing: the new holder may have indexed its uploads, and a repodata
// that names a missing package would be worse than a lock published in part.
func (r *run) rollBack(cause error, lease *channel.Lease) error {
	ctx := context.Background()
	r.mu.Lock()
	created := r.created
	r.created = nil
	r.mu.Unlock()
	if errors.Is(context.Cause(lease.Context()), channel.ErrLeaseLost) {
		var kept []string
		for _, up := range created {
			kept = append(kept, up.Key)
		}
		return &RolledBackError{Err: cause, Leftovers: kept, LeaseLost: true}
	}
	var left []string
	for _, up := range created {
		if err := r.store.Delete(ctx, up.Key, up.ETag); err != nil && !errors.Is(err, channel.ErrPreconditionFailed) {
			left = append(left, up.Key)
		}
	}
	if len(created) > 0 {
		r.log(fmt.Sprintf("removed the %d package(s) this run had uploaded", len(created)-len(left)))
	}
	r.res.Uploaded, r.res.Bytes = 0, 0
	for i := range r.res.Packages {
		if r.res.Packages[i].Status == "uploaded" {
			r.res.Packages[i].Status = "removed"
		}
	}
	return &RolledBackError{Err: cause, Removed: len(created) - len(left), Leftovers: left}
}

// index runs the index over the subdirs the run touched, under the lease it holds, and
// makes sure every package is in it.
func (r *run) index(ctx context.Context, lease *channel.Lease) error {
	var subdirs []string
	seen := map[string]bool{}
	for _, it := range r.res.Packages {
		sd, _, _ := strings.Cut(it.Key, "/")
		if !seen[sd] {
			seen[sd] = true
			subdirs = append(subdirs, sd)
		}
	}
	sort.Strings(subdirs)
	r.opts.Progress.Status("indexing " + strings.Join(subdirs, ", "))
	ir, err := index.Run(ctx, r.store, index.Options{Subdirs: subdirs, Lease: lease, Progress: r.opts.Progress, Quick: true, Known: publish.Known(r.uploads)})
	r.res.Index = ir
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	var missing []string
	for i, it := range r.res.Packages {
		if ir.Indexed(it.Key, r.etags[it.Key]) {
			r.res.Packages[i].Indexed = true
			continue
		}
		missing = append(missing, it.Key+": not in the index run's repodata")
	}
	if len(missing) > 0 {
		return &publish.NotIndexedError{Missing: missing, Channel: r.store.String(), Remedy: index.RemedyReindex}
	}
	return nil
}

// removeFile removes a spool file; one left behind by a crash is overwritten by the
// next run that spools the same package.
func removeFile(path string) { _ = os.Remove(path) }
