package index

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/faultpoint"
)

// An index run of one subdir goes through four stages, each a method of subdirRun:
//
//   - diff: the subdir's listing against the state the last run saved: which packages
//     are new, replaced or gone, which shards exist, what the outputs are now;
//   - read: the metadata of the new and replaced packages, with ranged reads;
//   - render: every output, from the subdir as it is now, held in memory;
//   - write: the outputs that changed, in dependency order (shards, the shard index,
//     repodata, the rest), each a compare-and-swap on what diff found: the fence.
type subdirRun struct {
	store  channel.Store
	subdir string
	opts   Options
	// verify is set on a retry after a refused write: look at every output, trust no
	// ETag the state remembers.
	verify bool
	now    time.Time

	prev    *SubdirState
	prevObj channel.Object
	next    *SubdirState
	res     *SubdirResult

	// From diff.
	current       map[string]channel.Object // output key -> the object there now
	looked        map[string]bool           // current[k] came from the store, not from the state
	listing       []channel.Object
	toRead        []channel.Object
	shardsPresent map[string]channel.Object // digest hex -> stored shard
	recovered     map[string]Record         // records of a repodata.json the state does not know
	patchObj      channel.Object
	patchData     []byte

	// From render.
	files      map[string][]byte // output key -> content
	shards     map[string]encodedShard
	shardNames map[string]string // package name -> shard digest hex
}

// runSubdir indexes one subdir. listing holds its objects when the caller already listed
// them. It returns the subdir's report, its new state, the state object it replaces and
// whether the state needs saving.
func runSubdir(ctx context.Context, store channel.Store, subdir string, listing []channel.Object, listed, verify bool, opts Options) (*SubdirResult, *SubdirState, channel.Object, bool, error) {
	r := &subdirRun{store: store, subdir: subdir, opts: opts, verify: verify, now: opts.now()}
	if listed {
		r.listing = listing
	}
	if err := r.diff(ctx, !listed); err != nil {
		return nil, nil, channel.Object{}, false, err
	}
	if err := r.read(ctx); err != nil {
		return nil, nil, channel.Object{}, false, err
	}
	if err := r.render(); err != nil {
		return nil, nil, channel.Object{}, false, fmt.Errorf("render %s: %w", subdir, err)
	}
	if err := r.write(ctx); err != nil {
		return nil, nil, channel.Object{}, false, err
	}
	dirty := len(r.res.Wrote) > 0 || r.res.Read > 0 || len(r.res.Removed) > 0 || r.prevObj.ETag == "" ||
		len(r.next.Packages) != len(r.prev.Packages) || len(r.res.DeletedShards) > 0 ||
		len(r.next.RetiredShards) != len(r.prev.RetiredShards)
	return r.res, r.next, r.prevObj, dirty, nil
}

// diff compares the subdir's listing with the state.
func (r *subdirRun) diff(ctx context.Context, list bool) error {
	var err error
	r.res = &SubdirResult{Subdir: r.subdir}
	r.prev, r.prevObj, err = loadState(ctx, r.store, r.subdir)
	if err != nil {
		return err
	}
	if err := r.statOutputs(ctx); err != nil {
		return err
	}
	if err := r.checkForeignRepodata(ctx); err != nil {
		return err
	}
	if list {
		r.listing = nil
		err := r.store.List(ctx, r.subdir+"/", func(o channel.Object) error {
			r.listing = append(r.listing, o)
			return nil
		})
		if err != nil {
			return err
		}
	}
	r.classify()
	return r.loadPatches(ctx)
}

// statOutputs learns the current ETag of every output the run writes: from the state in
// a quick run, from the store otherwise.
func (r *subdirRun) statOutputs(ctx context.Context) error {
	r.current = map[string]channel.Object{}
	r.looked = map[string]bool{}
	for _, o := range writtenSubdirFiles() {
		k := r.subdir + "/" + o.Name
		if w, ok := r.prev.Written[k]; ok && r.opts.Quick && !r.verify && !r.opts.Full {
			r.current[k] = channel.Object{Key: k, ETag: w.ETag}
			continue
		}
		r.looked[k] = true
		obj, err := r.store.Stat(ctx, k)
		if err == nil {
			r.current[k] = obj
		} else if !errors.Is(err, channel.ErrNotFound) {
			return err
		}
	}
	return nil
}

// checkForeignRepodata checks a repodata.json this index did not write last before it is
// replaced: silently overwriting a hand-edited or broken file would hide the problem. Its
// records also give back the indexed_timestamp of packages the state does not know (the
// state was deleted, or an older condachan wrote it).
func (r *subdirRun) checkForeignRepodata(ctx context.Context) error {
	rk := r.subdir + "/" + RepodataJSON
	obj, ok := r.current[rk]
	if !ok {
		return nil
	}
	foreign := obj.ETag != r.prev.Written[rk].ETag
	if !foreign && !r.prev.lacksIndexedTimestamps() {
		return nil
	}
	data, _, err := channel.ReadAll(ctx, r.store, rk)
	if errors.Is(err, channel.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	recs, err := ParseRepodata(data)
	if err != nil {
		if foreign && !r.opts.Full {
			return &CorruptRepodataError{Key: rk, Err: err, Remedy: RemedyFullReindex}
		}
		return nil
	}
	r.recovered = recs
	return nil
}

// classify sorts the listing into packages kept from the state, packages to read, and
// stored shards.
func (r *subdirRun) classify() {
	r.next = &SubdirState{Version: stateVersion, Subdir: r.subdir, Packages: map[string]StateEntry{},
		Unreadable: map[string]Problem{}, Written: map[string]Written{}, RetiredShards: map[string]int64{}}
	r.shardsPresent = map[string]channel.Object{}
	present := map[string]bool{}
	for _, o := range r.listing {
		base := strings.TrimPrefix(o.Key, r.subdir+"/")
		if digest, ok := strings.CutPrefix(base, ShardsFolder); ok {
			if isShardFileName(digest) {
				r.shardsPresent[strings.TrimSuffix(digest, shardFileExtension)] = o
			}
			continue
		}
		if base == PatchInstructions {
			r.patchObj = o
			continue
		}
		if strings.Contains(base, "/") || !IsPackage(base) {
			continue
		}
		present[base] = true
		if e, ok := r.prev.Packages[base]; ok && !r.opts.Full && e.ETag == o.ETag && e.Size == o.Size {
			r.next.Packages[base] = e
			continue
		}
		if p, ok := r.prev.Unreadable[base]; ok && !r.opts.Full && p.ETag == o.ETag && p.Size == o.Size {
			r.next.Unreadable[base] = p
			continue
		}
		r.toRead = append(r.toRead, o)
		if _, ok := r.prev.Packages[base]; ok {
			r.res.Replaced = append(r.res.Replaced, base)
		} else {
			r.res.Added = append(r.res.Added, base)
		}
	}
	for base := range r.prev.Packages {
		if !present[base] {
			r.res.Removed = append(r.res.Removed, base)
		}
	}
	r.res.Read = len(r.toRead)
}

// readOne reads one package's metadata, unless its uploader gave it (Options.Known) for
// the object as it is. A known package is still read from (its last byte): a package
// the channel's credentials cannot read back (a KMS key they may not use) must be left
// out and reported, as when it is read whole.
func (r *subdirRun) readOne(ctx context.Context, o channel.Object) (PackageInfo, error) {
	if k, ok := r.opts.Known[o.Key]; ok && k.ETag == o.ETag && k.Size == o.Size {
		if _, err := r.store.ReadRange(ctx, o.Key, max(0, o.Size-1), 1); err != nil {
			return PackageInfo{}, asStorageError(err)
		}
		return k.Info, nil
	}
	return readPackage(ctx, r.store, o)
}

// read reads the metadata of new and replaced packages, several at a time.
func (r *subdirRun) read(ctx context.Context) error {
	if len(r.toRead) > 0 {
		r.opts.Progress.Status(fmt.Sprintf("reading %d package(s) in %s", len(r.toRead), r.subdir))
	}
	var mu sync.Mutex
	var done int64
	var retry []Problem // failed in the storage: reported, not remembered
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Concurrency)
	for _, o := range r.toRead {
		g.Go(func() error {
			base := path.Base(o.Key)
			info, err := r.readOne(gctx, o)
			mu.Lock()
			defer mu.Unlock()
			done++
			r.opts.Progress.Update(done, int64(len(r.toRead)))
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				if errors.Is(err, channel.ErrNotFound) {
					r.res.Removed = append(r.res.Removed, base) // deleted while we looked
					r.res.Added = without(r.res.Added, base)
					r.res.Replaced = without(r.res.Replaced, base)
					return nil
				}
				p := Problem{File: base, ETag: o.ETag, Size: o.Size, Error: err.Error()}
				if se := (*storageError)(nil); errors.As(err, &se) {
					p.Retry = true
					retry = append(retry, p)
					return nil
				}
				r.next.Unreadable[base] = p
				return nil
			}
			r.next.Packages[base] = StateEntry{ETag: o.ETag, Size: o.Size, PackageInfo: info}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	r.finishRead(retry)
	return nil
}

// finishRead settles what read found: indexed timestamps, the report's lists, warnings.
func (r *subdirRun) finishRead(retry []Problem) {
	r.stampIndexed()
	for _, p := range r.next.Unreadable {
		r.res.Unreadable = append(r.res.Unreadable, p)
	}
	r.res.Unreadable = append(r.res.Unreadable, retry...)
	sort.Slice(r.res.Unreadable, func(i, j int) bool { return r.res.Unreadable[i].File < r.res.Unreadable[j].File })
	// An unreadable file is reported as such, never as added.
	var added, replaced []string
	for _, base := range r.res.Added {
		if _, ok := r.next.Packages[base]; ok {
			added = append(added, base)
		}
	}
	for _, base := range r.res.Replaced {
		if _, ok := r.next.Packages[base]; ok {
			replaced = append(replaced, base)
		} else if _, bad := r.next.Unreadable[base]; bad {
			r.res.Removed = append(r.res.Removed, base) // its readable version left the index
		}
	}
	r.res.Added, r.res.Replaced = added, replaced
	for _, base := range append(append([]string{}, added...), replaced...) {
		r.res.Warnings = append(r.res.Warnings, checkRecord(r.subdir, base, r.next.Packages[base].Record, r.now)...)
	}
	sort.Strings(r.res.Added)
	sort.Strings(r.res.Replaced)
	sort.Strings(r.res.Removed)
	r.res.Packages = len(r.next.Packages)
	r.res.indexed = map[string]string{}
	for base, e := range r.next.Packages {
		r.res.indexed[base] = e.ETag
	}
}

func without(list []string, s string) []string {
	out := list[:0:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// render builds every output of the subdir in memory: the shards of the names whose
// records changed (all of them when the state has none), the shard index, repodata with
// and without patch instructions, run_exports.json and the index page.
func (r *subdirRun) render() error {
	patches, err := r.patches()
	if err != nil {
		return err
	}
	unpatched := r.repodata(nil)
	patched := unpatched
	if patches != nil {
		patched = r.repodata(patches)
		r.res.Warnings = append(r.res.Warnings, patches.warnings(unpatched)...)
	}
	r.next.NoShards = r.opts.Shards == ShardsOff || r.opts.Shards == ShardsAsBefore && r.prev.NoShards
	r.shardNames = map[string]string{}
	// The shards render while repodata is marshalled and compressed: on two cores that
	// hides most of their cost.
	var g errgroup.Group
	var shardIndex []byte
	if !r.next.NoShards {
		g.Go(func() error {
			if err := r.renderShards(patched, patches); err != nil {
				return err
			}
			var err error
			shardIndex, err = encodeShardIndex(r.subdir, r.shardNames)
			return err
		})
	}
	repodata := patched.Marshal()
	fromPackages := repodata // the same document while there are no patch instructions
	if patches != nil {
		fromPackages = unpatched.Marshal()
	}
	r.files = map[string][]byte{
		r.subdir + "/" + RepodataJSON:     repodata,
		r.subdir + "/" + RepodataZst:      compressZstd(repodata),
		r.subdir + "/" + RepodataFromPkgs: fromPackages,
		r.subdir + "/" + RunExportsJSON:   runExportsJSON(r.subdir, r.next.Packages),
		r.subdir + "/" + IndexHTML:        subdirHTML(r.opts.Title+"/"+r.subdir, r.infos()),
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if shardIndex != nil {
		r.files[r.subdir+"/"+ShardIndexFile] = shardIndex
	}
	for _, o := range writtenSubdirFiles() {
		if _, ok := r.files[r.subdir+"/"+o.Name]; !ok && !(o.Name == ShardIndexFile && r.next.NoShards) {
			return fmt.Errorf("no renderer for %s", o.Name) // Outputs and render disagree
		}
	}
	return nil
}

// repodata assembles the subdir's repodata from the packages, with patches applied when
// given.
func (r *subdirRun) repodata(p *Patches) *Repodata {
	rd := &Repodata{Subdir: r.subdir, Packages: map[string]Record{}, PackagesConda: map[string]Record{}}
	for base, e := range r.next.Packages {
		if strings.HasSuffix(base, ".conda") {
			rd.PackagesConda[base] = e.Record
		} else {
			rd.Packages[base] = e.Record
		}
	}
	if p != nil {
		p.apply(rd)
	}
	return rd
}

func (r *subdirRun) infos() map[string]PackageInfo {
	infos := make(map[string]PackageInfo, len(r.next.Packages))
	for base, e := range r.next.Packages {
		infos[base] = e.PackageInfo
	}
	return infos
}

// write stores what render made, in dependency order, each write conditional on what
// diff found; then it retires the shards no index names any more.
func (r *subdirRun) write(ctx context.Context) error {
	faultpoint.Hit("index:before-write")
	if err := r.checkLease(ctx); err != nil {
		return err
	}
	if err := r.writeShards(ctx); err != nil {
		return err
	}
	for i, o := range writtenSubdirFiles() {
		if i > 0 {
			faultpoint.Hit("index:between-writes")
		}
		if err := r.writeFile(ctx, r.subdir+"/"+o.Name, o.ContentType); err != nil {
			return err
		}
	}
	return r.retireShards(ctx)
}

// checkLease fails early when the lease is gone. Not needed for safety (the writes are
// compare-and-swap) but a lost lease is better noticed before writing than after.
func (r *subdirRun) checkLease(ctx context.Context) error {
	if r.opts.Lease == nil {
		return nil
	}
	return r.opts.Lease.Check(ctx)
}

// writeFile writes one output unless the store already holds it as written last; an
// output render did not make (the shard index with shards off) is deleted.
func (r *subdirRun) writeFile(ctx context.Context, key, contentType string) error {
	data, ok := r.files[key]
	if !ok {
		return r.deleteFile(ctx, key)
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	cur, exists := r.current[key]
	if exists && r.looked[key] && r.prev.Written[key].ETag == cur.ETag && r.prev.Written[key].SHA256 == digest {
		r.next.Written[key] = r.prev.Written[key] // unchanged since our last run
		return nil
	}
	// Unlooked (quick mode), the file is written even when unchanged: the write,
	// conditional on the ETag the state remembers, costs what a look would and proves the
	// file is still the one recorded.
	obj, err := putCAS(ctx, r.store, key, data, cur, contentType)
	if err != nil {
		return err
	}
	r.next.Written[key] = Written{ETag: obj.ETag, SHA256: digest}
	r.res.Wrote = append(r.res.Wrote, key)
	return nil
}

// deleteFile removes an output the subdir no longer has, on the ETag diff found.
func (r *subdirRun) deleteFile(ctx context.Context, key string) error {
	cur, exists := r.current[key]
	if !exists {
		return nil
	}
	err := r.store.Delete(ctx, key, cur.ETag)
	if errors.Is(err, channel.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	r.res.Wrote = append(r.res.Wrote, key)
	return nil
}
