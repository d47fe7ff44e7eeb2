package index

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/input"
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
	// Shards maps each package name to the digest of its shard in the shard index the
	// last complete run wrote.
	Shards map[string]string `json:"shards,omitempty"`
	// RetiredShards maps the digest of each shard no longer named by the current shard
	// index to when it stopped being named (Unix seconds): it is deleted ShardGrace later.
	RetiredShards map[string]int64 `json:"retired_shards,omitempty"`
	// Patches are the subdir's patch instructions as last read, with the ETag of the
	// object they were read from; PatchSHA256 is the digest of what the shards hold.
	// NoShards remembers `index --no-shards`: the subdir has no shard index until an
	// index run with --shards.
	NoShards    bool     `json:"no_shards,omitempty"`
	Patches     *Patches `json:"patches,omitempty"`
	PatchETag   string   `json:"patch_etag,omitempty"`
	PatchSHA256 string   `json:"patch_sha256,omitempty"`
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
	raw, err := decompressZstd(data)
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
	// Shards turns sharded repodata (CEP 16) on or off for the subdirs this run indexes;
	// the choice is remembered, and the default keeps it (on for a new subdir).
	Shards ShardMode
	// Clock gives the time of the run (default time.Now): the indexed_timestamp of new
	// packages and the age of retired shards. Tests set it.
	Clock func() time.Time
	// Known are packages the caller has just uploaded and read itself (ReadLocalPackage
	// of the same bytes), by key ("linux-64/x-1-0.conda"): a run takes a package's info
	// from here instead of reading it from the store when the stored object still has the
	// ETag and size the caller got, which saves a publish or a mirror two requests a
	// package.
	Known map[string]Known
}

// Known is a package's info as its uploader read it, for the object with this ETag and
// size.
type Known struct {
	ETag string
	Size int64
	Info PackageInfo
}

// ShardMode says whether an index run writes sharded repodata.
type ShardMode int

const (
	// ShardsAsBefore keeps each subdir's choice (shards on, unless turned off).
	ShardsAsBefore ShardMode = iota
	// ShardsOn writes shards and the shard index.
	ShardsOn
	// ShardsOff deletes the shard index (clients fall back to repodata.json); the shards
	// it named are deleted ShardGrace later.
	ShardsOff
)

func (o Options) now() time.Time {
	if o.Clock != nil {
		return o.Clock()
	}
	return time.Now()
}

// Result reports an index run.
type Result struct {
	Subdirs []SubdirResult `json:"subdirs"`
	// Wrote tells whether the run wrote any channel file (repodata, index pages,
	// channeldata), as opposed to finding everything up to date.
	Wrote bool `json:"wrote"`
	// Swept are the leftovers of interrupted writes this run removed; SweepError why it
	// could not look for them.
	Swept      []channel.Leftover `json:"swept,omitempty"`
	SweepError string             `json:"sweep_error,omitempty"`
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
	// ShardsRendered and ShardsWritten count the shards this run rendered (the names
	// whose records changed) and uploaded (those the store did not hold yet).
	ShardsRendered int `json:"shards_rendered"`
	ShardsWritten  int `json:"shards_written"`
	// DeletedShards are shards retired more than ShardGrace ago, deleted by this run.
	DeletedShards []string `json:"deleted_shards,omitempty"`
	// Read is how many packages this run had to read (new or replaced).
	Read int `json:"read"`

	indexed map[string]string // file name -> ETag of every package in the repodata
}

// ErrFenced is returned when a repodata write lost its compare-and-swap and this process
// no longer holds the lease: a newer index exists and was left alone.
var ErrFenced = errors.New("the index changed under this run and its lease is gone: a newer index exists, nothing was overwritten")

// Remedy is a machine-readable way out of an error, for a front end to word as its user
// would act on it (the CLI names the command and flag).
type Remedy string

// RemedyFullReindex is a run with Options.Full, which rebuilds the repodata from the
// packages instead of from what it held.
const RemedyFullReindex Remedy = "full reindex"

// RemedyReindex is another index run of the channel once the cause is fixed.
const RemedyReindex Remedy = "reindex"

// CorruptRepodataError is an existing repodata.json that is not valid; it is only
// replaced by a run with Options.Full, which Remedy names.
type CorruptRepodataError struct {
	Key    string
	Err    error
	Remedy Remedy
}

func (e *CorruptRepodataError) Error() string {
	return fmt.Sprintf("%s is not valid repodata (%v); not replacing it: a full reindex rebuilds it from the packages", e.Key, e.Err)
}

// Run indexes the channel.
func Run(ctx context.Context, store channel.Store, opts Options) (*Result, error) {
	opts = opts.withDefaults(store)
	if opts.Lease != nil {
		var cancel context.CancelFunc
		ctx, cancel = mergeCancel(ctx, opts.Lease.Context())
		defer cancel()
	}
	subdirs, listings, err := resolveSubdirs(ctx, store, opts.Subdirs)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	states := map[string]*SubdirState{}
	var saves []pendingSave
	changed := opts.Full
	for _, sd := range subdirs {
		listing, listed := listings[sd]
		sr, save, err := indexSubdir(ctx, store, sd, listing, listed, opts)
		if err != nil {
			return nil, err
		}
		states[sd] = save.st
		res.Subdirs = append(res.Subdirs, *sr)
		res.Wrote = res.Wrote || len(sr.Wrote) > 0
		if save.dirty {
			saves = append(saves, save)
			changed = true
		}
	}
	if err := finish(ctx, store, states, saves, changed, opts, res); err != nil {
		return nil, err
	}
	return res, nil
}

func (o Options) withDefaults(store channel.Store) Options {
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.Progress == nil {
		o.Progress = progress.Nop{}
	}
	if o.Title == "" {
		o.Title = store.String()
	}
	return o
}

// pendingSave is a subdir state to save at the end of the run.
type pendingSave struct {
	st    *SubdirState
	obj   channel.Object // the state object it replaces
	dirty bool
}

// resolveSubdirs returns the subdirs to index, sorted, with noarch added when the channel
// has no noarch/repodata.json (clients always fetch it). With none named, one listing of
// the whole channel finds them and serves as each one's listing.
func resolveSubdirs(ctx context.Context, store channel.Store, named []string) ([]string, map[string][]channel.Object, error) {
	listings := map[string][]channel.Object{}
	subdirs := append([]string{}, named...)
	if len(subdirs) == 0 {
		err := store.List(ctx, "", func(o channel.Object) error {
			dir, base, ok := strings.Cut(o.Key, "/")
			if ok && channel.IsSubdir(dir) && (!strings.Contains(base, "/") || strings.HasPrefix(base, ShardsFolder)) {
				listings[dir] = append(listings[dir], o)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		for d := range listings {
			subdirs = append(subdirs, d)
		}
	}
	for _, d := range subdirs {
		if !channel.IsSubdir(d) {
			return nil, nil, input.Mark(fmt.Errorf("%q is not a conda subdir (known: %s)", d, strings.Join(channel.KnownSubdirs, ", ")))
		}
	}
	if len(named) > 0 {
		if err := SubdirsExist(ctx, store, named); err != nil {
			return nil, nil, err
		}
	}
	sort.Strings(subdirs)
	if !contains(subdirs, "noarch") {
		_, err := store.Stat(ctx, "noarch/repodata.json")
		if errors.Is(err, channel.ErrNotFound) {
			subdirs = append(subdirs, "noarch")
		} else if err != nil {
			return nil, nil, err
		}
	}
	return subdirs, listings, nil
}

// indexSubdir runs one subdir, again on top of what is there when a write finds a file
// changed since the run looked (or since the state said): a holder that lost its lease
// before us, a hand edit, or a run without the lease.
func indexSubdir(ctx context.Context, store channel.Store, sd string, listing []channel.Object, listed bool, opts Options) (*SubdirResult, pendingSave, error) {
	for attempt := 0; ; attempt++ {
		sr, st, stObj, dirty, err := runSubdir(ctx, store, sd, listing, listed && attempt == 0, attempt > 0, opts)
		if err == nil {
			return sr, pendingSave{st: st, obj: stObj, dirty: dirty}, nil
		}
		if !errors.Is(err, channel.ErrPreconditionFailed) {
			return nil, pendingSave{}, fenced(ctx, "index "+sd, err)
		}
		if opts.Lease != nil {
			if lerr := opts.Lease.Check(ctx); lerr != nil {
				return nil, pendingSave{}, fmt.Errorf("index %s: %w", sd, ErrFenced)
			}
		}
		if attempt >= 3 {
			if opts.Lease == nil {
				return nil, pendingSave{}, fmt.Errorf("index %s: %w (another index run keeps writing it; use publish/index, which take the channel lease)", sd, err)
			}
			return nil, pendingSave{}, fmt.Errorf("index %s: %w", sd, ErrFenced)
		}
	}
}

// finish writes the channel-wide files after the subdirs, then saves the states last, so
// that a run that stops half-way is redone by the next one rather than trusted; a
// hand-run index then sweeps leftovers of interrupted writes.
func finish(ctx context.Context, store channel.Store, states map[string]*SubdirState, saves []pendingSave, changed bool, opts Options, res *Result) error {
	if changed {
		wrote, err := writeChannelFiles(ctx, store, states, opts)
		if err != nil {
			return fenced(ctx, "channeldata", err)
		}
		res.Wrote = res.Wrote || wrote
	}
	for _, sv := range saves {
		if err := saveState(ctx, store, sv.st, sv.obj); err != nil {
			return fenced(ctx, "save index state of "+sv.st.Subdir, err)
		}
	}
	if !opts.Quick {
		sweep(ctx, store, res)
	}
	return nil
}

// sweep removes what interrupted writes left in the channel (temp files of a folder
// channel, incomplete multipart uploads on S3), past the ages channel.SweepStale gives.
// Publishes (quick runs) leave it to hand-run index runs. A failure is reported, not
// fatal: the index itself is written.
func sweep(ctx context.Context, store channel.Store, res *Result) {
	swept, err := channel.SweepStale(ctx, store)
	res.Swept = swept
	if err != nil {
		res.SweepError = err.Error()
	}
}

// NoSuchSubdirError is a subdir asked for by name that the channel does not have: an index
// run does not create one (noarch aside, which clients always fetch).
type NoSuchSubdirError struct {
	Subdir string
	Have   []string
}

func (e *NoSuchSubdirError) Error() string {
	have := "none"
	if len(e.Have) > 0 {
		have = strings.Join(e.Have, ", ")
	}
	return fmt.Sprintf("the channel has no %s subdir (it has: %s); nothing was written. Publish a package for %s to create it", e.Subdir, have, e.Subdir)
}

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*NoSuchSubdirError) Is(target error) bool { return target == input.ErrInvalid }

// SubdirsExist makes sure each named subdir holds something or was indexed before; it
// returns a *NoSuchSubdirError for the first that does not.
func SubdirsExist(ctx context.Context, store channel.Store, subdirs []string) error {
	for _, sd := range subdirs {
		if sd == "noarch" {
			continue
		}
		found := false
		err := store.List(ctx, sd+"/", func(channel.Object) error {
			found = true
			return errStopListing
		})
		if err != nil && !errors.Is(err, errStopListing) {
			return err
		}
		if found {
			continue
		}
		if _, err := store.Stat(ctx, stateKey(sd)); err == nil {
			continue
		} else if !errors.Is(err, channel.ErrNotFound) {
			return err
		}
		var have []string
		err = store.List(ctx, channel.InternalPrefix+"index/", func(o channel.Object) error {
			if name, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, channel.InternalPrefix+"index/"), ".json.zst"); ok && channel.IsSubdir(name) {
				have = append(have, name)
			}
			return nil
		})
		if err != nil {
			return err
		}
		sort.Strings(have)
		return &NoSuchSubdirError{Subdir: sd, Have: have}
	}
	return nil
}

var errStopListing = errors.New("stop listing")

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

// checkRecord warns about records conda would trip over.
func checkRecord(subdir, file string, r Record, now time.Time) []string {
	var w []string
	want := fmt.Sprintf("%s-%s-%s", str(r["name"]), str(r["version"]), str(r["build"]))
	if PackageStem(file) != want {
		w = append(w, fmt.Sprintf("%s: its index.json says %s; conda installs it under the name in index.json", file, want))
	}
	if sd := str(r["subdir"]); sd != "" && sd != subdir {
		w = append(w, fmt.Sprintf("%s: built for subdir %s but stored in %s", file, sd, subdir))
	}
	if ts := timestampSeconds(r["timestamp"]); ts > now.Add(futureSlack).Unix() {
		w = append(w, fmt.Sprintf("%s: its timestamp %s lies in the future (the build machine's clock?); clients that exclude packages newer than a date will skip it until then",
			file, time.Unix(ts, 0).UTC().Format(time.RFC3339)))
	}
	w = append(w, checkSpecs(file, r)...)
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
	for _, o := range writtenSubdirFiles() {
		k := subdir + "/" + o.Name
		w, ok := st.Written[k]
		if !ok && o.Name == ShardIndexFile && st.NoShards {
			continue
		}
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
