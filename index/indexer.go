package index

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/faultpoint"
	"github.com/condachan/condachan/internal/progress"
)

// stateKey is where the index keeps what it knows about a subdir.
func stateKey(subdir string) string { return channel.InternalPrefix + "index/" + subdir + ".json.zst" }

// SubdirState is the index's memory of one subdir: every package it has read, by key,
// ETag and size, and the files its last complete run wrote.
type SubdirState struct {
	Version    int                   `json:"version"`
	Subdir     string                `json:"subdir"`
	Packages   map[string]StateEntry `json:"packages"`
	Unreadable map[string]Problem    `json:"unreadable,omitempty"`
	Written    map[string]Written    `json:"written,omitempty"`
}

// StateEntry is one indexed package.
type StateEntry struct {
	ETag string `json:"etag"`
	Size int64  `json:"size"`
	PackageInfo
}

// Problem is a package that could not be indexed.
type Problem struct {
	File  string `json:"file"`
	ETag  string `json:"etag,omitempty"`
	Size  int64  `json:"size,omitempty"`
	Error string `json:"error"`
	// Retry is set when reading failed in the storage (a network error, access denied,
	// the object changed meanwhile) rather than in the package: such a package is not
	// remembered as unreadable, and the next run reads it again.
	Retry bool `json:"retry,omitempty"`
}

// Written remembers an output file of the last run.
type Written struct {
	ETag   string `json:"etag"`
	SHA256 string `json:"sha256"`
}

const stateVersion = 1

func loadState(ctx context.Context, store channel.Store, subdir string) (*SubdirState, channel.Object, error) {
	empty := &SubdirState{Version: stateVersion, Subdir: subdir, Packages: map[string]StateEntry{}}
	data, obj, err := channel.ReadAll(ctx, store, stateKey(subdir))
	if errors.Is(err, channel.ErrNotFound) {
		return empty, channel.Object{}, nil
	}
	if err != nil {
		return nil, obj, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, obj, err
	}
	defer dec.Close()
	raw, err := dec.DecodeAll(data, nil)
	var st SubdirState
	if err == nil {
		err = decodeJSON(raw, &st)
	}
	if err != nil || st.Version != stateVersion || st.Subdir != subdir {
		// The state is a cache of what the packages say; an unreadable one costs a full
		// re-read, never a wrong index.
		return empty, obj, nil
	}
	if st.Packages == nil {
		st.Packages = map[string]StateEntry{}
	}
	return &st, obj, nil
}

func saveState(ctx context.Context, store channel.Store, st *SubdirState, prev channel.Object) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	data := compressZstd(raw)
	_, err = putCAS(ctx, store, stateKey(st.Subdir), data, prev, "application/zstd")
	return err
}

// putCAS writes data over prev, or creates the object when prev has no ETag. A refused
// write is read back: when the object holds exactly data, the write was ours and only its
// response was lost (the SDK retried, and the retry met our own write), or another writer
// wrote the same bytes; either way the object is as this run wants it.
func putCAS(ctx context.Context, store channel.Store, key string, data []byte, prev channel.Object, contentType string) (channel.Object, error) {
	obj, err := store.Put(ctx, key, bytes.NewReader(data), int64(len(data)), casOptions(prev, contentType))
	if !errors.Is(err, channel.ErrPreconditionFailed) {
		return obj, err
	}
	cur, curObj, rerr := channel.ReadAll(ctx, store, key)
	if rerr == nil && bytes.Equal(cur, data) {
		return curObj, nil
	}
	return obj, err
}

func casOptions(prev channel.Object, contentType string) channel.PutOptions {
	o := channel.PutOptions{ContentType: contentType, CacheControl: "no-cache"}
	if prev.ETag == "" {
		o.IfAbsent = true
	} else {
		o.IfMatch = prev.ETag
	}
	return o
}

// Options configure an index run.
type Options struct {
	// Subdirs to index; empty means every subdir found in the channel.
	Subdirs []string
	// Full ignores what earlier runs remembered and reads every package again; it also
	// replaces a repodata.json that is not valid.
	Full bool
	// Concurrency is how many packages are read at once (default 16).
	Concurrency int
	// Quick trusts the index state about the current output files (their ETags) instead of
	// looking at them: a publish, which only adds packages, saves a request per file. A
	// refused write still falls back to looking. Hand-run index runs look, so that a
	// repodata.json edited or broken by hand is noticed.
	Quick bool
	// Lease, when set, is checked before writing, and its loss stops the run.
	Lease    *channel.Lease
	Progress progress.Reporter
	// Title names the channel on index pages (default: the store's name).
	Title string
}

// Result reports an index run.
type Result struct {
	Subdirs []SubdirResult `json:"subdirs"`
	// Wrote tells whether the run wrote any channel file (repodata, index pages,
	// channeldata), as opposed to finding everything up to date.
	Wrote bool `json:"wrote"`
}

// Indexed reports whether the run's repodata holds the package file (a key such as
// "linux-64/x-1-0.conda") at the given ETag.
func (r *Result) Indexed(key, etag string) bool {
	subdir, file, _ := strings.Cut(key, "/")
	for _, sr := range r.Subdirs {
		if sr.Subdir == subdir {
			e, ok := sr.indexed[file]
			return ok && e == etag
		}
	}
	return false
}

// SubdirResult reports one subdir.
type SubdirResult struct {
	Subdir     string    `json:"subdir"`
	Packages   int       `json:"packages"`
	Added      []string  `json:"added,omitempty"`
	Replaced   []string  `json:"replaced,omitempty"`
	Removed    []string  `json:"removed,omitempty"`
	Unreadable []Problem `json:"unreadable,omitempty"`
	Warnings   []string  `json:"warnings,omitempty"`
	Wrote      []string  `json:"wrote,omitempty"`
	// Read is how many packages this run had to read (new or replaced).
	Read int `json:"read"`

	indexed map[string]string // file name -> ETag of every package in the repodata
}

// ErrFenced is returned when a repodata write lost its compare-and-swap and this process
// no longer holds the lease: a newer index exists and was left alone.
var ErrFenced = errors.New("the index changed under this run and its lease is gone: a newer index exists, nothing was overwritten")

// CorruptRepodataError is an existing repodata.json that is not valid; it is only
// replaced by a --full run.
type CorruptRepodataError struct {
	Key string
	Err error
}

func (e *CorruptRepodataError) Error() string {
	return fmt.Sprintf("%s is not valid repodata (%v); not replacing it: run `condachan index --full` to rebuild it from the packages", e.Key, e.Err)
}

// Run indexes the channel.
func Run(ctx context.Context, store channel.Store, opts Options) (*Result, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.Progress == nil {
		opts.Progress = progress.Nop{}
	}
	if opts.Title == "" {
		opts.Title = store.String()
	}
	if opts.Lease != nil {
		var cancel context.CancelFunc
		ctx, cancel = mergeCancel(ctx, opts.Lease.Context())
		defer cancel()
	}
	listings := map[string][]channel.Object{}
	subdirs := opts.Subdirs
	if len(subdirs) == 0 {
		// One listing of the whole channel serves every subdir.
		err := store.List(ctx, "", func(o channel.Object) error {
			dir, base, ok := strings.Cut(o.Key, "/")
			if ok && channel.IsSubdir(dir) && !strings.Contains(base, "/") {
				listings[dir] = append(listings[dir], o)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for d := range listings {
			subdirs = append(subdirs, d)
		}
	}
	for _, d := range subdirs {
		if !channel.IsSubdir(d) {
			return nil, fmt.Errorf("%q is not a conda subdir (known: %s)", d, strings.Join(channel.KnownSubdirs, ", "))
		}
	}
	sort.Strings(subdirs)
	if !contains(subdirs, "noarch") {
		// Clients always fetch noarch/repodata.json: make sure there is one.
		_, err := store.Stat(ctx, "noarch/repodata.json")
		if errors.Is(err, channel.ErrNotFound) {
			subdirs = append(subdirs, "noarch")
		} else if err != nil {
			return nil, err
		}
	}
	res := &Result{}
	states := map[string]*SubdirState{}
	type pendingSave struct {
		st  *SubdirState
		obj channel.Object
	}
	var saves []pendingSave
	changed := opts.Full
	for _, sd := range subdirs {
		var sr *SubdirResult
		var st *SubdirState
		var stObj channel.Object
		var dirty bool
		var err error
		for attempt := 0; ; attempt++ {
			listing, listed := listings[sd]
			if attempt > 0 {
				listed = false
			}
			sr, st, stObj, dirty, err = runSubdir(ctx, store, sd, listing, listed, attempt > 0, opts)
			if !errors.Is(err, channel.ErrPreconditionFailed) {
				break
			}
			// A file changed since we looked (or since the state said): a holder that lost
			// its lease before us, a hand edit, or a run without the lease. With the lease
			// still ours, redo this subdir on top of what is there now.
			if opts.Lease != nil {
				if lerr := opts.Lease.Check(ctx); lerr != nil {
					return nil, fmt.Errorf("index %s: %w", sd, ErrFenced)
				}
			}
			if attempt >= 3 {
				if opts.Lease == nil {
					return nil, fmt.Errorf("index %s: %w (another index run keeps writing it; use publish/index, which take the channel lease)", sd, err)
				}
				return nil, fmt.Errorf("index %s: %w", sd, ErrFenced)
			}
		}
		if err != nil {
			return nil, fenced(ctx, "index "+sd, err)
		}
		states[sd] = st
		res.Subdirs = append(res.Subdirs, *sr)
		if len(sr.Wrote) > 0 {
			res.Wrote = true
		}
		if dirty {
			saves = append(saves, pendingSave{st, stObj})
			changed = true
		}
	}
	// The channel-wide files follow the subdirs; the states are saved last, so that a run
	// that stops half-way is redone by the next one rather than trusted.
	if changed {
		wrote, err := writeChannelFiles(ctx, store, states, opts)
		if err != nil {
			return nil, fenced(ctx, "channeldata", err)
		}
		res.Wrote = res.Wrote || wrote
	}
	for _, sv := range saves {
		if err := saveState(ctx, store, sv.st, sv.obj); err != nil {
			return nil, fenced(ctx, "save index state of "+sv.st.Subdir, err)
		}
	}
	return res, nil
}

// fenced turns a failure caused by losing the lease (or a write refused because a newer
// holder wrote first) into ErrFenced.
func fenced(ctx context.Context, what string, err error) error {
	if cause := context.Cause(ctx); cause != nil && errors.Is(cause, channel.ErrLeaseLost) {
		return fmt.Errorf("%s: %w", what, ErrFenced)
	}
	if errors.Is(err, channel.ErrLeaseLost) || errors.Is(err, channel.ErrPreconditionFailed) {
		return fmt.Errorf("%s: %w", what, ErrFenced)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// mergeCancel returns a context cancelled when either parent is, with the cause kept.
func mergeCancel(a, b context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(a)
	stop := context.AfterFunc(b, func() { cancel(context.Cause(b)) })
	return ctx, func() { stop(); cancel(context.Canceled) }
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runSubdir indexes one subdir. listing holds its objects when the caller already
// listed them.
//
// The output files are written with compare-and-swap on the ETags the last run recorded
// (no request needed to learn them); when one of those writes is refused, the run is
// repeated with verify set, which looks at the current files first.
func runSubdir(ctx context.Context, store channel.Store, subdir string, listing []channel.Object, listed, verify bool, opts Options) (*SubdirResult, *SubdirState, channel.Object, bool, error) {
	sr := &SubdirResult{Subdir: subdir}
	fail := func(err error) (*SubdirResult, *SubdirState, channel.Object, bool, error) {
		return nil, nil, channel.Object{}, false, err
	}
	prev, stateObj, err := loadState(ctx, store, subdir)
	if err != nil {
		return fail(err)
	}
	outputs := []string{subdir + "/repodata.json", subdir + "/repodata.json.zst", subdir + "/index.html"}
	current := map[string]channel.Object{}
	looked := map[string]bool{} // current[k] came from the store, not from the state
	for _, k := range outputs {
		if w, ok := prev.Written[k]; ok && opts.Quick && !verify && !opts.Full {
			current[k] = channel.Object{Key: k, ETag: w.ETag}
			continue
		}
		looked[k] = true
		obj, err := store.Stat(ctx, k)
		if err == nil {
			current[k] = obj
		} else if !errors.Is(err, channel.ErrNotFound) {
			return fail(err)
		}
	}
	// A repodata.json this index did not write last is checked before it is replaced:
	// silently overwriting a hand-edited or broken file would hide the problem.
	rk := subdir + "/repodata.json"
	if obj, ok := current[rk]; ok && obj.ETag != prev.Written[rk].ETag && !opts.Full {
		data, _, err := channel.ReadAll(ctx, store, rk)
		if err != nil {
			return fail(err)
		}
		if _, err := ParseRepodata(data); err != nil {
			return fail(&CorruptRepodataError{Key: rk, Err: err})
		}
	}
	if !listed {
		listing = nil
		err := store.List(ctx, subdir+"/", func(o channel.Object) error {
			listing = append(listing, o)
			return nil
		})
		if err != nil {
			return fail(err)
		}
	}
	next := &SubdirState{Version: stateVersion, Subdir: subdir, Packages: map[string]StateEntry{}, Unreadable: map[string]Problem{}, Written: map[string]Written{}}
	var toRead []channel.Object
	present := map[string]bool{}
	for _, o := range listing {
		base := strings.TrimPrefix(o.Key, subdir+"/")
		if strings.Contains(base, "/") || !IsPackage(base) {
			continue
		}
		present[base] = true
		if e, ok := prev.Packages[base]; ok && !opts.Full && e.ETag == o.ETag && e.Size == o.Size {
			next.Packages[base] = e
			continue
		}
		if p, ok := prev.Unreadable[base]; ok && !opts.Full && p.ETag == o.ETag && p.Size == o.Size {
			next.Unreadable[base] = p
			continue
		}
		toRead = append(toRead, o)
		if _, ok := prev.Packages[base]; ok {
			sr.Replaced = append(sr.Replaced, base)
		} else {
			sr.Added = append(sr.Added, base)
		}
	}
	for base := range prev.Packages {
		if !present[base] {
			sr.Removed = append(sr.Removed, base)
		}
	}
	sr.Read = len(toRead)
	if len(toRead) > 0 {
		opts.Progress.Status(fmt.Sprintf("reading %d package(s) in %s", len(toRead), subdir))
	}
	var mu sync.Mutex
	var done int64
	var retry []Problem // failed in the storage: reported, not remembered
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	for _, o := range toRead {
		g.Go(func() error {
			base := path.Base(o.Key)
			info, err := readPackage(gctx, store, o)
			mu.Lock()
			defer mu.Unlock()
			done++
			opts.Progress.Update(done, int64(len(toRead)))
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				if errors.Is(err, channel.ErrNotFound) {
					delete(present, base) // deleted while we looked: it is gone
					return nil
				}
				p := Problem{File: base, ETag: o.ETag, Size: o.Size, Error: err.Error()}
				if se := (*storageError)(nil); errors.As(err, &se) {
					p.Retry = true
					retry = append(retry, p)
					return nil
				}
				next.Unreadable[base] = p
				return nil
			}
			next.Packages[base] = StateEntry{ETag: o.ETag, Size: o.Size, PackageInfo: info}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fail(err)
	}
	for _, p := range next.Unreadable {
		sr.Unreadable = append(sr.Unreadable, p)
	}
	sr.Unreadable = append(sr.Unreadable, retry...)
	sort.Slice(sr.Unreadable, func(i, j int) bool { return sr.Unreadable[i].File < sr.Unreadable[j].File })
	for _, base := range append(append([]string{}, sr.Added...), sr.Replaced...) {
		if e, ok := next.Packages[base]; ok {
			sr.Warnings = append(sr.Warnings, checkRecord(subdir, base, e.Record)...)
		}
	}
	sort.Strings(sr.Added)
	sort.Strings(sr.Replaced)
	sort.Strings(sr.Removed)
	sr.Packages = len(next.Packages)

	rd := &Repodata{Subdir: subdir, Packages: map[string]Record{}, PackagesConda: map[string]Record{}}
	infos := map[string]PackageInfo{}
	sr.indexed = map[string]string{}
	for base, e := range next.Packages {
		sr.indexed[base] = e.ETag
		if strings.HasSuffix(base, ".conda") {
			rd.PackagesConda[base] = e.Record
		} else {
			rd.Packages[base] = e.Record
		}
		infos[base] = e.PackageInfo
	}
	repodata := rd.Marshal()
	files := map[string][]byte{
		outputs[0]: repodata,
		outputs[1]: compressZstd(repodata),
		outputs[2]: subdirHTML(opts.Title+"/"+subdir, infos),
	}
	contentTypes := map[string]string{outputs[0]: "application/json", outputs[1]: "application/zstd", outputs[2]: "text/html; charset=utf-8"}
	faultpoint.Hit("index:before-write")
	checked := false
	for i, k := range outputs {
		if i > 0 {
			faultpoint.Hit("index:between-writes")
		}
		data := files[k]
		sum := sha256.Sum256(data)
		digest := hex.EncodeToString(sum[:])
		cur, exists := current[k]
		if exists && looked[k] && prev.Written[k].ETag == cur.ETag && prev.Written[k].SHA256 == digest {
			next.Written[k] = prev.Written[k] // unchanged since our last run
			continue
		}
		// Unlooked (quick mode), the file is written even when unchanged: the write,
		// conditional on the ETag the state remembers, costs what a look would and
		// proves the file is still the one recorded.
		if opts.Lease != nil && !checked {
			// Not needed for safety (the writes are compare-and-swap) but a lost lease
			// is better noticed before writing than after.
			if err := opts.Lease.Check(ctx); err != nil {
				return fail(err)
			}
			checked = true
		}
		obj, err := putCAS(ctx, store, k, data, cur, contentTypes[k])
		if err != nil {
			return fail(err)
		}
		next.Written[k] = Written{ETag: obj.ETag, SHA256: digest}
		sr.Wrote = append(sr.Wrote, k)
	}
	dirty := len(sr.Wrote) > 0 || sr.Read > 0 || len(sr.Removed) > 0 || stateObj.ETag == "" || len(next.Packages) != len(prev.Packages)
	return sr, next, stateObj, dirty, nil
}

// checkRecord warns about records conda would trip over.
func checkRecord(subdir, file string, r Record) []string {
	var w []string
	want := fmt.Sprintf("%s-%s-%s", str(r["name"]), str(r["version"]), str(r["build"]))
	if PackageStem(file) != want {
		w = append(w, fmt.Sprintf("%s: its index.json says %s; conda installs it under the name in index.json", file, want))
	}
	if sd := str(r["subdir"]); sd != "" && sd != subdir {
		w = append(w, fmt.Sprintf("%s: built for subdir %s but stored in %s", file, sd, subdir))
	}
	return w
}

// Covered reports whether the last index run of subdir completed (its output files are
// the ones its state records) and indexed each package with the given ETag, keyed by
// file name. A publisher that finds its packages covered after waiting for the lease is
// done: another publisher's run indexed them (group commit). A run that died half-way is
// never taken for a complete one.
func Covered(ctx context.Context, store channel.Store, subdir string, packages map[string]string) (bool, error) {
	st, stObj, err := loadState(ctx, store, subdir)
	if err != nil || stObj.ETag == "" {
		return false, err
	}
	for file, etag := range packages {
		if e, ok := st.Packages[file]; !ok || e.ETag != etag {
			return false, nil
		}
	}
	for _, k := range []string{subdir + "/repodata.json", subdir + "/repodata.json.zst", subdir + "/index.html"} {
		w, ok := st.Written[k]
		if !ok {
			return false, nil
		}
		obj, err := store.Stat(ctx, k)
		if errors.Is(err, channel.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if obj.ETag != w.ETag {
			return false, nil
		}
	}
	return true, nil
}
