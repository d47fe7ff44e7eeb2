package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/condachan/condachan/channel"
)

// cache keeps the channel's small, hot index files (repodata.json and its .zst twin,
// channeldata.json, current_repodata.json, index pages) in memory, keyed by key and
// ETag. An entry is trusted for the revalidation interval; after that the next request
// asks the store whether the ETag is still current (a HEAD on S3, a stat locally) and
// fetches the object again only when it changed. One request per key does that at a
// time; the others wait for it rather than asking the store too. So any number of
// stateless replicas serve a new index within about one interval of its write.
type cache struct {
	store      channel.Store
	interval   time.Duration
	maxObject  int64 // larger objects are streamed, not kept
	budget     int64 // bytes kept in all
	now        func() time.Time
	fetchLimit time.Duration
	m          *metrics

	mu      sync.Mutex
	entries map[string]*cacheEntry
	used    int64
}

type cacheEntry struct {
	mu      sync.Mutex // held while the entry is fetched or revalidated
	val     atomic.Pointer[cached]
	checked atomic.Int64 // unix nanoseconds of the last confirmation by the store
	used    atomic.Int64 // unix nanoseconds of the last use (eviction order)
}

// cached is one object's bytes with the description they came with, or the fact that
// the object does not exist (so that a missing index page or current_repodata.json does
// not cost a store request each time it is asked for).
type cached struct {
	body    *body
	obj     channel.Object
	missing bool
	// Header values, computed once.
	val  validators
	lenV []string
}

func newCached(b *body, obj channel.Object) *cached {
	return &cached{body: b, obj: obj, val: newValidators(obj), lenV: []string{strconv.FormatInt(b.size, 10)}}
}

// size is what the entry counts against the cache's budget.
func (v *cached) size() int64 {
	if v.body == nil {
		return 0
	}
	return v.body.size
}

func newCache(store channel.Store, interval time.Duration, maxObject, budget int64, m *metrics) *cache {
	return &cache{
		store: store, interval: interval, maxObject: maxObject, budget: budget,
		now: time.Now, fetchLimit: 2 * time.Minute, m: m, entries: map[string]*cacheEntry{},
	}
}

// get returns the object's bytes from memory, or, for an object too large to keep, an
// open stream of it (the caller closes it). A missing object is channel.ErrNotFound.
func (c *cache) get(ctx context.Context, key string) (*cached, io.ReadCloser, channel.Object, error) {
	e := c.entry(key)
	now := c.now()
	if v := e.val.Load(); v != nil && c.fresh(e, now) {
		return c.hit(key, e, v, now)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now = c.now()
	if v := e.val.Load(); v != nil && c.fresh(e, now) {
		// Another request revalidated it while this one waited.
		return c.hit(key, e, v, now)
	}
	// The fetch outlives a client that goes away: others may be waiting for it. Its
	// time limit is for fetching into memory; a stream handed to the client lives as long
	// as that client's request instead.
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	limit := time.AfterFunc(c.fetchLimit, cancel)
	handedOver := false
	defer func() {
		if !handedOver {
			limit.Stop()
			cancel()
		}
	}()
	if v := e.val.Load(); v != nil && !v.missing {
		obj, err := c.store.Stat(fctx, key)
		switch {
		case err == nil && obj.ETag == v.obj.ETag && obj.ETag != "":
			e.checked.Store(now.UnixNano())
			e.used.Store(now.UnixNano())
			c.m.cacheRevalidated.Add(1)
			return v, nil, v.obj, nil
		case errors.Is(err, channel.ErrNotFound):
			c.m.cacheMisses.Add(1)
			c.store_(key, e, &cached{missing: true, obj: channel.Object{Key: key}}, now)
			return nil, nil, channel.Object{}, err
		case err != nil:
			// The store is unreachable: serve what we have (stale-if-error) rather than
			// fail every client of a channel that was fine seconds ago, and ask again
			// after the next interval.
			e.checked.Store(now.UnixNano())
			c.m.cacheStale.Add(1)
			return v, nil, v.obj, nil
		}
	}
	c.m.cacheMisses.Add(1)
	rc, obj, err := c.store.Get(fctx, key)
	if err != nil {
		if errors.Is(err, channel.ErrNotFound) {
			c.store_(key, e, &cached{missing: true, obj: channel.Object{Key: key}}, now)
		}
		return nil, nil, obj, err
	}
	if obj.Size > c.maxObject || obj.Size < 0 {
		// Too large to keep: hand the stream over, bound to the client's request;
		// closing it ends its context.
		c.drop(key, e)
		if !limit.Stop() {
			rc.Close()
			return nil, nil, obj, fmt.Errorf("%s: fetch took longer than %s", key, c.fetchLimit)
		}
		stopWithRequest := context.AfterFunc(ctx, cancel)
		handedOver = true
		return nil, &cancelOnClose{rc, func() { stopWithRequest(); cancel() }}, obj, nil
	}
	b, err := readBody(rc, obj.Size)
	rc.Close()
	if err != nil {
		return nil, nil, obj, fmt.Errorf("%s: %w", key, err)
	}
	v := newCached(b, obj)
	c.store_(key, e, v, now)
	return v, nil, obj, nil
}

// hit answers from memory.
func (c *cache) hit(key string, e *cacheEntry, v *cached, now time.Time) (*cached, io.ReadCloser, channel.Object, error) {
	e.used.Store(now.UnixNano())
	c.m.cacheHits.Add(1)
	if v.missing {
		return nil, nil, channel.Object{}, fmt.Errorf("%s: %w", key, channel.ErrNotFound)
	}
	return v, nil, v.obj, nil
}

func (c *cache) fresh(e *cacheEntry, now time.Time) bool {
	return now.UnixNano()-e.checked.Load() < int64(c.interval)
}

func (c *cache) entry(key string) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil {
		e = &cacheEntry{}
		c.entries[key] = e
	}
	return e
}

// store_ installs a new value and evicts the least recently used entries past the budget.
func (c *cache) store_(key string, e *cacheEntry, v *cached, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := e.val.Load(); old != nil {
		c.used -= old.size()
	}
	e.val.Store(v)
	e.checked.Store(now.UnixNano())
	e.used.Store(now.UnixNano())
	c.used += v.size()
	if other := c.entries[key]; other != e {
		// e was evicted or dropped while it was being fetched; it replaces whatever
		// entry the key got since.
		if other != nil {
			if ov := other.val.Swap(nil); ov != nil {
				c.used -= ov.size()
			}
		}
		c.entries[key] = e
	}
	for c.used > c.budget {
		var oldestKey string
		var oldest *cacheEntry
		for k, x := range c.entries {
			if x == e || x.val.Load() == nil {
				continue
			}
			if oldest == nil || x.used.Load() < oldest.used.Load() {
				oldestKey, oldest = k, x
			}
		}
		if oldest == nil {
			break
		}
		c.used -= oldest.val.Load().size()
		oldest.val.Store(nil)
		delete(c.entries, oldestKey)
		c.m.cacheEvictions.Add(1)
	}
	c.m.cacheBytes.Store(c.used)
}

// drop forgets a key (the object is gone or too large to keep).
func (c *cache) drop(key string, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := e.val.Swap(nil); old != nil {
		c.used -= old.size()
	}
	e.checked.Store(0)
	if c.entries[key] == e {
		delete(c.entries, key)
	}
	c.m.cacheBytes.Store(c.used)
}

// cancelOnClose ends a stream's context when the stream is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
