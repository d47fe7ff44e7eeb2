package channel

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"
)

// faultyLockStore lets a test decide, per write of the lock, whether the write lands
// and what its caller hears.
type faultyLockStore struct {
	Store
	mu sync.Mutex
	// onLockPut is called for each Put of the lock; it returns whether the write should
	// land, an error to report instead of the result, and a delay before answering.
	onLockPut func(n int) (land bool, report error, delay time.Duration)
	lockPuts  int
}

func (f *faultyLockStore) Put(ctx context.Context, key string, body io.Reader, size int64, opts PutOptions) (Object, error) {
	if key != LockKey || f.onLockPut == nil {
		return f.Store.Put(ctx, key, body, size, opts)
	}
	f.mu.Lock()
	f.lockPuts++
	n := f.lockPuts
	hook := f.onLockPut
	f.mu.Unlock()
	land, report, delay := hook(n)
	var obj Object
	var err error
	if land {
		obj, err = f.Store.Put(ctx, key, body, size, opts)
	} else {
		io.Copy(io.Discard, body)
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	if report != nil {
		return Object{}, report
	}
	return obj, err
}

var errTimeout = errors.New("put: context deadline exceeded (response lost)")

// A create whose response is lost after it landed is recognised: the lock is ours.
func TestLeaseAcquireAfterLostCreateResponse(t *testing.T) {
	ctx := context.Background()
	s := &faultyLockStore{Store: localStore(t)}
	s.onLockPut = func(n int) (bool, error, time.Duration) {
		if n == 1 {
			return true, errTimeout, 0
		}
		return true, nil, 0
	}
	l, err := Acquire(ctx, s, fastLease("a"))
	if err != nil {
		t.Fatalf("acquire after a lost create response: %v", err)
	}
	if err := l.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, LockKey); !errors.Is(err, ErrNotFound) {
		t.Errorf("lock left behind: %v", err)
	}
}

// A Check that runs while a renewal is on the wire (landed, response not yet back) must
// not take the new ETag for someone else's.
func TestLeaseCheckDuringRenewal(t *testing.T) {
	ctx := context.Background()
	s := &faultyLockStore{Store: localStore(t)}
	opts := fastLease("a")
	opts.TTL = 600 * time.Millisecond
	landed := make(chan struct{}, 1)
	s.onLockPut = func(n int) (bool, error, time.Duration) {
		if n == 2 { // the first heartbeat: lands, answers late
			landed <- struct{}{}
			return true, nil, 120 * time.Millisecond
		}
		return true, nil, 0
	}
	l, err := Acquire(ctx, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	select {
	case <-landed:
	case <-time.After(5 * time.Second):
		t.Fatal("no heartbeat")
	}
	time.Sleep(20 * time.Millisecond) // the write has landed; its response is pending
	if err := l.Check(ctx); err != nil {
		t.Fatalf("check during a renewal: %v", err)
	}
	if cause := context.Cause(l.Context()); cause != nil {
		t.Fatalf("lease context cancelled: %v", cause)
	}
}

// Renewals that land but report an error (timeouts) keep the lease: the next renewal
// or Check finds our nonce in the lock; Release still removes the lock.
func TestLeaseSurvivesRenewalsWithUnknownOutcome(t *testing.T) {
	ctx := context.Background()
	for _, report := range []error{errTimeout, ErrPreconditionFailed} {
		t.Run(report.Error(), func(t *testing.T) {
			s := &faultyLockStore{Store: localStore(t)}
			s.onLockPut = func(n int) (bool, error, time.Duration) {
				if n == 2 || n == 3 {
					return true, report, 0
				}
				return true, nil, 0
			}
			opts := fastLease("a")
			opts.TTL = 900 * time.Millisecond
			l, err := Acquire(ctx, s, opts)
			if err != nil {
				t.Fatal(err)
			}
			// Two heartbeats (every 300ms) land with an error report.
			deadline := time.Now().Add(5 * time.Second)
			for {
				s.mu.Lock()
				n := s.lockPuts
				s.mu.Unlock()
				if n >= 3 || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := l.Check(ctx); err != nil {
				t.Fatalf("check after renewals with unknown outcome: %v", err)
			}
			if cause := context.Cause(l.Context()); cause != nil {
				t.Fatalf("lease lost: %v", cause)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Stat(ctx, LockKey); !errors.Is(err, ErrNotFound) {
				t.Errorf("lock left behind: %v", err)
			}
		})
	}
}

// Release after a renewal that landed unseen (its response lost, no renewal since)
// still removes our lock.
func TestLeaseReleaseAfterUnseenRenewal(t *testing.T) {
	ctx := context.Background()
	s := &faultyLockStore{Store: localStore(t)}
	stopAfter := make(chan struct{})
	var once sync.Once
	s.onLockPut = func(n int) (bool, error, time.Duration) {
		if n >= 2 {
			once.Do(func() { close(stopAfter) })
			return true, errTimeout, 0
		}
		return true, nil, 0
	}
	l, err := Acquire(ctx, s, fastLease("a"))
	if err != nil {
		t.Fatal(err)
	}
	<-stopAfter
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, LockKey); !errors.Is(err, ErrNotFound) {
		t.Errorf("lock left behind: %v", err)
	}
}

// A waiter with a short TTL gives a holder with a long TTL at least half of it as grace.
func TestLeaseGraceFollowsHolderTTL(t *testing.T) {
	ctx := context.Background()
	s := localStore(t)
	// A crashed holder with a 1s TTL: its lock never changes.
	if _, err := writeLock(ctx, s, LeaseRecord{Version: 1, Nonce: "dead", Generation: 4, TTLSeconds: 1}, PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	opts := fastLease("waiter") // TTL 300ms, grace 150ms of its own
	start := time.Now()
	l, err := Acquire(ctx, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	if waited := time.Since(start); waited < 1500*time.Millisecond {
		t.Errorf("took over after %v; want at least the holder's TTL plus half of it (1.5s)", waited)
	}
	if rec, _ := l.Record(); rec.Generation != 5 {
		t.Errorf("generation %d, want 5", rec.Generation)
	}
}
