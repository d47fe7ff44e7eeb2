// Package publish puts packages into a channel: it uploads each one create-if-absent (a
// package, once published, never changes) and then reindexes the touched subdirs under
// the channel lease. Publishers that queue up behind one lease are served by group
// commit: the holder indexes every package present, so a waiter whose package is already
// in the index when it gets the lease is done at once.
//
// Besides, the package does what else changes a channel under its lease (Remove,
// StorePatches, Reindex), and builds a package for a channel (Build): its archives may
// be staged there, its build number reserved there, and it is published there.
package publish

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/internal/faultpoint"
	"github.com/condachan/condachan/internal/progress"
)

// Options configure Publish.
type Options struct {
	// Force replaces a package that exists with different bytes. Without it that is an
	// error: installed environments and lock files name packages by their hashes.
	Force    bool
	Lease    channel.LeaseOptions
	Progress progress.Reporter
	// Log receives one line per notable event (waiting for the lease, group commit).
	Log func(string)
}

// Upload describes one package's upload.
type Upload struct {
	File    string `json:"file"`
	Key     string `json:"key"`
	Subdir  string `json:"subdir"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	MD5     string `json:"md5"`
	ETag    string `json:"etag"`
	Status  string `json:"status"` // uploaded, unchanged, replaced
	Indexed bool   `json:"indexed"`

	info *index.PackageInfo // as read before the upload, for the index run (index.Known)
}

// Result reports a publish.
type Result struct {
	Channel string        `json:"channel"`
	Uploads []Upload      `json:"uploads"`
	Index   *index.Result `json:"index,omitempty"`
	// GroupCommit is true when another publisher's index run already covered every
	// package of this one, so no index run was needed.
	GroupCommit bool `json:"group_commit"`
}

// localPackage is a package file about to be published.
type localPackage struct {
	path   string
	name   string // file name
	subdir string
	size   int64
	sha256 string
	md5    string
	info   *index.PackageInfo // nil when not read
}

// inspect checks a package file and reads its subdir and hashes.
func inspect(path string) (localPackage, error) {
	lp := localPackage{path: path, name: filepath.Base(path)}
	if !index.IsPackage(lp.name) {
		return lp, fmt.Errorf("%s: not a conda package (.conda or .tar.bz2)", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return lp, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return lp, err
	}
	lp.size = st.Size()
	info, err := index.ReadLocalPackage(f, lp.size, path)
	if err != nil {
		return lp, err
	}
	r := info.Record
	lp.subdir, _ = r["subdir"].(string)
	if lp.subdir == "" {
		if r["noarch"] != nil {
			lp.subdir = "noarch"
		} else {
			return lp, fmt.Errorf("%s: info/index.json has no subdir", path)
		}
	}
	if !channel.IsSubdir(lp.subdir) {
		return lp, fmt.Errorf("%s: unknown subdir %q in info/index.json", path, lp.subdir)
	}
	want := fmt.Sprintf("%v-%v-%v", r["name"], r["version"], r["build"])
	if index.PackageStem(lp.name) != want {
		return lp, fmt.Errorf("%s: the file name does not match its info/index.json (%s); conda would not find it: rename it to %s%s", path, want, want, strings.TrimPrefix(lp.name, index.PackageStem(lp.name)))
	}
	lp.sha256, lp.md5 = info.Record["sha256"].(string), info.Record["md5"].(string)
	lp.info = &info
	return lp, nil
}

// Publish uploads the packages and reindexes their subdirs under the channel lease.
func Publish(ctx context.Context, store channel.Store, files []string, opts Options) (*Result, error) {
	if opts.Progress == nil {
		opts.Progress = progress.Nop{}
	}
	var pkgs []localPackage
	seen := map[string]string{}
	for _, f := range files {
		lp, err := inspect(f)
		if err != nil {
			return nil, err
		}
		key := lp.subdir + "/" + lp.name
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("%s and %s are both %s", prev, f, key)
		}
		seen[key] = f
		pkgs = append(pkgs, lp)
	}
	res := &Result{Channel: store.String(), Uploads: make([]Upload, len(pkgs))}
	opts.Progress.Status(fmt.Sprintf("uploading %d package(s)", len(pkgs)))
	var total, done int64
	for _, lp := range pkgs {
		total += lp.size
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, lp := range pkgs {
		g.Go(func() error {
			up, err := upload(gctx, store, lp, opts.Force)
			if err != nil {
				return err
			}
			res.Uploads[i] = up
			mu.Lock()
			done += lp.size
			opts.Progress.Update(done, total)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	faultpoint.Hit("publish:uploaded")
	ir, group, err := IndexUnderLease(ctx, store, subdirsOf(res.Uploads), res.Uploads, opts)
	if err != nil {
		return res, err
	}
	res.Index, res.GroupCommit = ir, group
	var missing []string
	for i, u := range res.Uploads {
		res.Uploads[i].Indexed = group || ir.Indexed(u.Key, u.ETag)
		if !res.Uploads[i].Indexed {
			missing = append(missing, u.Key+": "+leftOutReason(ir, u.Key))
		}
	}
	if len(missing) > 0 {
		return res, &NotIndexedError{Missing: missing, Channel: fmt.Sprint(store), Remedy: index.RemedyReindex}
	}
	return res, nil
}

// leftOutReason says why an index run left a package out.
func leftOutReason(ir *index.Result, key string) string {
	subdir, file, _ := strings.Cut(key, "/")
	for _, sr := range ir.Subdirs {
		if sr.Subdir != subdir {
			continue
		}
		for _, p := range sr.Unreadable {
			if p.File == file {
				return p.Error
			}
		}
	}
	return "replaced or deleted by someone else while it was indexed"
}

func subdirsOf(ups []Upload) []string {
	set := map[string]bool{}
	for _, u := range ups {
		set[u.Subdir] = true
	}
	var out []string
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// upload puts one package create-if-absent. The same bytes already there is a no-op;
// different bytes are refused unless force is set.
func upload(ctx context.Context, store channel.Store, lp localPackage, force bool) (Upload, error) {
	key := lp.subdir + "/" + lp.name
	up := Upload{File: lp.path, Key: key, Subdir: lp.subdir, Size: lp.size, SHA256: lp.sha256, MD5: lp.md5, info: lp.info}
	meta := map[string]string{index.MetaSHA256: lp.sha256, index.MetaMD5: lp.md5}
	opts := channel.PutOptions{IfAbsent: true, ContentType: "application/octet-stream", CacheControl: "public, max-age=31536000, immutable", Metadata: meta}
	for attempt := 0; attempt < 3; attempt++ {
		obj, err := store.PutFile(ctx, key, lp.path, opts)
		if err == nil {
			up.ETag = obj.ETag
			if up.Status == "" {
				up.Status = "uploaded"
			}
			return up, nil
		}
		if !errors.Is(err, channel.ErrPreconditionFailed) {
			return up, fmt.Errorf("upload %s: %w", lp.path, err)
		}
		// Something is there: ours from a retried request, the same package published
		// before, or different bytes under the same name.
		existing, err := store.Stat(ctx, key)
		if errors.Is(err, channel.ErrNotFound) {
			continue // deleted meanwhile (or a lost IfMatch): try again
		}
		if err != nil {
			return up, err
		}
		same, err := sameContent(ctx, store, existing, lp)
		if err != nil {
			return up, err
		}
		if same {
			up.ETag = existing.ETag
			if up.Status == "" {
				up.Status = "unchanged"
			}
			return up, nil
		}
		if !force {
			return up, &ConflictError{Key: key, Channel: fmt.Sprint(store)}
		}
		opts = channel.PutOptions{IfMatch: existing.ETag, ContentType: opts.ContentType, CacheControl: opts.CacheControl, Metadata: meta}
		up.Status = "replaced"
	}
	return up, fmt.Errorf("upload %s: %s kept changing while publishing", lp.path, key)
}

// sameContent compares a stored package with a local one: by the hashes condachan
// stored with it, or by hashing it when it was uploaded by something else.
func sameContent(ctx context.Context, store channel.Store, obj channel.Object, lp localPackage) (bool, error) {
	if obj.Size != lp.size {
		return false, nil
	}
	sha, _, err := StoredHashes(ctx, store, obj)
	return sha == lp.sha256, err
}

// IndexUnderLease takes the channel lease and reindexes subdirs, unless every upload is
// already indexed (group commit: another holder's run covered it), in which case it
// returns with group set and no index run.
func IndexUnderLease(ctx context.Context, store channel.Store, subdirs []string, uploads []Upload, opts Options) (res *index.Result, group bool, err error) {
	lease, err := acquire(ctx, store, opts)
	if err != nil {
		return nil, false, err
	}
	defer func() {
		rerr := lease.Release(context.WithoutCancel(ctx))
		if err == nil && rerr != nil {
			err = fmt.Errorf("release lease: %w", rerr)
		}
	}()
	faultpoint.Hit("publish:leased")
	if len(uploads) > 0 {
		covered, err := allIndexed(lease.Context(), store, uploads)
		if err != nil {
			return nil, false, err
		}
		if covered {
			if opts.Log != nil {
				opts.Log(coveredMessage(uploads))
			}
			return nil, true, nil
		}
	}
	opts.Progress.Status("indexing " + strings.Join(subdirs, ", "))
	res, err = index.Run(ctx, store, index.Options{Subdirs: subdirs, Lease: lease, Progress: opts.Progress, Quick: true, Known: Known(uploads)})
	return res, false, err
}

// Known are the packages of uploads whose info the uploader read, for index.Options.Known.
func Known(uploads []Upload) map[string]index.Known {
	known := map[string]index.Known{}
	for _, u := range uploads {
		if u.info != nil && u.ETag != "" {
			known[u.Key] = index.Known{ETag: u.ETag, Size: u.Size, Info: *u.info}
		}
	}
	return known
}

// acquire takes the channel lease, logging waits and take-overs.
func acquire(ctx context.Context, store channel.Store, opts Options) (*channel.Lease, error) {
	leaseOpts := opts.Lease
	userWaiting := leaseOpts.Waiting
	leaseOpts.Waiting = func(rec channel.LeaseRecord, obj channel.Object) {
		if opts.Log != nil {
			opts.Log(fmt.Sprintf("waiting for the channel lease held by %s pid %d (generation %d)", rec.Owner.Host, rec.Owner.PID, rec.Generation))
		}
		opts.Progress.Status("waiting for the channel lease")
		if userWaiting != nil {
			userWaiting(rec, obj)
		}
	}
	userTookOver := leaseOpts.TookOver
	leaseOpts.TookOver = func(prev channel.LeaseRecord, waited time.Duration) {
		if opts.Log != nil {
			opts.Log(fmt.Sprintf("took over the channel lease from %s pid %d after it expired (%s without a heartbeat)", prev.Owner.Host, prev.Owner.PID, waited.Round(time.Second)))
		}
		if userTookOver != nil {
			userTookOver(prev, waited)
		}
	}
	userGone := leaseOpts.HolderGone
	leaseOpts.HolderGone = func(prev channel.LeaseRecord, waited time.Duration, why string) {
		if opts.Log != nil {
			opts.Log("took over the channel lease at once: its holder is gone (" + why + ")")
		}
		switch {
		case userGone != nil:
			userGone(prev, waited, why)
		case userTookOver != nil:
			userTookOver(prev, waited)
		}
	}
	return channel.Acquire(ctx, store, leaseOpts)
}

// underLease runs fn holding the channel lease and releases it after.
func underLease(ctx context.Context, store channel.Store, opts Options, fn func(*channel.Lease) error) (err error) {
	if opts.Progress == nil {
		opts.Progress = progress.Nop{}
	}
	lease, err := acquire(ctx, store, opts)
	if err != nil {
		return err
	}
	defer func() {
		rerr := lease.Release(context.WithoutCancel(ctx))
		if err == nil && rerr != nil {
			err = fmt.Errorf("release lease: %w", rerr)
		}
	}()
	return fn(lease)
}

// coveredMessage says why no index run was needed: another publisher's run indexed
// what this one uploaded, or nothing was uploaded (every package was already in the
// channel, unchanged, and indexed).
func coveredMessage(uploads []Upload) string {
	for _, u := range uploads {
		if u.Status != "unchanged" {
			return "already indexed by another publisher's run (group commit)"
		}
	}
	return "already in the channel and indexed: nothing to do"
}

// allIndexed reports whether every upload is in a completed index run of its subdir.
func allIndexed(ctx context.Context, store channel.Store, uploads []Upload) (bool, error) {
	bySubdir := map[string]map[string]string{}
	for _, u := range uploads {
		if bySubdir[u.Subdir] == nil {
			bySubdir[u.Subdir] = map[string]string{}
		}
		bySubdir[u.Subdir][strings.TrimPrefix(u.Key, u.Subdir+"/")] = u.ETag
	}
	for sd, pkgs := range bySubdir {
		ok, err := index.Covered(ctx, store, sd, pkgs)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// NextBuildNumber reserves the next free build number for name and version in a subdir:
// one more than the highest among the packages there and earlier reservations. The
// reservation is a create-if-absent object, so two concurrent builds never get the same
// number.
func NextBuildNumber(ctx context.Context, store channel.Store, subdir, name, version string) (int, error) {
	highest := -1
	prefix := subdir + "/" + name + "-" + version + "-"
	err := store.List(ctx, prefix, func(o channel.Object) error {
		build := strings.TrimPrefix(index.PackageStem(o.Key), strings.TrimPrefix(prefix, subdir+"/"))
		if !index.IsPackage(o.Key) || strings.Contains(build, "-") {
			return nil
		}
		if n, ok := buildNumberOf(build); ok && n > highest {
			highest = n
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	resPrefix := channel.InternalPrefix + "build-numbers/" + subdir + "/" + name + "-" + version + "-"
	err = store.List(ctx, resPrefix, func(o channel.Object) error {
		if n, err := strconv.Atoi(strings.TrimPrefix(o.Key, resPrefix)); err == nil && n > highest {
			highest = n
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for n := highest + 1; n < highest+1000; n++ {
		_, err := store.Put(ctx, resPrefix+strconv.Itoa(n), strings.NewReader(""), 0, channel.PutOptions{IfAbsent: true})
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, channel.ErrPreconditionFailed) {
			return 0, err
		}
	}
	return 0, fmt.Errorf("could not reserve a build number for %s %s", name, version)
}

// buildNumberOf reads the build number from a build string: the digits after its last
// underscore ("h1234_3" -> 3), or the whole string ("3").
func buildNumberOf(build string) (int, bool) {
	if i := strings.LastIndex(build, "_"); i >= 0 {
		build = build[i+1:]
	}
	n, err := strconv.Atoi(build)
	return n, err == nil
}
