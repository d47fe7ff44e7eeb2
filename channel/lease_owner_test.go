package channel

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// deadPID returns the PID of a process of this machine that has exited (and been reaped).
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	cmd.Wait()
	if state, _ := lookupProcess(pid); state != processGone {
		t.Skipf("pid %d still looks alive after exiting (%v)", pid, state)
	}
	return pid
}

// writeHolder leaves a lock as a holder with a long TTL would, without a heartbeat.
func writeHolder(t *testing.T, s Store, owner Owner) {
	t.Helper()
	rec := LeaseRecord{Version: 1, Owner: owner, Nonce: "holder", Generation: 7, TTLSeconds: time.Hour.Seconds(),
		AcquiredAt: time.Now().UTC(), RenewedAt: time.Now().UTC()}
	if _, err := writeLock(context.Background(), s, rec, PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
}

func waiterOptions() LeaseOptions {
	return LeaseOptions{TTL: time.Hour, Poll: 20 * time.Millisecond, Owner: CurrentOwner("waiter")}
}

// The lease of a folder channel whose holder, a process of this machine, has exited is
// taken over at once, not after TTL+grace (an hour here).
func TestLeaseTakeoverFromDeadLocalHolder(t *testing.T) {
	ctx := context.Background()
	s := localStore(t)
	holder := CurrentOwner("publish")
	holder.PID = deadPID(t)
	holder.ProcessStart = "12345" // what it was; the PID no longer exists anyway
	writeHolder(t, s, holder)

	var why string
	opts := waiterOptions()
	opts.TookOver = func(LeaseRecord, time.Duration) { t.Error("TookOver told instead of HolderGone") }
	opts.HolderGone = func(prev LeaseRecord, waited time.Duration, reason string) {
		if prev.Owner.PID != holder.PID || waited > time.Second {
			t.Errorf("took over from %+v after %v", prev.Owner, waited)
		}
		why = reason
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	l, err := Acquire(actx, s, opts)
	if err != nil {
		t.Fatalf("acquire from a dead holder: %v", err)
	}
	defer l.Release(ctx)
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %v", el)
	}
	if !strings.Contains(why, "no longer exists") {
		t.Errorf("reason %q", why)
	}
	rec, _ := l.Record()
	if rec.Generation != 8 {
		t.Errorf("generation %d, want 8", rec.Generation)
	}
	// Without HolderGone, TookOver hears of it.
	l.Release(ctx)
	holder.PID = deadPID(t)
	writeHolder(t, s, holder)
	var told atomic.Bool
	opts = waiterOptions()
	opts.TookOver = func(LeaseRecord, time.Duration) { told.Store(true) }
	actx2, cancel2 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel2()
	l2, err := Acquire(actx2, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	l2.Release(ctx)
	if !told.Load() {
		t.Error("TookOver not told")
	}
}

// A lock that names a live process of this machine (this test, with its real start time)
// is waited for.
func TestLeaseWaitsForLiveLocalHolder(t *testing.T) {
	s := localStore(t)
	holder := CurrentOwner("publish")
	writeHolder(t, s, holder)
	wantWaits(t, s, waiterOptions())
}

// A reused PID (a live process that started at another time than the holder) is not the
// holder.
func TestLeaseTakeoverFromReusedPID(t *testing.T) {
	holder := CurrentOwner("publish")
	if holder.ProcessStart == "" {
		t.Skip("process start times are not known on this system")
	}
	s := localStore(t)
	holder.ProcessStart = "1" + holder.ProcessStart // started at another time
	writeHolder(t, s, holder)
	actx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	l, err := Acquire(actx, s, waiterOptions())
	if err != nil {
		t.Fatalf("acquire from a reused pid: %v", err)
	}
	l.Release(context.Background())
}

// Nothing but a folder channel's lock held by this machine, in this boot and this PID
// namespace, is taken over early.
func TestLeaseDeadHolderShortcutOnlyOnThisMachine(t *testing.T) {
	self := CurrentOwner("publish")
	cases := map[string]func(o *Owner){
		"other host": func(o *Owner) { o.Host = "not-" + o.Host },
		"no host":    func(o *Owner) { o.Host = "" },
	}
	if self.BootID != "" {
		cases["other boot"] = func(o *Owner) { o.BootID = "another-boot" }
	}
	if self.PIDNamespace != "" {
		cases["other pid namespace"] = func(o *Owner) { o.PIDNamespace = "pid:[1]" }
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			s := localStore(t)
			holder := self
			holder.PID = deadPID(t)
			change(&holder)
			writeHolder(t, s, holder)
			wantWaits(t, s, waiterOptions())
		})
	}
	// A store that is not a folder of this machine (an S3 channel) never shortcuts.
	t.Run("not host-local", func(t *testing.T) {
		s := struct{ Store }{localStore(t)}
		holder := self
		holder.PID = deadPID(t)
		writeHolder(t, s, holder)
		wantWaits(t, s, waiterOptions())
	})
}

// Two waiters racing to replace a dead holder: one wins, the other waits for the winner.
func TestLeaseDeadHolderRaceHasOneWinner(t *testing.T) {
	ctx := context.Background()
	s := localStore(t)
	holder := CurrentOwner("publish")
	holder.PID = deadPID(t)
	writeHolder(t, s, holder)
	actx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	var (
		mu      sync.Mutex
		leases  []*Lease
		waiting int
		wg      sync.WaitGroup
	)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := Acquire(actx, s, waiterOptions())
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				leases = append(leases, l)
			case errors.Is(err, context.DeadlineExceeded):
				waiting++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(leases) != 1 || waiting != 3 {
		t.Fatalf("%d winners, %d still waiting", len(leases), waiting)
	}
	rec, _ := leases[0].Record()
	if rec.Generation != 8 {
		t.Errorf("generation %d", rec.Generation)
	}
	if err := leases[0].Check(ctx); err != nil {
		t.Error(err)
	}
	leases[0].Release(ctx)
}

// Older locks have none of the new owner fields; they still read.
func TestLeaseOwnerFieldsOptional(t *testing.T) {
	s := localStore(t)
	old := `{"version":1,"owner":{"host":"h","pid":3},"nonce":"n","generation":2,"ttl_seconds":30}`
	if _, err := s.Put(context.Background(), LockKey, strings.NewReader(old), int64(len(old)), PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	rec, _, err := ReadLease(context.Background(), s)
	if err != nil || rec.Owner.Host != "h" || rec.Owner.ProcessStart != "" {
		t.Fatalf("%+v %v", rec, err)
	}
}

func wantWaits(t *testing.T, s Store, opts LeaseOptions) {
	t.Helper()
	opts.HolderGone = func(prev LeaseRecord, _ time.Duration, why string) {
		t.Errorf("took over from %+v: %s", prev.Owner, why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	l, err := Acquire(ctx, s, opts)
	if err == nil {
		l.Release(context.Background())
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter did not wait: %v", err)
	}
}
