package channel

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func localStore(t *testing.T) *Local {
	t.Helper()
	s, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fastLease(owner string) LeaseOptions {
	return LeaseOptions{TTL: 300 * time.Millisecond, Grace: 150 * time.Millisecond, Poll: 20 * time.Millisecond, Owner: Owner{Host: owner, PID: 1}}
}

func TestLeaseAcquireRelease(t *testing.T) {
	ctx := context.Background()
	s := localStore(t)
	l, err := Acquire(ctx, s, fastLease("a"))
	if err != nil {
		t.Fatal(err)
	}
	rec, obj, err := ReadLease(ctx, s)
	if err != nil || rec.Owner.Host != "a" || rec.Generation != 1 || rec.Nonce == "" {
		t.Fatalf("lock %+v %v", rec, err)
	}
	// Heartbeats rewrite the lock with a fresh nonce, so its ETag moves.
	time.Sleep(250 * time.Millisecond)
	rec2, obj2, _ := ReadLease(ctx, s)
	if obj2.ETag == obj.ETag || rec2.Nonce == rec.Nonce || rec2.Generation != 1 {
		t.Errorf("no heartbeat seen: %v %v", rec2, obj2)
	}
	if err := l.Check(ctx); err != nil {
		t.Errorf("check: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, LockKey); !errors.Is(err, ErrNotFound) {
		t.Errorf("lock still there after release: %v", err)
	}
}

func TestLeaseIsExclusiveAndHandedOn(t *testing.T) {
	ctx := context.Background()
	s := localStore(t)
	var holders, maxHolders atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := Acquire(ctx, s, fastLease("worker"))
			if err != nil {
				t.Error(err)
				return
			}
			n := holders.Add(1)
			for {
				m := maxHolders.Load()
				if n <= m || maxHolders.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(30 * time.Millisecond)
			holders.Add(-1)
			if err := l.Release(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if maxHolders.Load() != 1 {
		t.Errorf("%d holders at once", maxHolders.Load())
	}
}

// A holder that died leaves its lock behind; a waiter takes over once the lock stayed
// unchanged for TTL+grace on the waiter's own clock, and not before.
func TestLeaseTakeoverAfterExpiry(t *testing.T) {
	ctx := context.Background()
	s := localStore(t)
	dead := LeaseRecord{Version: 1, Owner: Owner{Host: "crashed", PID: 9}, Nonce: "n0", Generation: 4, TTLSeconds: 0.3,
		AcquiredAt: time.Now().Add(-time.Hour), RenewedAt: time.Now().Add(-time.Hour)}
	if _, err := writeLock(ctx, s, dead, PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	var tookOver atomic.Bool
	opts := fastLease("waiter")
	opts.TookOver = func(prev LeaseRecord, waited time.Duration) {
		if prev.Owner.Host != "crashed" || waited < 450*time.Millisecond {
			t.Errorf("took over %v after %v", prev.Owner, waited)
		}
		tookOver.Store(true)
	}
	start := time.Now()
	l, err := Acquire(ctx, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	// The lock's wall-clock times say "an hour old"; only the waiter's own clock counts.
	if el := time.Since(start); el < 450*time.Millisecond {
		t.Errorf("took over after %v, before TTL+grace", el)
	}
	rec, _ := l.Record()
	if !tookOver.Load() || rec.Generation != 5 {
		t.Errorf("generation %d, took over %v", rec.Generation, tookOver.Load())
	}
}

// A live holder's heartbeats keep waiters out for as long as it works.
func TestLeaseHeartbeatKeepsWaitersOut(t *testing.T) {
	ctx := context.Background()
	s := localStore(t)
	a, err := Acquire(ctx, s, fastLease("a"))
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	_, err = Acquire(wctx, s, fastLease("b"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter got the lease from a live holder: %v", err)
	}
	if err := a.Context().Err(); err != nil {
		t.Errorf("holder's context: %v", err)
	}
	a.Release(ctx)
}

// When someone else takes the lease, the holder learns at its next heartbeat, its work
// context is cancelled, and its release does not remove the successor's lock.
func TestLeaseLossCancelsWorkAndReleaseSparesSuccessor(t *testing.T) {
	ctx := context.Background()
	s := localStore(t)
	a, err := Acquire(ctx, s, fastLease("a"))
	if err != nil {
		t.Fatal(err)
	}
	_, obj, _ := ReadLease(ctx, s)
	succ := LeaseRecord{Version: 1, Owner: Owner{Host: "b"}, Nonce: "b1", Generation: 2, TTLSeconds: 60}
	succObj, err := writeLock(ctx, s, succ, PutOptions{IfMatch: obj.ETag})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Context().Done():
	case <-time.After(time.Second):
		t.Fatal("holder did not notice the takeover")
	}
	if !errors.Is(context.Cause(a.Context()), ErrLeaseLost) {
		t.Errorf("cause %v", context.Cause(a.Context()))
	}
	if err := a.Check(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("check: %v", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Errorf("release: %v", err)
	}
	rec, got, err := ReadLease(ctx, s)
	if err != nil || rec.Nonce != "b1" || got.ETag != succObj.ETag {
		t.Errorf("successor's lock damaged: %+v %v", rec, err)
	}
}

func TestBreakLeaseOnlyTheOneShown(t *testing.T) {
	ctx := context.Background()
	s := localStore(t)
	l, err := Acquire(ctx, s, LeaseOptions{TTL: time.Hour, Owner: Owner{Host: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	_, shown, _ := ReadLease(ctx, s)
	l.renew() // the holder writes again after the user looked
	if err := BreakLease(ctx, s, shown.ETag); err == nil {
		t.Fatal("broke a lease that changed since it was shown")
	}
	_, now, _ := ReadLease(ctx, s)
	if err := BreakLease(ctx, s, now.ETag); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("holder after break: %v", err)
	}
	l.Release(ctx)
}

func TestLocalConditionalWrites(t *testing.T) {
	ctx := context.Background()
	s := localStore(t)
	put := func(data string, o PutOptions) (Object, error) {
		return s.Put(ctx, "linux-64/x.json", bytes.NewReader([]byte(data)), int64(len(data)), o)
	}
	first, err := put("1", PutOptions{IfAbsent: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := put("2", PutOptions{IfAbsent: true}); !errors.Is(err, ErrPreconditionFailed) {
		t.Errorf("second create: %v", err)
	}
	second, err := put("2", PutOptions{IfMatch: first.ETag})
	if err != nil {
		t.Fatal(err)
	}
	if second.ETag == first.ETag {
		t.Error("ETag did not change")
	}
	if _, err := put("3", PutOptions{IfMatch: first.ETag}); !errors.Is(err, ErrPreconditionFailed) {
		t.Errorf("stale compare-and-swap: %v", err)
	}
	if err := s.Delete(ctx, "linux-64/x.json", first.ETag); !errors.Is(err, ErrPreconditionFailed) {
		t.Errorf("stale delete: %v", err)
	}
	data, _, _ := ReadAll(ctx, s, "linux-64/x.json")
	if string(data) != "2" {
		t.Errorf("content %q", data)
	}
	// Racing creates: exactly one winner.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Put(ctx, "race", bytes.NewReader([]byte("x")), 1, PutOptions{IfAbsent: true}); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, ErrPreconditionFailed) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d winners", wins.Load())
	}
	var keys []string
	s.List(ctx, "", func(o Object) error { keys = append(keys, o.Key); return nil })
	for _, k := range keys {
		if isTempName(k) {
			t.Errorf("temp file listed: %s", k)
		}
	}
}

func TestParseLocation(t *testing.T) {
	cases := []struct {
		in     string
		bucket string
		prefix string
		err    bool
	}{
		{in: "s3://studio-bucket/Conda/Default", bucket: "studio-bucket", prefix: "Conda/Default"},
		{in: "s3://studio-bucket/Conda/Default/", bucket: "studio-bucket", prefix: "Conda/Default"},
		{in: "s3://studio-bucket", bucket: "studio-bucket"},
		{in: "S3://studio-bucket/x", bucket: "studio-bucket", prefix: "x"},
		{in: "s3://", err: true},
		{in: "s3://Bad_Bucket/x", err: true},
		{in: "s3://bucket/a/../b", err: true},
		{in: "s3://bucket/a//b", err: true},
		{in: "http://example.com/channel", err: true},
		{in: "", err: true},
		{in: "file://host/dir", err: true},
	}
	for _, c := range cases {
		loc, err := ParseLocation(c.in)
		if (err != nil) != c.err {
			t.Errorf("%q: error %v", c.in, err)
			continue
		}
		if err == nil && (loc.Bucket != c.bucket || loc.Prefix != c.prefix) {
			t.Errorf("%q: %+v", c.in, loc)
		}
	}
	loc, err := ParseLocation("file:///srv/conda/channel")
	if err != nil || loc.Dir == "" || loc.IsS3() {
		t.Errorf("file URL: %+v %v", loc, err)
	}
	loc, err = ParseLocation("relative/channel")
	if err != nil || !filepathIsAbs(loc.Dir) {
		t.Errorf("relative: %+v %v", loc, err)
	}
}

func filepathIsAbs(p string) bool { return filepath.IsAbs(p) }
