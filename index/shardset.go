package index

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/condachan/condachan/channel"
)

// ShardGrace is how long a shard stays in the channel after the last shard index that
// named it was replaced: a client that fetched that index a moment before still finds
// every shard it names.
const ShardGrace = time.Hour

// renderShards makes the shards of the names whose records changed since the state's
// shard index, and of names whose shard is missing from the store; every other name keeps
// its shard. All names are rendered when the state has no shard index yet, on --full and
// retried runs, and when the patch instructions changed.
func (r *subdirRun) renderShards(patched *Repodata, p *Patches) error {
	byName := map[string]*Shard{}
	shardOf := func(name string) *Shard {
		s := byName[name]
		if s == nil {
			s = &Shard{Packages: map[string]Record{}, PackagesConda: map[string]Record{}}
			byName[name] = s
		}
		return s
	}
	for fn, rec := range patched.Packages {
		shardOf(str(rec["name"])).Packages[fn] = rec
	}
	for fn, rec := range patched.PackagesConda {
		shardOf(str(rec["name"])).PackagesConda[fn] = rec
	}
	for _, fn := range patched.Removed {
		if e, ok := r.next.Packages[fn]; ok {
			s := shardOf(str(e.Record["name"]))
			s.Removed = append(s.Removed, fn)
		}
	}
	all := r.opts.Full || r.verify || len(r.prev.Shards) == 0 || r.prev.PatchSHA256 != p.digest()
	changed := r.changedNames()
	r.shardNames = make(map[string]string, len(byName))
	var todo []string
	for name := range byName {
		old, had := r.prev.Shards[name]
		_, stored := r.shardsPresent[old]
		if all || changed[name] || !had || !stored {
			todo = append(todo, name)
			continue
		}
		r.shardNames[name] = old
	}
	sort.Strings(todo)
	rendered := make([]encodedShard, len(todo))
	g := errgroup.Group{}
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, name := range todo {
		g.Go(func() error {
			var err error
			rendered[i], err = encodeShard(*byName[name])
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	r.shards = make(map[string]encodedShard, len(todo))
	for i, name := range todo {
		h := rendered[i].Hex()
		r.shardNames[name] = h
		r.shards[h] = rendered[i]
	}
	r.res.ShardsRendered = len(todo)
	r.next.Shards = r.shardNames
	r.next.PatchSHA256 = p.digest()
	return nil
}

// changedNames are the package names of every package added, replaced or removed.
func (r *subdirRun) changedNames() map[string]bool {
	names := map[string]bool{}
	for _, list := range [][]string{r.res.Added, r.res.Replaced} {
		for _, fn := range list {
			names[str(r.next.Packages[fn].Record["name"])] = true
		}
	}
	for _, fn := range append(append([]string{}, r.res.Removed...), r.res.Replaced...) {
		if e, ok := r.prev.Packages[fn]; ok {
			names[str(e.Record["name"])] = true
		}
	}
	return names
}

// writeShards uploads the rendered shards the store does not hold. A shard is named by
// its content, so it is written only if absent, and one that appeared meanwhile (another
// run rendered the same records) is the same file.
func (r *subdirRun) writeShards(ctx context.Context) error {
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Concurrency)
	digests := make([]string, 0, len(r.shards))
	for h := range r.shards {
		if _, ok := r.shardsPresent[h]; !ok {
			digests = append(digests, h)
		}
	}
	sort.Strings(digests)
	for _, h := range digests {
		s := r.shards[h]
		g.Go(func() error {
			key := shardKey(r.subdir, h)
			obj, err := r.store.Put(gctx, key, bytes.NewReader(s.Data), int64(len(s.Data)), channel.PutOptions{
				ContentType: "application/zstd", CacheControl: "public, max-age=31536000, immutable", IfAbsent: true, Deferred: true,
			})
			if errors.Is(err, channel.ErrPreconditionFailed) {
				obj, err = r.store.Stat(gctx, key)
			}
			if err != nil {
				return err
			}
			mu.Lock()
			r.shardsPresent[h] = obj
			r.res.ShardsWritten++
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Every shard is durable before the shard index that names them is written.
	if f, ok := r.store.(channel.Flusher); ok && len(digests) > 0 {
		return f.Flush(ctx)
	}
	return nil
}

// retireShards notes the time each shard stopped being named by the current shard index
// (or was found unnamed: left by an interrupted run, or by a lost state), and deletes
// those retired longer than ShardGrace ago.
func (r *subdirRun) retireShards(ctx context.Context) error {
	named := map[string]bool{}
	for _, h := range r.shardNames {
		named[h] = true
	}
	now := r.now.Unix()
	retired := r.next.RetiredShards
	for h, t := range r.prev.RetiredShards {
		if !named[h] {
			retired[h] = t
		}
	}
	for _, h := range r.prev.Shards {
		if _, ok := retired[h]; !ok && !named[h] {
			retired[h] = now
		}
	}
	for h := range r.shardsPresent {
		if _, ok := retired[h]; !ok && !named[h] {
			retired[h] = now
		}
	}
	var expired []string
	for h, t := range retired {
		if now-t >= int64(ShardGrace/time.Second) {
			expired = append(expired, h)
		}
	}
	sort.Strings(expired)
	for _, h := range expired {
		if obj, ok := r.shardsPresent[h]; ok {
			err := r.store.Delete(ctx, obj.Key, obj.ETag)
			if err != nil && !errors.Is(err, channel.ErrNotFound) && !errors.Is(err, channel.ErrPreconditionFailed) {
				return err
			}
			r.res.DeletedShards = append(r.res.DeletedShards, obj.Key)
		}
		delete(retired, h)
	}
	return nil
}
