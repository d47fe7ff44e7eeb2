package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
)

// Lease timings: short, so the checks are quick, and still many heartbeats per TTL.
const (
	leaseTTL   = 300 * time.Millisecond
	leaseGrace = 150 * time.Millisecond
	leasePoll  = 20 * time.Millisecond
)

func leaseOpts(host string) channel.LeaseOptions {
	// A made-up host, so no waiter ever takes the holder for a dead local process.
	return channel.LeaseOptions{TTL: leaseTTL, Grace: leaseGrace, Poll: leasePoll, Owner: channel.Owner{Host: "storetest-" + host, PID: 1}}
}

func acquire(t testing.TB, ctx context.Context, s channel.Store, o channel.LeaseOptions) *channel.Lease {
	t.Helper()
	l, err := channel.Acquire(ctx, s, o)
	if err != nil {
		t.Fatalf("acquire the lease as %s: %v", o.Owner.Host, err)
	}
	return l
}

// CheckLeaseAcquireRelease: Acquire creates the lock with its owner, heartbeats rewrite
// it (new ETag, same generation), Check confirms it, Release removes it.
func CheckLeaseAcquireRelease(t testing.TB, s channel.Store) {
	ctx := ctx(t)
	l := acquire(t, ctx, s, leaseOpts("a"))
	rec, obj, err := channel.ReadLease(ctx, s)
	if err != nil || rec.Owner.Host != "storetest-a" || rec.Nonce == "" || rec.Generation != 1 {
		t.Fatalf("lock after acquire: %+v, %v", rec, err)
	}
	time.Sleep(leaseTTL) // about three heartbeats
	rec2, obj2, err := channel.ReadLease(ctx, s)
	if err != nil || obj2.ETag == obj.ETag || rec2.Nonce == rec.Nonce || rec2.Generation != 1 {
		t.Errorf("no heartbeat seen: %+v (ETag %s, before %s), %v", rec2, obj2.ETag, obj.ETag, err)
	}
	if err := l.Check(ctx); err != nil {
		t.Errorf("check of a held lease: %v", err)
	}
	if err := l.Context().Err(); err != nil {
		t.Errorf("the holder's context ended: %v", context.Cause(l.Context()))
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	if _, err := s.Stat(ctx, channel.LockKey); !errors.Is(err, channel.ErrNotFound) {
		t.Errorf("lock still there after release: %v", err)
	}
	// And it can be acquired again at once.
	actx, cancel := context.WithTimeout(ctx, leaseTTL)
	defer cancel()
	l2 := acquire(t, actx, s, leaseOpts("b"))
	l2.Release(ctx)
}

// CheckLeaseSecondAcquireWaits: a second Acquire waits while the holder heartbeats (well
// past TTL+grace), and gets the lease as soon as the holder releases it.
func CheckLeaseSecondAcquireWaits(t testing.TB, s channel.Store) {
	ctx := ctx(t)
	a := acquire(t, ctx, s, leaseOpts("a"))
	var waiting atomic.Bool
	bo := leaseOpts("b")
	bo.Waiting = func(holder channel.LeaseRecord, _ channel.Object) {
		if holder.Owner.Host != "storetest-a" {
			t.Errorf("waiting for %+v, want storetest-a", holder.Owner)
		}
		waiting.Store(true)
	}
	got := make(chan *channel.Lease, 1)
	errc := make(chan error, 1)
	go func() {
		l, err := channel.Acquire(ctx, s, bo)
		if err != nil {
			errc <- err
			return
		}
		got <- l
	}()
	wait := 3 * (leaseTTL + leaseGrace)
	select {
	case b := <-got:
		b.Release(ctx)
		a.Release(ctx)
		t.Fatalf("a second Acquire got the lease while the holder was alive")
	case err := <-errc:
		a.Release(ctx)
		t.Fatalf("second acquire: %v", err)
	case <-time.After(wait):
	}
	if !waiting.Load() {
		t.Errorf("the waiter never reported whom it waits for")
	}
	if err := a.Check(ctx); err != nil {
		t.Errorf("holder lost its lease to a waiter: %v", err)
	}
	released := time.Now()
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if d := time.Since(released); d > 10*leasePoll+time.Second {
			t.Errorf("the waiter took %v to get a released lease", d)
		}
		rec, _ := b.Record()
		cur, _, err := channel.ReadLease(ctx, s)
		if err != nil || cur.Nonce != rec.Nonce || cur.Owner.Host != "storetest-b" {
			t.Errorf("lock after hand-over: %+v %v, want b's", cur, err)
		}
		b.Release(ctx)
	case err := <-errc:
		t.Fatalf("second acquire: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatalf("the waiter did not get the released lease")
	}
}

func writeLock(ctx context.Context, s channel.Store, rec channel.LeaseRecord, o channel.PutOptions) (channel.Object, error) {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return channel.Object{}, err
	}
	o.ContentType = "application/json"
	return put(ctx, s, channel.LockKey, data, o)
}

// CheckLeaseTakeoverAfterExpiry: the lock of a holder that died is taken over once it
// stayed unchanged for TTL+grace on the waiter's clock (its wall-clock times, an hour
// old, do not count), and not before; the generation goes up by one.
func CheckLeaseTakeoverAfterExpiry(t testing.TB, s channel.Store) {
	ctx := ctx(t)
	dead := channel.LeaseRecord{Version: 1, Owner: channel.Owner{Host: "storetest-crashed", PID: 9}, Nonce: "dead-nonce", Generation: 4,
		TTLSeconds: leaseTTL.Seconds(), AcquiredAt: time.Now().Add(-time.Hour), RenewedAt: time.Now().Add(-time.Hour)}
	if _, err := writeLock(ctx, s, dead, channel.PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	var tookOver atomic.Bool
	o := leaseOpts("waiter")
	o.TookOver = func(prev channel.LeaseRecord, waited time.Duration) {
		if prev.Nonce != "dead-nonce" {
			t.Errorf("took over %+v, want the dead holder's lease", prev)
		}
		tookOver.Store(true)
	}
	start := time.Now()
	l := acquire(t, ctx, s, o)
	defer l.Release(ctx)
	if el := time.Since(start); el < leaseTTL+leaseGrace {
		t.Errorf("took over after %v, before TTL+grace (%v)", el, leaseTTL+leaseGrace)
	} else if el > 10*(leaseTTL+leaseGrace) {
		t.Errorf("took over only after %v (TTL+grace %v)", el, leaseTTL+leaseGrace)
	}
	rec, etag := l.Record()
	if !tookOver.Load() || rec.Generation != dead.Generation+1 {
		t.Errorf("generation %d after takeover (dead holder's %d), TookOver called: %v", rec.Generation, dead.Generation, tookOver.Load())
	}
	cur, obj, err := channel.ReadLease(ctx, s)
	if err != nil || cur.Nonce != rec.Nonce {
		t.Errorf("lock after takeover: %+v (ETag %s, holder's %s) %v", cur, obj.ETag, etag, err)
	}
}

// partitioned is a store whose writes of the lock fail while cut: the holder that uses it
// cannot heartbeat (paused, partitioned) but can still reach everything else.
type partitioned struct {
	channel.Store
	cut atomic.Bool
}

var errPartitioned = errors.New("storetest: the network to the lock is cut")

func (p *partitioned) Put(ctx context.Context, key string, body io.Reader, size int64, o channel.PutOptions) (channel.Object, error) {
	if key == channel.LockKey && p.cut.Load() {
		return channel.Object{}, errPartitioned
	}
	return p.Store.Put(ctx, key, body, size, o)
}

func (p *partitioned) Delete(ctx context.Context, key, ifMatch string) error {
	if key == channel.LockKey && p.cut.Load() {
		return errPartitioned
	}
	return p.Store.Delete(ctx, key, ifMatch)
}

// CheckLeaseFence: a holder that loses its lease without taking part (its heartbeats
// cannot reach the lock) is taken over after TTL+grace; the successor's compare-and-swap
// on repodata moves it on, and the old holder's write, a compare-and-swap on the ETag it
// read at the start of its run, is refused; its release leaves the successor's lock.
func CheckLeaseFence(t testing.TB, s channel.Store) {
	ctx := ctx(t)
	key := "linux-64/repodata.json"
	mustPut(t, ctx, s, key, []byte(`{"packages":{}}`), channel.PutOptions{IfAbsent: true})
	ps := &partitioned{Store: s}
	a := acquire(t, ctx, ps, leaseOpts("a"))
	_, readByA, err := content(ctx, s, key) // A's index run starts: it reads repodata
	if err != nil {
		t.Fatal(err)
	}
	ps.cut.Store(true) // A's heartbeats stop reaching the lock
	b := acquire(t, ctx, s, leaseOpts("b"))
	defer b.Release(ctx)
	_, readByB, err := content(ctx, s, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := put(ctx, s, key, []byte(`{"by":"b"}`), channel.PutOptions{IfMatch: readByB.ETag}); err != nil {
		t.Fatalf("the new holder's fenced write: %v", err)
	}
	// A writes what it computed, fenced on what it read.
	if _, err := put(ctx, ps, key, []byte(`{"by":"a, stale"}`), channel.PutOptions{IfMatch: readByA.ETag}); !errors.Is(err, channel.ErrPreconditionFailed) {
		t.Errorf("the old holder's fenced write: %v, want ErrPreconditionFailed", err)
	}
	wantContent(t, ctx, s, key, []byte(`{"by":"b"}`), "after the old holder's write")
	ps.cut.Store(false)
	select {
	case <-a.Context().Done():
		if !errors.Is(context.Cause(a.Context()), channel.ErrLeaseLost) {
			t.Errorf("old holder's context ended with %v, want ErrLeaseLost", context.Cause(a.Context()))
		}
	case <-time.After(10 * leaseTTL):
		t.Errorf("the old holder's work was not cancelled")
	}
	if err := a.Check(ctx); !errors.Is(err, channel.ErrLeaseLost) {
		t.Errorf("old holder's check: %v, want ErrLeaseLost", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Errorf("old holder's release: %v", err)
	}
	if err := b.Check(ctx); err != nil {
		t.Errorf("the new holder lost its lease: %v", err)
	}
}

// CheckLeaseReleaseSparesSuccessor: a holder whose lease was taken over (here before it
// noticed: a long TTL, so no heartbeat tells it) releases with a conditional delete that
// the successor's lock refuses; the successor's lock stays, ETag and all.
func CheckLeaseReleaseSparesSuccessor(t testing.TB, s channel.Store) {
	ctx := ctx(t)
	o := leaseOpts("a")
	o.TTL = time.Hour
	a := acquire(t, ctx, s, o)
	_, aETag := a.Record()
	succ := channel.LeaseRecord{Version: 1, Owner: channel.Owner{Host: "storetest-successor"}, Nonce: "successor-nonce", Generation: 2, TTLSeconds: 60}
	succObj, err := writeLock(ctx, s, succ, channel.PutOptions{IfMatch: aETag})
	if err != nil {
		t.Fatalf("successor's takeover: %v", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Errorf("release of a lease taken over: %v", err)
	}
	rec, obj, err := channel.ReadLease(ctx, s)
	if err != nil || rec.Nonce != succ.Nonce || obj.ETag != succObj.ETag {
		t.Errorf("the successor's lock after the old holder's release: %+v (ETag %s, want %s), %v", rec, obj.ETag, succObj.ETag, err)
	}
	// The same through BreakLease with the ETag shown before the takeover.
	if err := channel.BreakLease(ctx, s, aETag); err == nil {
		t.Errorf("BreakLease with an old ETag removed the successor's lease")
	}
	if _, err := s.Stat(ctx, channel.LockKey); err != nil {
		t.Errorf("successor's lock: %v", err)
	}
}

// CheckLostCreateResponse: a create-if-absent whose response is lost (it took effect)
// reports success or ErrPreconditionFailed, never a third outcome that would leave the
// caller guessing, and the object holds the caller's bytes, so that reading it back
// recognises the caller's own write.
func CheckLostCreateResponse(t testing.TB, f Faulty) {
	ctx := ctx(t)
	key := "linux-64/lost-1.0-0.conda"
	data := []byte("the bytes of the write whose response was lost")
	lost := f.Lost()
	f.LoseNextResponse(key)
	obj, err := put(ctx, f.Store, key, data, channel.PutOptions{IfAbsent: true})
	if f.Lost() != lost+1 {
		t.Fatalf("no response was lost (%d before, %d after): the fault did not apply", lost, f.Lost())
	}
	if err != nil && !errors.Is(err, channel.ErrPreconditionFailed) {
		t.Errorf("create whose response was lost: %v, want success or ErrPreconditionFailed", err)
	}
	got := wantContent(t, ctx, f.Store, key, data, "after a lost create response")
	if err == nil && obj.ETag != got.ETag {
		t.Errorf("create reported ETag %s, the object has %s", obj.ETag, got.ETag)
	}
	t.Logf("a create whose response was lost reports: %v", err)
}

// CheckLostCompareAndSwapResponse: the same for a compare-and-swap.
func CheckLostCompareAndSwapResponse(t testing.TB, f Faulty) {
	ctx := ctx(t)
	key := "linux-64/repodata.json"
	v1 := mustPut(t, ctx, f.Store, key, []byte(`{"v":1}`), channel.PutOptions{IfAbsent: true})
	lost := f.Lost()
	f.LoseNextResponse(key)
	obj, err := put(ctx, f.Store, key, []byte(`{"v":2}`), channel.PutOptions{IfMatch: v1.ETag})
	if f.Lost() != lost+1 {
		t.Fatalf("no response was lost: the fault did not apply")
	}
	if err != nil && !errors.Is(err, channel.ErrPreconditionFailed) {
		t.Errorf("swap whose response was lost: %v, want success or ErrPreconditionFailed", err)
	}
	got := wantContent(t, ctx, f.Store, key, []byte(`{"v":2}`), "after a lost swap response")
	if err == nil && obj.ETag != got.ETag {
		t.Errorf("swap reported ETag %s, the object has %s", obj.ETag, got.ETag)
	}
	t.Logf("a compare-and-swap whose response was lost reports: %v", err)
}

// CheckLostPutFileResponse: a large create-if-absent (multipart where the backend has
// parts) whose completion response is lost: success or ErrPreconditionFailed, and the
// object is the caller's file, with its metadata.
func CheckLostPutFileResponse(t testing.TB, f Faulty, size int64, keepsMetadata bool) {
	ctx := ctx(t)
	key := "linux-64/lost-large-1.0-0.conda"
	path, sum := writeFile(t, size, 7)
	meta := map[string]string{"sha256": fmt.Sprintf("%x", sum)}
	lost := f.Lost()
	f.LoseNextResponse(key)
	_, err := f.Store.PutFile(ctx, key, path, channel.PutOptions{IfAbsent: true, Metadata: meta})
	if f.Lost() != lost+1 {
		t.Fatalf("no response was lost: the fault did not apply")
	}
	if err != nil && !errors.Is(err, channel.ErrPreconditionFailed) {
		t.Errorf("large create whose response was lost: %v, want success or ErrPreconditionFailed", err)
	}
	got, obj := objectSum(t, ctx, f.Store, key)
	if got != sum || obj.Size != size {
		t.Errorf("after a lost completion response the object is %d bytes, not the caller's file", obj.Size)
	}
	st, serr := f.Store.Stat(ctx, key)
	if serr != nil {
		t.Fatal(serr)
	}
	checkMetadata(t, "stat after a lost completion", st.Metadata, meta, keepsMetadata)
	t.Logf("a large create whose response was lost reports: %v", err)
}

// CheckLostLeaseAcquireResponse: an Acquire whose create of the lock lost its response
// still gets the lease (the lock carries its nonce), and its Release removes the lock.
func CheckLostLeaseAcquireResponse(t testing.TB, f Faulty) {
	ctx := ctx(t)
	lost := f.Lost()
	f.LoseNextResponse(channel.LockKey)
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	l := acquire(t, actx, f.Store, leaseOpts("a"))
	if f.Lost() != lost+1 {
		t.Errorf("no response was lost: the fault did not apply")
	}
	if err := l.Check(ctx); err != nil {
		t.Errorf("check: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Errorf("release: %v", err)
	}
	if _, err := f.Store.Stat(ctx, channel.LockKey); !errors.Is(err, channel.ErrNotFound) {
		t.Errorf("lock left behind: %v", err)
	}
}
