// Package storetest is the conformance suite of channel.Store: the guarantees condachan
// relies on (see the Store doc comments and DESIGN.md, "Concurrency on S3"), checked the
// same way on every backend.
//
// A backend's test calls Run (or RunWith) with a function that opens a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) channel.Store { return myStore(t) })
//	}
//
// Each guarantee is also an exported Check function taking a testing.TB, so that a test
// can run one against a store it built on purpose (for example one that is broken, to
// show that the check notices). A Check calls t.Fatal only from the goroutine it was
// called on.
//
// This package imports "testing": import it from tests only.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
)

// Options adapt the suite to a backend. The zero value suits any backend.
type Options struct {
	// LargeObjectSize is the size of the files the PutFile checks upload. Set it above the
	// backend's multipart threshold (for S3, open the store with a small
	// MultipartThreshold) so that the conditional completion of a multipart upload is
	// what is checked. Default 1 MiB.
	LargeObjectSize int64
	// ListObjects is how many objects CheckListManyPages writes: more than one page of
	// the backend's listing (S3 pages at 1,000). Default 1,100; negative skips the check.
	ListObjects int
	// KeepsMetadata says that the backend keeps user metadata (S3 does, a folder does
	// not): Stat and Get must then return PutOptions.Metadata as written. Without it
	// metadata may be missing, but any that is returned must be what was written.
	KeepsMetadata bool
	// Faulty, when set, opens a fresh, empty store whose responses can be lost on the way
	// back (the write takes effect, the caller never hears): the lost-response checks
	// need it and are skipped without it.
	Faulty func(t *testing.T) Faulty
	// KnownBugs skips subtests (by name, e.g. "NotFoundFolder") that the backend is known
	// to fail, with the bug's description as the reason: the suite stays green and says
	// what is wrong. Remove an entry once its bug is fixed.
	KnownBugs map[string]string
}

// Faulty is a store whose responses can be lost.
type Faulty struct {
	Store channel.Store
	// LoseNextResponse makes the next request that commits a write of key (a put, or the
	// completion of a multipart upload) take effect and lose its response, as a network
	// failure after the server acted does.
	LoseNextResponse func(key string)
	// Lost counts the responses lost so far.
	Lost func() int
}

func (o *Options) defaults() {
	if o.LargeObjectSize <= 0 {
		o.LargeObjectSize = 1 << 20
	}
	if o.ListObjects == 0 {
		o.ListObjects = 1100
	}
}

// Run runs the whole suite with default Options. open must return a fresh, empty store
// each time it is called (a new folder, a new bucket or prefix); it is called once per
// subtest, with that subtest's t, and may register cleanups on it.
func Run(t *testing.T, open func(t *testing.T) channel.Store) {
	t.Helper()
	RunWith(t, open, Options{})
}

// RunWith runs the whole suite; see Run and Options.
func RunWith(t *testing.T, open func(t *testing.T) channel.Store, o Options) {
	t.Helper()
	o.defaults()
	checks := []struct {
		name string
		fn   func(t testing.TB, s channel.Store)
	}{
		{"RoundTrip", func(t testing.TB, s channel.Store) { CheckRoundTrip(t, s, o.KeepsMetadata) }},
		{"NotFound", CheckNotFound},
		{"NotFoundFolder", CheckNotFoundFolder},
		{"CreateIfAbsent", CheckCreateIfAbsent},
		{"CreateIfAbsentRace", func(t testing.TB, s channel.Store) { CheckCreateIfAbsentRace(t, s, 16) }},
		{"CompareAndSwap", CheckCompareAndSwap},
		{"CompareAndSwapRace", func(t testing.TB, s channel.Store) { CheckCompareAndSwapRace(t, s, 16) }},
		{"CompareAndSwapCounter", func(t testing.TB, s channel.Store) { CheckCompareAndSwapCounter(t, s, 4, 5) }},
		{"ConditionalDelete", CheckConditionalDelete},
		{"ListPrefix", CheckListPrefix},
		{"ListManyPages", func(t testing.TB, s channel.Store) {
			if o.ListObjects < 0 {
				t.Skip("Options.ListObjects < 0: listing past one page not checked")
			}
			CheckListManyPages(t, s, o.ListObjects)
		}},
		{"ListNoPartialWrites", CheckListNoPartialWrites},
		{"Ranges", CheckRanges},
		{"PutFileLarge", func(t testing.TB, s channel.Store) { CheckPutFileLarge(t, s, o.LargeObjectSize, o.KeepsMetadata) }},
		{"LeaseAcquireRelease", CheckLeaseAcquireRelease},
		{"LeaseSecondAcquireWaits", CheckLeaseSecondAcquireWaits},
		{"LeaseTakeoverAfterExpiry", CheckLeaseTakeoverAfterExpiry},
		{"LeaseFence", CheckLeaseFence},
		{"LeaseReleaseSparesSuccessor", CheckLeaseReleaseSparesSuccessor},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			skipKnown(t, o, c.name)
			c.fn(t, open(t))
		})
	}
	lost := []struct {
		name string
		fn   func(t testing.TB, f Faulty)
	}{
		{"LostResponse/CreateIfAbsent", CheckLostCreateResponse},
		{"LostResponse/CompareAndSwap", CheckLostCompareAndSwapResponse},
		{"LostResponse/PutFileLarge", func(t testing.TB, f Faulty) { CheckLostPutFileResponse(t, f, o.LargeObjectSize, o.KeepsMetadata) }},
		{"LostResponse/LeaseAcquire", CheckLostLeaseAcquireResponse},
	}
	for _, c := range lost {
		t.Run(c.name, func(t *testing.T) {
			skipKnown(t, o, c.name)
			if o.Faulty == nil {
				t.Skip("this backend has no fault injection (Options.Faulty): a write whose response is lost cannot be staged " +
					"(a local folder never loses a response: its writes are system calls)")
			}
			c.fn(t, o.Faulty(t))
		})
	}
}

func skipKnown(t *testing.T, o Options, name string) {
	t.Helper()
	if bug, ok := o.KnownBugs[name]; ok {
		t.Skipf("KNOWN BUG, skipped: %s", bug)
	}
}

// ctx bounds one check.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func put(ctx context.Context, s channel.Store, key string, data []byte, o channel.PutOptions) (channel.Object, error) {
	return s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), o)
}

func mustPut(t testing.TB, ctx context.Context, s channel.Store, key string, data []byte, o channel.PutOptions) channel.Object {
	t.Helper()
	obj, err := put(ctx, s, key, data, o)
	if err != nil {
		t.Fatalf("put %s (%+v): %v", key, o, err)
	}
	return obj
}

// content reads key; a missing key gives nil and ErrNotFound.
func content(ctx context.Context, s channel.Store, key string) ([]byte, channel.Object, error) {
	return channel.ReadAll(ctx, s, key)
}

func wantContent(t testing.TB, ctx context.Context, s channel.Store, key string, want []byte, why string) channel.Object {
	t.Helper()
	got, obj, err := content(ctx, s, key)
	if err != nil {
		t.Errorf("%s: read %s: %v", why, key, err)
		return obj
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %s holds %s, want %s", why, key, show(got), show(want))
	}
	return obj
}

func show(b []byte) string {
	if len(b) <= 64 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%d bytes (sha256 %x)", len(b), sha256.Sum256(b))
}

// CheckRoundTrip: Put, Stat and Get agree on the bytes, size, ETag and (when kept)
// metadata; an ETag changes when the content changes, even at the same size; Put
// accepts an unknown size (-1) for small objects, and empty objects.
func CheckRoundTrip(t testing.TB, s channel.Store, keepsMetadata bool) {
	ctx := ctx(t)
	key := "linux-64/pkg-1.0-0.json"
	data := []byte(`{"name":"pkg","version":"1.0"}`)
	meta := map[string]string{"sha256": "0f1e2d", "md5": "abc"}
	obj := mustPut(t, ctx, s, key, data, channel.PutOptions{ContentType: "application/json", CacheControl: "no-store", Metadata: meta})
	if obj.Key != key || obj.Size != int64(len(data)) || obj.ETag == "" {
		t.Errorf("put returned %+v, want key %s, size %d and an ETag", obj, key, len(data))
	}
	st, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatalf("stat after put: %v", err)
	}
	if st.Key != key || st.Size != int64(len(data)) || st.ETag != obj.ETag {
		t.Errorf("stat %+v disagrees with put %+v", st, obj)
	}
	if st.Modified.IsZero() {
		t.Errorf("stat has no modification time")
	}
	checkMetadata(t, "stat", st.Metadata, meta, keepsMetadata)
	got := wantContent(t, ctx, s, key, data, "get after put")
	if got.ETag != obj.ETag || got.Size != int64(len(data)) {
		t.Errorf("get describes %+v, put said %+v", got, obj)
	}
	checkMetadata(t, "get", got.Metadata, meta, keepsMetadata)

	// Same size, other bytes: the ETag must still change (a CAS on it must tell).
	data2 := bytes.ToUpper(data)
	obj2 := mustPut(t, ctx, s, key, data2, channel.PutOptions{})
	if obj2.ETag == obj.ETag || obj2.ETag == "" {
		t.Errorf("ETag %s unchanged after the content changed (same size)", obj2.ETag)
	}
	st2 := wantContent(t, ctx, s, key, data2, "after overwrite")
	if st2.ETag != obj2.ETag {
		t.Errorf("get ETag %s, the overwrite returned %s", st2.ETag, obj2.ETag)
	}
	if keepsMetadata && len(st2.Metadata) != 0 {
		t.Errorf("an overwrite without metadata kept the old metadata %v", st2.Metadata)
	}
	// Other size.
	data3 := append(data2, "\n  more"...)
	obj3 := mustPut(t, ctx, s, key, data3, channel.PutOptions{})
	if obj3.ETag == obj2.ETag || obj3.Size != int64(len(data3)) {
		t.Errorf("after a longer overwrite: %+v (previous ETag %s)", obj3, obj2.ETag)
	}
	wantContent(t, ctx, s, key, data3, "after longer overwrite")

	// Unknown size.
	small := []byte("unknown size")
	o4, err := s.Put(ctx, "noarch/unknown-size.txt", io.MultiReader(bytes.NewReader(small[:4]), bytes.NewReader(small[4:])), -1, channel.PutOptions{})
	if err != nil {
		t.Fatalf("put with size -1: %v", err)
	}
	if o4.Size != int64(len(small)) {
		t.Errorf("put with size -1 returned size %d, want %d", o4.Size, len(small))
	}
	wantContent(t, ctx, s, "noarch/unknown-size.txt", small, "put with size -1")

	// Empty object.
	e := mustPut(t, ctx, s, "noarch/empty", nil, channel.PutOptions{IfAbsent: true})
	if e.Size != 0 || e.ETag == "" {
		t.Errorf("empty object: %+v", e)
	}
	es := wantContent(t, ctx, s, "noarch/empty", []byte{}, "empty object")
	if es.Size != 0 || es.ETag != e.ETag {
		t.Errorf("empty object read as %+v, put %+v", es, e)
	}
}

func checkMetadata(t testing.TB, op string, got, want map[string]string, required bool) {
	t.Helper()
	if required && !maps.Equal(got, want) {
		t.Errorf("%s returned metadata %v, want %v", op, got, want)
		return
	}
	for k, v := range got {
		if w, ok := want[k]; ok && w != v {
			t.Errorf("%s returned metadata %s=%q, written %q", op, k, v, w)
		}
	}
}

// CheckNotFound: reads of a missing key fail with ErrNotFound (also under a folder that
// does not exist, and for a key that was deleted); deleting a missing key is not an
// error, with or without an ETag.
func CheckNotFound(t testing.TB, s channel.Store) {
	ctx := ctx(t)
	mustPut(t, ctx, s, "linux-64/here.json", []byte("x"), channel.PutOptions{})
	mustPut(t, ctx, s, "gone.json", []byte("y"), channel.PutOptions{})
	if err := s.Delete(ctx, "gone.json", ""); err != nil {
		t.Fatalf("delete: %v", err)
	}
	for _, key := range []string{"missing.json", "nosuch/dir/missing.json", "linux-64/missing.json", "gone.json"} {
		wantReadsNotFound(t, ctx, s, key)
	}
	if err := s.Delete(ctx, "missing.json", ""); err != nil {
		t.Errorf("delete of a missing key: %v, want nil", err)
	}
	if err := s.Delete(ctx, "nosuch/dir/missing.json", ""); err != nil {
		t.Errorf("delete of a missing key in a missing folder: %v, want nil", err)
	}
	// A release of a lease whose lock is already gone relies on this one too.
	if err := s.Delete(ctx, "gone.json", `"0123456789abcdef"`); err != nil {
		t.Errorf("conditional delete of a missing key: %v, want nil", err)
	}
	wantContent(t, ctx, s, "linux-64/here.json", []byte("x"), "a neighbour of the missing keys")
}

func wantReadsNotFound(t testing.TB, ctx context.Context, s channel.Store, key string) {
	t.Helper()
	wantNotFound := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, channel.ErrNotFound) {
			t.Errorf("%s(%s) = %v, want ErrNotFound", op, key, err)
		}
	}
	_, err := s.Stat(ctx, key)
	wantNotFound("Stat", err)
	rc, _, err := s.Get(ctx, key)
	if rc != nil {
		rc.Close()
	}
	wantNotFound("Get", err)
	for _, r := range [][2]int64{{0, -1}, {0, 10}, {5, 1}} {
		rc, _, err := s.GetRange(ctx, key, r[0], r[1])
		if rc != nil {
			rc.Close()
		}
		wantNotFound(fmt.Sprintf("GetRange[%d,%d]", r[0], r[1]), err)
	}
	_, err = s.ReadRange(ctx, key, 0, 10)
	wantNotFound("ReadRange", err)
}

// CheckNotFoundFolder: a key that only prefixes other keys ("linux-64", a folder on
// disk) is not an object: every read of it fails with ErrNotFound.
func CheckNotFoundFolder(t testing.TB, s channel.Store) {
	ctx := ctx(t)
	mustPut(t, ctx, s, "linux-64/shards/x.msgpack.zst", []byte("x"), channel.PutOptions{})
	wantReadsNotFound(t, ctx, s, "linux-64")
	wantReadsNotFound(t, ctx, s, "linux-64/shards")
}

// CheckCreateIfAbsent: a create-if-absent of an existing key fails with
// ErrPreconditionFailed and leaves the object as it was (even with the same bytes);
// after a delete the key can be created again.
func CheckCreateIfAbsent(t testing.TB, s channel.Store) {
	ctx := ctx(t)
	key := "linux-64/blender-4.1.1-0.conda"
	first := mustPut(t, ctx, s, key, []byte("first"), channel.PutOptions{IfAbsent: true})
	for _, data := range []string{"second", "first"} {
		_, err := put(ctx, s, key, []byte(data), channel.PutOptions{IfAbsent: true})
		if !errors.Is(err, channel.ErrPreconditionFailed) {
			t.Errorf("create-if-absent of an existing key with %q: %v, want ErrPreconditionFailed", data, err)
		}
	}
	got := wantContent(t, ctx, s, key, []byte("first"), "after refused creates")
	if got.ETag != first.ETag {
		t.Errorf("ETag %s after refused creates, created as %s", got.ETag, first.ETag)
	}
	if err := s.Delete(ctx, key, ""); err != nil {
		t.Fatal(err)
	}
	mustPut(t, ctx, s, key, []byte("third"), channel.PutOptions{IfAbsent: true})
	wantContent(t, ctx, s, key, []byte("third"), "create after delete")
}

// race runs n functions at once (released together) and waits for them.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// CheckCreateIfAbsentRace: n goroutines create the same key at once: exactly one wins,
// every other gets ErrPreconditionFailed, and the object holds the winner's bytes under
// the ETag the winner was given.
func CheckCreateIfAbsentRace(t testing.TB, s channel.Store, n int) {
	body := func(i int) []byte { return []byte(fmt.Sprintf(`{"writer":%d,"pad":"%0*d"}`, i, 40+i, i)) }
	oneWinner(t, s, ".condachan/lock.json", n, channel.PutOptions{IfAbsent: true}, body, "create")
}

// CheckCompareAndSwap: a write with IfMatch succeeds on the current ETag and gives a new
// one; it fails with ErrPreconditionFailed on a stale ETag and on a missing object, and
// leaves the object as it was.
func CheckCompareAndSwap(t testing.TB, s channel.Store) {
	ctx := ctx(t)
	key := "linux-64/repodata.json"
	v1 := mustPut(t, ctx, s, key, []byte(`{"v":1}`), channel.PutOptions{IfAbsent: true})
	v2, err := put(ctx, s, key, []byte(`{"v":2}`), channel.PutOptions{IfMatch: v1.ETag})
	if err != nil {
		t.Fatalf("compare-and-swap on the current ETag: %v", err)
	}
	if v2.ETag == "" || v2.ETag == v1.ETag {
		t.Errorf("compare-and-swap returned ETag %q (before: %q)", v2.ETag, v1.ETag)
	}
	_, err = put(ctx, s, key, []byte(`{"v":"stale"}`), channel.PutOptions{IfMatch: v1.ETag})
	if !errors.Is(err, channel.ErrPreconditionFailed) {
		t.Errorf("compare-and-swap on a stale ETag: %v, want ErrPreconditionFailed", err)
	}
	_, err = put(ctx, s, key, []byte(`{"v":"bogus"}`), channel.PutOptions{IfMatch: `"not-an-etag-of-this-store"`})
	if !errors.Is(err, channel.ErrPreconditionFailed) {
		t.Errorf("compare-and-swap on a made-up ETag: %v, want ErrPreconditionFailed", err)
	}
	got := wantContent(t, ctx, s, key, []byte(`{"v":2}`), "after refused swaps")
	if got.ETag != v2.ETag {
		t.Errorf("ETag %s, the last successful swap returned %s", got.ETag, v2.ETag)
	}
	v3, err := put(ctx, s, key, []byte(`{"v":3}`), channel.PutOptions{IfMatch: v2.ETag})
	if err != nil {
		t.Fatalf("second compare-and-swap: %v", err)
	}
	// Missing object: the ETag of a deleted object, and of one never written.
	if err := s.Delete(ctx, key, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := put(ctx, s, key, []byte(`{"v":"ghost"}`), channel.PutOptions{IfMatch: v3.ETag}); !errors.Is(err, channel.ErrPreconditionFailed) {
		t.Errorf("compare-and-swap on a deleted object: %v, want ErrPreconditionFailed", err)
	}
	if _, err := s.Stat(ctx, key); !errors.Is(err, channel.ErrNotFound) {
		t.Errorf("a refused compare-and-swap created the object: %v", err)
	}
	if _, err := put(ctx, s, "noarch/never.json", []byte("x"), channel.PutOptions{IfMatch: v1.ETag}); !errors.Is(err, channel.ErrPreconditionFailed) {
		t.Errorf("compare-and-swap on a key never written: %v, want ErrPreconditionFailed", err)
	}
	if _, err := s.Stat(ctx, "noarch/never.json"); !errors.Is(err, channel.ErrNotFound) {
		t.Errorf("a refused compare-and-swap created noarch/never.json: %v", err)
	}
}

// CheckCompareAndSwapRace: n goroutines swap from the same ETag at once: exactly one
// wins, the others get ErrPreconditionFailed, the object holds the winner's bytes.
func CheckCompareAndSwapRace(t testing.TB, s channel.Store, n int) {
	key := "linux-64/repodata.json"
	base := mustPut(t, ctx(t), s, key, []byte("base"), channel.PutOptions{IfAbsent: true})
	body := func(i int) []byte { return []byte(fmt.Sprintf("writer %d", i)) }
	oneWinner(t, s, key, n, channel.PutOptions{IfMatch: base.ETag}, body, "swap from the same ETag")
}

// oneWinner races n conditional writes of body(i) to key: exactly one must win, every
// other get ErrPreconditionFailed, and the object hold the winner's bytes under the ETag
// the winner was given.
func oneWinner(t testing.TB, s channel.Store, key string, n int, opts channel.PutOptions, body func(int) []byte, what string) {
	ctx := ctx(t)
	var mu sync.Mutex
	var winners []int
	var winObj channel.Object
	race(n, func(i int) {
		obj, err := put(ctx, s, key, body(i), opts)
		switch {
		case err == nil:
			mu.Lock()
			winners = append(winners, i)
			winObj = obj
			mu.Unlock()
		case !errors.Is(err, channel.ErrPreconditionFailed):
			t.Errorf("racing %s %d: %v, want success or ErrPreconditionFailed", what, i, err)
		}
	})
	if len(winners) != 1 {
		t.Fatalf("%d of %d racing %s won (%v), want exactly 1", len(winners), n, what, winners)
	}
	got := wantContent(t, ctx, s, key, body(winners[0]), "after the race")
	if got.ETag != winObj.ETag {
		t.Errorf("object ETag %s, the winner was told %s", got.ETag, winObj.ETag)
	}
}

// CheckCompareAndSwapCounter: workers increment a counter with read/compare-and-swap
// loops; no increment is lost (the swaps are linearisable).
func CheckCompareAndSwapCounter(t testing.TB, s channel.Store, workers, each int) {
	ctx := ctx(t)
	key := ".condachan/counter"
	mustPut(t, ctx, s, key, []byte("0"), channel.PutOptions{IfAbsent: true})
	var retries atomic.Int64
	race(workers, func(i int) {
		for range each {
			for {
				data, obj, err := content(ctx, s, key)
				if err != nil {
					t.Errorf("worker %d: read: %v", i, err)
					return
				}
				var n int
				fmt.Sscan(string(data), &n)
				_, err = put(ctx, s, key, []byte(fmt.Sprint(n+1)), channel.PutOptions{IfMatch: obj.ETag})
				if err == nil {
					break
				}
				if !errors.Is(err, channel.ErrPreconditionFailed) {
					t.Errorf("worker %d: swap: %v", i, err)
					return
				}
				retries.Add(1)
			}
		}
	})
	wantContent(t, ctx, s, key, []byte(fmt.Sprint(workers*each)), fmt.Sprintf("%d workers × %d increments (%d retries)", workers, each, retries.Load()))
}

// CheckConditionalDelete: a delete with a stale ETag is refused with
// ErrPreconditionFailed and the object stays; with the current ETag it deletes.
func CheckConditionalDelete(t testing.TB, s channel.Store) {
	ctx := ctx(t)
	key := ".condachan/lock.json"
	v1 := mustPut(t, ctx, s, key, []byte("holder 1"), channel.PutOptions{IfAbsent: true})
	v2 := mustPut(t, ctx, s, key, []byte("holder 2"), channel.PutOptions{IfMatch: v1.ETag})
	if err := s.Delete(ctx, key, v1.ETag); !errors.Is(err, channel.ErrPreconditionFailed) {
		t.Errorf("delete with a stale ETag: %v, want ErrPreconditionFailed", err)
	}
	got := wantContent(t, ctx, s, key, []byte("holder 2"), "after a refused delete")
	if got.ETag != v2.ETag {
		t.Errorf("ETag %s after a refused delete, want %s", got.ETag, v2.ETag)
	}
	if err := s.Delete(ctx, key, v2.ETag); err != nil {
		t.Fatalf("delete with the current ETag: %v", err)
	}
	if _, err := s.Stat(ctx, key); !errors.Is(err, channel.ErrNotFound) {
		t.Errorf("stat after a conditional delete: %v, want ErrNotFound", err)
	}
	// Racing conditional deletes against a swap: either the swap or the delete wins,
	// never both.
	for round := range 5 {
		base := mustPut(t, ctx, s, key, []byte("base"), channel.PutOptions{IfAbsent: true})
		var delErr, putErr error
		race(2, func(i int) {
			if i == 0 {
				delErr = s.Delete(ctx, key, base.ETag)
			} else {
				_, putErr = put(ctx, s, key, []byte("swapped"), channel.PutOptions{IfMatch: base.ETag})
			}
		})
		_, after, err := content(ctx, s, key)
		switch {
		case delErr == nil && putErr == nil:
			t.Errorf("round %d: a conditional delete and a swap on the same ETag both succeeded", round)
		case delErr == nil && !errors.Is(err, channel.ErrNotFound):
			t.Errorf("round %d: the delete won but the object is there: %+v %v", round, after, err)
		case putErr == nil && err != nil:
			t.Errorf("round %d: the swap won but the object is gone: %v", round, err)
		case delErr != nil && !errors.Is(delErr, channel.ErrPreconditionFailed):
			t.Errorf("round %d: losing delete: %v, want ErrPreconditionFailed", round, delErr)
		case putErr != nil && !errors.Is(putErr, channel.ErrPreconditionFailed):
			t.Errorf("round %d: losing swap: %v, want ErrPreconditionFailed", round, putErr)
		}
		if err := s.Delete(ctx, key, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func list(t testing.TB, ctx context.Context, s channel.Store, prefix string) []channel.Object {
	t.Helper()
	var objs []channel.Object
	if err := s.List(ctx, prefix, func(o channel.Object) error { objs = append(objs, o); return nil }); err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	return objs
}

func keys(objs []channel.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Key
	}
	return out
}

// CheckListPrefix: List gives exactly the keys that start with the prefix (a string
// prefix, not only a folder), each once, in key (byte) order, keys in sub-folders such as
// <subdir>/shards/ included, with the size and ETag Stat gives; a prefix that matches
// nothing lists nothing; an error from fn stops the listing and is returned.
func CheckListPrefix(t testing.TB, s channel.Store) {
	ctx := ctx(t)
	all := []string{
		".condachan/lock.json",
		"channeldata.json",
		"linux-64/a-1.0-0.conda",
		"linux-64/a.b",
		"linux-64/a/deep/file",
		"linux-64/b-2.0-0.conda",
		"linux-64/repodata.json",
		"linux-64/shards/0123abcd.msgpack.zst",
		"linux-64/shards/x",
		"linux-64x/not-linux-64.json",
		"noarch/repodata.json",
	}
	written := map[string]channel.Object{}
	for i, k := range slices.Backward(all) { // written out of order
		written[k] = mustPut(t, ctx, s, k, bytes.Repeat([]byte{'a' + byte(i)}, i+1), channel.PutOptions{})
	}
	cases := map[string][]string{
		"":                 all,
		"linux-64/":        all[2:9],
		"linux-64":         all[2:10],
		"linux-64/a":       all[2:5],
		"linux-64/shards/": all[7:9],
		"linux-64/shards":  all[7:9],
		".condachan/":      all[:1],
		"noarch/repodata":  all[10:],
		"win-64/":          nil,
		"nomatch":          nil,
		"linux-64/zzz":     nil,
	}
	for prefix, want := range cases {
		objs := list(t, ctx, s, prefix)
		got := keys(objs)
		if !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q\nwant %q (every matching key once, in key order)", prefix, got, want)
		}
		for _, o := range objs {
			w, ok := written[o.Key]
			if ok && (o.Size != w.Size || o.ETag != w.ETag) {
				t.Errorf("List(%q) gives %s size %d ETag %s; written as size %d ETag %s", prefix, o.Key, o.Size, o.ETag, w.Size, w.ETag)
			}
		}
	}
	stop := errors.New("stop here")
	n := 0
	err := s.List(ctx, "", func(channel.Object) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("List whose callback failed at the 3rd object: err %v after %d calls, want the callback's error after 3", err, n)
	}
}

// CheckListManyPages: a listing of more objects than one page of the backend (n > 1,000
// for S3) gives every key exactly once, in order, and nothing else.
func CheckListManyPages(t testing.TB, s channel.Store, n int) {
	ctx := ctx(t)
	key := func(i int) string { return fmt.Sprintf("linux-64/pkg-%05d-1.0-0.conda", i) }
	var next atomic.Int64
	race(16, func(int) {
		for {
			i := int(next.Add(1)) - 1
			if i >= n {
				return
			}
			if _, err := put(ctx, s, key(i), []byte(key(i)), channel.PutOptions{IfAbsent: true}); err != nil {
				t.Errorf("put %s: %v", key(i), err)
				return
			}
		}
	})
	mustPut(t, ctx, s, "linux-64/repodata.json", []byte("{}"), channel.PutOptions{})
	mustPut(t, ctx, s, "noarch/repodata.json", []byte("{}"), channel.PutOptions{})
	if t.Failed() {
		t.FailNow()
	}
	objs := list(t, ctx, s, "linux-64/pkg-")
	got := keys(objs)
	seen := map[string]int{}
	for _, k := range got {
		seen[k]++
	}
	var missing, dup []string
	for i := range n {
		switch seen[key(i)] {
		case 0:
			missing = append(missing, key(i))
		case 1:
		default:
			dup = append(dup, key(i))
		}
		delete(seen, key(i))
	}
	if len(got) != n || len(missing) > 0 || len(dup) > 0 || len(seen) > 0 {
		t.Errorf("List of %d objects gave %d: missing %s, listed twice %s, unexpected %v", n, len(got), head(missing), head(dup), seen)
	}
	if !sort.StringsAreSorted(got) {
		t.Errorf("List of %d objects is not in key order", n)
	}
	for _, o := range objs {
		if o.Size != int64(len(o.Key)) {
			t.Errorf("listed %s with size %d, want %d", o.Key, o.Size, len(o.Key))
			break
		}
	}
	// The internal area may hold the backend's own files (a folder's store.lock).
	var outside []string
	for _, o := range list(t, ctx, s, "") {
		if !channel.IsInternal(o.Key) {
			outside = append(outside, o.Key)
		}
	}
	if len(outside) != n+2 {
		t.Errorf("List(\"\") gave %d objects outside %s, want %d", len(outside), channel.InternalPrefix, n+2)
	}
}

func head(s []string) string {
	if len(s) > 5 {
		return fmt.Sprintf("%q and %d more", s[:5], len(s)-5)
	}
	return fmt.Sprintf("%q", s)
}

// gatedReader yields the first half of data, says so on reached, then waits for open
// before yielding the rest.
type gatedReader struct {
	data    []byte
	off     int
	reached chan struct{}
	open    chan struct{}
}

func (g *gatedReader) Read(p []byte) (int, error) {
	half := len(g.data) / 2
	if g.off == half {
		select {
		case <-g.reached:
		default:
			close(g.reached)
		}
		<-g.open
	}
	if g.off >= len(g.data) {
		return 0, io.EOF
	}
	end := len(g.data)
	if g.off < half {
		end = half
	}
	n := copy(p, g.data[g.off:end])
	g.off += n
	return n, nil
}

// CheckListNoPartialWrites: while a write is in progress (half its bytes sent, the rest
// held back) nothing of it shows: no new key or temp file in listings, Stat and Get give
// the previous object (or ErrNotFound), and afterwards the object is complete.
func CheckListNoPartialWrites(t testing.TB, s channel.Store) {
	ctx := ctx(t)
	mustPut(t, ctx, s, "linux-64/existing-1.0-0.conda", []byte("existing"), channel.PutOptions{})
	old := mustPut(t, ctx, s, "linux-64/repodata.json", []byte(`{"old":true}`), channel.PutOptions{})
	before := keys(list(t, ctx, s, ""))
	big := make([]byte, 3<<20)
	rand.Read(big)
	for _, c := range []struct {
		key  string
		opts channel.PutOptions
		prev *channel.Object
	}{
		{"linux-64/new-1.0-0.conda", channel.PutOptions{}, nil},
		{"linux-64/created-1.0-0.conda", channel.PutOptions{IfAbsent: true}, nil},
		{"linux-64/repodata.json", channel.PutOptions{IfMatch: old.ETag}, &old},
	} {
		g := &gatedReader{data: big, reached: make(chan struct{}), open: make(chan struct{})}
		type result struct {
			obj channel.Object
			err error
		}
		done := make(chan result, 1)
		go func() {
			obj, err := s.Put(ctx, c.key, g, int64(len(big)), c.opts)
			done <- result{obj, err}
		}()
		select {
		case <-g.reached:
		case r := <-done:
			t.Fatalf("put %s returned before its body was read: %v", c.key, r.err)
		case <-time.After(30 * time.Second):
			t.Fatalf("put %s never read half its body", c.key)
		}
		time.Sleep(20 * time.Millisecond) // let a backend that writes as it reads write
		for _, prefix := range []string{"", "linux-64/", "linux-64/" + c.key[len("linux-64/"):4+len("linux-64/")]} {
			for _, o := range list(t, ctx, s, prefix) {
				if !slices.Contains(before, o.Key) {
					t.Errorf("List(%q) during an unfinished write of %s shows %s (%d bytes)", prefix, c.key, o.Key, o.Size)
				} else if o.Key == c.key && (o.Size != c.prev.Size || o.ETag != c.prev.ETag) {
					t.Errorf("List(%q) during an unfinished overwrite of %s shows it at %d bytes, ETag %s; before: %d, %s", prefix, c.key, o.Size, o.ETag, c.prev.Size, c.prev.ETag)
				}
			}
		}
		st, err := s.Stat(ctx, c.key)
		switch {
		case c.prev == nil && !errors.Is(err, channel.ErrNotFound):
			t.Errorf("stat during an unfinished create of %s: %+v, %v; want ErrNotFound", c.key, st, err)
		case c.prev != nil && (err != nil || st.ETag != c.prev.ETag || st.Size != c.prev.Size):
			t.Errorf("stat during an unfinished overwrite of %s: %+v, %v; want the previous object %+v", c.key, st, err, *c.prev)
		}
		close(g.open)
		r := <-done
		if r.err != nil {
			t.Fatalf("put %s: %v", c.key, r.err)
		}
		got := wantContent(t, ctx, s, c.key, big, "after the write finished")
		if got.ETag != r.obj.ETag {
			t.Errorf("%s: ETag %s, put returned %s", c.key, got.ETag, r.obj.ETag)
		}
		before = keys(list(t, ctx, s, ""))
		if !slices.Contains(before, c.key) {
			t.Errorf("%s not listed after its write finished: %q", c.key, before)
		}
	}
	// Listings running while writes go on: an object is listed complete or not at all.
	stopListing := make(chan struct{})
	var listed atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopListing:
				return
			default:
			}
			err := s.List(ctx, "noarch/", func(o channel.Object) error {
				listed.Add(1)
				if o.Size != int64(len(big)) {
					t.Errorf("a listing during writes shows %s at %d bytes, want %d", o.Key, o.Size, len(big))
				}
				return nil
			})
			if err != nil {
				t.Errorf("list during writes: %v", err)
				return
			}
		}
	}()
	for i := range 4 {
		if _, err := put(ctx, s, fmt.Sprintf("noarch/big-%d.conda", i), big, channel.PutOptions{IfAbsent: true}); err != nil {
			t.Errorf("put big-%d: %v", i, err)
		}
	}
	close(stopListing)
	wg.Wait()
}

// CheckRanges: ReadRange and GetRange at the start, the middle and the end of an object,
// ranges that run past the end (fewer bytes), ranges that start at or past the end (no
// bytes), length -1 (to the end) and 0; GetRange's Object describes the whole object.
func CheckRanges(t testing.TB, s channel.Store) {
	ctx := ctx(t)
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i*7 + i/256)
	}
	key := "linux-64/ranged-1.0-0.conda"
	obj := mustPut(t, ctx, s, key, data, channel.PutOptions{})
	sub := func(off, n int64) []byte {
		if off >= int64(len(data)) {
			return []byte{}
		}
		end := int64(len(data))
		if n >= 0 && off+n < end {
			end = off + n
		}
		return data[off:end]
	}
	for _, r := range [][2]int64{{0, 10}, {0, 1000}, {0, 5000}, {1, 1}, {500, 100}, {999, 1}, {990, 100}, {1000, 10}, {2000, 10}} {
		got, err := s.ReadRange(ctx, key, r[0], r[1])
		if err != nil {
			t.Errorf("ReadRange(%d, %d): %v", r[0], r[1], err)
		} else if want := sub(r[0], r[1]); !bytes.Equal(got, want) {
			t.Errorf("ReadRange(%d, %d) = %d bytes %s, want %d bytes", r[0], r[1], len(got), show(got), len(want))
		}
	}
	for _, r := range [][2]int64{{0, -1}, {0, 10}, {0, 1000}, {0, 5000}, {500, 100}, {500, -1}, {990, 100}, {999, -1}, {1000, -1}, {1000, 10}, {10, 0}} {
		rc, o, err := s.GetRange(ctx, key, r[0], r[1])
		if err != nil {
			t.Errorf("GetRange(%d, %d): %v", r[0], r[1], err)
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Errorf("GetRange(%d, %d): read: %v", r[0], r[1], err)
		} else if want := sub(r[0], r[1]); !bytes.Equal(got, want) {
			t.Errorf("GetRange(%d, %d) = %d bytes %s, want %d bytes", r[0], r[1], len(got), show(got), len(want))
		}
		if o.Size != int64(len(data)) || o.ETag != obj.ETag {
			t.Errorf("GetRange(%d, %d) describes %+v, want the whole object (size %d, ETag %s)", r[0], r[1], o, len(data), obj.ETag)
		}
	}
	// Past the end: no bytes (an error is allowed: the contract does not say).
	if rc, _, err := s.GetRange(ctx, key, 2000, 10); err == nil {
		got, _ := io.ReadAll(rc)
		rc.Close()
		if len(got) > 0 {
			t.Errorf("GetRange past the end gave %d bytes", len(got))
		}
	}
	// An empty object.
	mustPut(t, ctx, s, "noarch/empty", nil, channel.PutOptions{})
	if got, err := s.ReadRange(ctx, "noarch/empty", 0, 10); err != nil || len(got) != 0 {
		t.Errorf("ReadRange of an empty object: %d bytes, %v", len(got), err)
	}
	rc, o, err := s.GetRange(ctx, "noarch/empty", 0, -1)
	if err != nil {
		t.Errorf("GetRange(0, -1) of an empty object: %v", err)
	} else {
		got, _ := io.ReadAll(rc)
		rc.Close()
		if len(got) != 0 || o.Size != 0 {
			t.Errorf("GetRange of an empty object: %d bytes, size %d", len(got), o.Size)
		}
	}
}

func writeFile(t testing.TB, size int64, seed byte) (path string, sum [32]byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	data[0] = seed
	path = filepath.Join(t.TempDir(), fmt.Sprintf("pkg-%d.conda", seed))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, sha256.Sum256(data)
}

func objectSum(t testing.TB, ctx context.Context, s channel.Store, key string) ([32]byte, channel.Object) {
	t.Helper()
	rc, obj, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	if n != obj.Size {
		t.Errorf("read %d bytes of %s, its size is %d", n, key, obj.Size)
	}
	return [32]byte(h.Sum(nil)), obj
}

// CheckPutFileLarge: PutFile of a large file (past the multipart threshold) keeps the
// conditions: create-if-absent refuses an existing key and leaves it whole, racing
// creates have one winner, compare-and-swap refuses a stale ETag; the bytes and
// metadata arrive intact and ranged reads across part boundaries work.
func CheckPutFileLarge(t testing.TB, s channel.Store, size int64, keepsMetadata bool) {
	ctx := ctx(t)
	key := "linux-64/large-1.0-0.conda"
	a, sumA := writeFile(t, size, 1)
	b, sumB := writeFile(t, size+1234, 2)
	meta := map[string]string{"sha256": fmt.Sprintf("%x", sumA)}
	objA, err := s.PutFile(ctx, key, a, channel.PutOptions{IfAbsent: true, Metadata: meta})
	if err != nil {
		t.Fatalf("PutFile create-if-absent: %v", err)
	}
	if objA.Size != size || objA.ETag == "" {
		t.Errorf("PutFile returned %+v, want size %d and an ETag", objA, size)
	}
	if got, o := objectSum(t, ctx, s, key); got != sumA || o.ETag != objA.ETag {
		t.Errorf("after PutFile: sum %x ETag %s, want %x and %s", got, o.ETag, sumA, objA.ETag)
	}
	st, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	checkMetadata(t, "stat after PutFile", st.Metadata, meta, keepsMetadata)
	if _, err := s.PutFile(ctx, key, b, channel.PutOptions{IfAbsent: true}); !errors.Is(err, channel.ErrPreconditionFailed) {
		t.Errorf("PutFile create-if-absent of an existing key: %v, want ErrPreconditionFailed", err)
	}
	if got, o := objectSum(t, ctx, s, key); got != sumA || o.ETag != objA.ETag || o.Size != size {
		t.Errorf("a refused PutFile changed the object: size %d ETag %s", o.Size, o.ETag)
	}
	// Ranged read across what would be part boundaries.
	whole, _ := os.ReadFile(a)
	for _, off := range []int64{size/2 - 7, size/3 - 3, size - 5} {
		got, err := s.ReadRange(ctx, key, off, 20)
		if want := whole[off:min(off+20, size)]; err != nil || !bytes.Equal(got, want) {
			t.Errorf("ReadRange(%d, 20) of the large object: %d bytes, %v", off, len(got), err)
		}
	}
	// Compare-and-swap with PutFile.
	if _, err := s.PutFile(ctx, key, b, channel.PutOptions{IfMatch: `"stale-etag"`}); !errors.Is(err, channel.ErrPreconditionFailed) {
		t.Errorf("PutFile with a stale ETag: %v, want ErrPreconditionFailed", err)
	}
	objB, err := s.PutFile(ctx, key, b, channel.PutOptions{IfMatch: objA.ETag})
	if err != nil {
		t.Fatalf("PutFile with the current ETag: %v", err)
	}
	if got, o := objectSum(t, ctx, s, key); got != sumB || o.ETag != objB.ETag || o.ETag == objA.ETag {
		t.Errorf("after a PutFile swap: ETag %s (before %s, returned %s), content right: %v", o.ETag, objA.ETag, objB.ETag, got == sumB)
	}
	// Racing large creates.
	const n = 3
	files := make([]string, n)
	sums := make([][32]byte, n)
	for i := range n {
		files[i], sums[i] = writeFile(t, size, byte(10+i))
	}
	var mu sync.Mutex
	var winners []int
	race(n, func(i int) {
		_, err := s.PutFile(ctx, "noarch/raced-1.0-0.conda", files[i], channel.PutOptions{IfAbsent: true})
		switch {
		case err == nil:
			mu.Lock()
			winners = append(winners, i)
			mu.Unlock()
		case !errors.Is(err, channel.ErrPreconditionFailed):
			t.Errorf("racing PutFile %d: %v", i, err)
		}
	})
	if len(winners) != 1 {
		t.Fatalf("%d of %d racing large creates won, want 1", len(winners), n)
	}
	if got, _ := objectSum(t, ctx, s, "noarch/raced-1.0-0.conda"); got != sums[winners[0]] {
		t.Errorf("the raced object does not hold the winner's bytes")
	}
}
