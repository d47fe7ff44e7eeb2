package channel

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// The channel lease serialises index runs on one channel across machines, using only the
// store's conditional writes:
//
//   - acquire: create .condachan/lock.json if absent;
//   - every write of the lock carries a fresh nonce, so every write has a new ETag and an
//     ETag seen twice really is the same write (no ABA);
//   - a waiter takes over a lease only when the lock's ETag stayed the same for the
//     holder's TTL plus a grace period, timed on the waiter's own monotonic clock (clocks
//     of different machines are never compared), with a compare-and-swap on that ETag;
//     on a folder channel it takes over at once, with the same compare-and-swap, when
//     the holder was a process of this machine that no longer exists (owner.go);
//   - the holder heartbeats every TTL/3 with a compare-and-swap and cancels its work as
//     soon as a heartbeat shows that the lease is gone;
//   - release is a delete conditional on the holder's last ETag, so it can never remove a
//     successor's lease.
//
// A holder that lost its lease without noticing (paused, partitioned) can still try to
// write repodata; the fence stops it: every repodata write is itself a compare-and-swap
// on the ETag read at the start of the run (see package index).

// LockKey is the lease object.
const LockKey = InternalPrefix + "lock.json"

// ErrLeaseLost cancels a holder's work when its lease was taken over.
var ErrLeaseLost = errors.New("channel lease lost: another process took it over")

// Owner identifies a lease holder for people looking at `condachan lock status`.
type Owner struct {
	Host      string `json:"host"`
	PID       int    `json:"pid"`
	User      string `json:"user,omitempty"`
	Command   string `json:"command,omitempty"`
	FarmID    string `json:"deadline_farm_id,omitempty"`
	QueueID   string `json:"deadline_queue_id,omitempty"`
	JobID     string `json:"deadline_job_id,omitempty"`
	SessionID string `json:"deadline_session_id,omitempty"`
	TaskID    string `json:"deadline_task_id,omitempty"`
	// ProcessStart identifies when the holder process started (Linux: clock ticks after
	// boot; Windows: creation time), so that a waiter on the same machine does not take
	// a reused PID for the holder. BootID (Linux) and PIDNamespace (Linux) say in which
	// boot and which PID namespace the PID means something. Empty when unknown, and in
	// locks written by older versions.
	ProcessStart string `json:"process_start,omitempty"`
	BootID       string `json:"boot_id,omitempty"`
	PIDNamespace string `json:"pid_namespace,omitempty"`
}

// CurrentOwner describes this process, with Deadline Cloud ids when it runs as a job.
func CurrentOwner(command string) Owner {
	me := thisMachine()
	return Owner{
		Host: me.Host, PID: me.PID, ProcessStart: me.ProcessStart, BootID: me.BootID, PIDNamespace: me.PIDNamespace,
		User: firstEnv("USER", "USERNAME"), Command: command,
		FarmID: os.Getenv("DEADLINE_FARM_ID"), QueueID: os.Getenv("DEADLINE_QUEUE_ID"),
		JobID: os.Getenv("DEADLINE_JOB_ID"), SessionID: os.Getenv("DEADLINE_SESSION_ID"),
		TaskID: os.Getenv("DEADLINE_TASK_ID"),
	}
}

// LeaseRecord is the content of lock.json.
type LeaseRecord struct {
	Version    int       `json:"version"`
	Owner      Owner     `json:"owner"`
	Nonce      string    `json:"nonce"`
	Generation int64     `json:"generation"`
	TTLSeconds float64   `json:"ttl_seconds"`
	AcquiredAt time.Time `json:"acquired_at"` // the holder's wall clock, for people only
	RenewedAt  time.Time `json:"renewed_at"`
}

// TTL is how long the lease stays valid without a heartbeat; the holder renews it every
// TTL/3, so a waiter that sees no change for TTL (plus a grace) knows the holder is gone.
func (r LeaseRecord) TTL() time.Duration { return time.Duration(r.TTLSeconds * float64(time.Second)) }

// LeaseOptions tune the lease.
type LeaseOptions struct {
	// TTL is how long a lease stays valid without a heartbeat (default 30s).
	TTL time.Duration
	// Grace is added to a holder's TTL before a waiter takes over (default TTL/2), to
	// absorb scheduling delays and clock-rate differences. A holder with a longer TTL than
	// the waiter's gets at least half its own TTL.
	Grace time.Duration
	// Poll is how often a waiter looks at the lock (default 1s, with jitter).
	Poll  time.Duration
	Owner Owner
	// Waiting, when set, is told about the holder a waiter is waiting for (each time it
	// changes) so that the CLI can say who it is waiting for.
	Waiting func(holder LeaseRecord, obj Object)
	// TookOver, when set, is told when this process took over an expired lease, and
	// also when it took over at once from a dead holder if HolderGone is nil.
	TookOver func(previous LeaseRecord, waited time.Duration)
	// HolderGone, when set, is told (instead of TookOver) when this process took over at
	// once, without waiting for the lease to expire, a lease of a folder channel whose
	// holder was a process of this machine that no longer exists (see owner.go); why says
	// so, e.g. "its process 4242 on render-07 no longer exists".
	HolderGone func(previous LeaseRecord, waited time.Duration, why string)
}

func (o *LeaseOptions) defaults() {
	if o.TTL <= 0 {
		o.TTL = 30 * time.Second
	}
	if o.Grace <= 0 {
		o.Grace = o.TTL / 2
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Owner.Host == "" && o.Owner.PID == 0 {
		o.Owner = CurrentOwner("")
	}
}

// Lease is a held channel lease.
type Lease struct {
	store  Store
	opts   LeaseOptions
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   chan struct{}
	done   chan struct{}

	// renewing is held for the whole of a renewal and of a Check, so that a Check never
	// sees the store ahead of the ETag it compares with.
	renewing sync.Mutex
	// unconfirmed holds the records of writes whose outcome is unknown (a timeout, an
	// error after the request was sent): if one of them landed, the lock holds its
	// nonce, and the lease is still ours. Guarded by renewing.
	unconfirmed map[string]LeaseRecord

	mu     sync.Mutex
	etag   string
	record LeaseRecord
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func newNonce() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Acquire waits for the channel lease and holds it until Release. The lease's Context is
// cancelled (with ErrLeaseLost as its cause) when the lease is lost.
func Acquire(ctx context.Context, store Store, opts LeaseOptions) (*Lease, error) {
	opts.defaults()
	var (
		watched      string // ETag of the lock as last seen
		watchedSince time.Time
		watchedRec   LeaseRecord
		hostLocal    = isHostLocal(store)
		self         Owner // this machine, looked up when first needed
	)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec := LeaseRecord{Version: 1, Owner: opts.Owner, Nonce: newNonce(), Generation: 1, TTLSeconds: opts.TTL.Seconds(), AcquiredAt: time.Now().UTC()}
		rec.RenewedAt = rec.AcquiredAt
		if watched != "" {
			rec.Generation = watchedRec.Generation + 1
		}
		obj, err := writeLock(ctx, store, rec, PutOptions{IfAbsent: true})
		if err == nil {
			return startLease(ctx, store, opts, rec, obj.ETag), nil
		}
		if !errors.Is(err, ErrPreconditionFailed) {
			// The create may have landed before the error (a timeout on the response):
			// a lock with our nonce is ours, and leaving it would stall every waiter.
			if cur, curObj, rerr := ReadLease(ctx, store); rerr == nil && cur.Nonce == rec.Nonce {
				return startLease(ctx, store, opts, rec, curObj.ETag), nil
			}
			return nil, fmt.Errorf("acquire lease %s: %w", store, err)
		}
		cur, curObj, err := ReadLease(ctx, store)
		switch {
		case errors.Is(err, ErrNotFound):
			continue // released between our write and our read
		case err != nil && !errors.Is(err, errBadLease):
			return nil, fmt.Errorf("read lease %s: %w", store, err)
		}
		if cur.Nonce == rec.Nonce { // our create succeeded; its response was lost
			return startLease(ctx, store, opts, rec, curObj.ETag), nil
		}
		if curObj.ETag != watched {
			watched, watchedSince, watchedRec = curObj.ETag, time.Now(), cur
			if opts.Waiting != nil {
				opts.Waiting(cur, curObj)
			}
		}
		ttl := watchedRec.TTL()
		if ttl <= 0 {
			ttl = opts.TTL // unreadable lock: treat it with our own TTL
		}
		grace := max(opts.Grace, ttl/2)
		waited := time.Since(watchedSince)
		var gone string // why the holder is known to be dead before its lease expires
		if waited < ttl+grace && hostLocal && watchedRec.Owner.Host != "" {
			if self.Host == "" {
				self = thisMachine()
			}
			gone = deadHolderReason(watchedRec.Owner, self)
		}
		if waited >= ttl+grace || gone != "" {
			rec.Generation = watchedRec.Generation + 1
			obj, err := writeLock(ctx, store, rec, PutOptions{IfMatch: watched})
			if err == nil {
				switch {
				case gone != "" && opts.HolderGone != nil:
					opts.HolderGone(watchedRec, waited, gone)
				case opts.TookOver != nil:
					opts.TookOver(watchedRec, waited)
				}
				return startLease(ctx, store, opts, rec, obj.ETag), nil
			}
			// Refused, or failed in a way that leaves the outcome unknown: the lock says.
			if again, againObj, rerr := ReadLease(ctx, store); rerr == nil && again.Nonce == rec.Nonce {
				return startLease(ctx, store, opts, rec, againObj.ETag), nil
			}
			if !errors.Is(err, ErrPreconditionFailed) {
				return nil, fmt.Errorf("take over lease %s: %w", store, err)
			}
			// Someone else took it, or the holder came back: keep watching.
		}
		if err := sleepJitter(ctx, opts.Poll); err != nil {
			return nil, err
		}
	}
}

func sleepJitter(ctx context.Context, d time.Duration) error {
	var b [1]byte
	rand.Read(b[:])
	d = d/2 + time.Duration(int64(d)*int64(b[0])/255)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

var errBadLease = errors.New("unreadable lock.json")

// ReadLease reads the current lock. An unreadable lock still returns its Object (and
// an error wrapping errBadLease), so that it can be taken over by ETag.
func ReadLease(ctx context.Context, store Store) (LeaseRecord, Object, error) {
	data, obj, err := ReadAll(ctx, store, LockKey)
	if err != nil {
		return LeaseRecord{}, obj, err
	}
	var rec LeaseRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return LeaseRecord{}, obj, fmt.Errorf("%w: %v", errBadLease, err)
	}
	return rec, obj, nil
}

// LeaseStatus is the channel lease as ReadLeaseStatus found it.
type LeaseStatus struct {
	// Held is false when there is no lock.json: the lease is free.
	Held   bool
	Record LeaseRecord // zero when Unreadable is set
	Object Object      // the lock.json object: its ETag breaks the lease
	// Unreadable is why a lock.json that exists could not be read as a lease.
	Unreadable error
}

// ReadLeaseStatus reads the lease for people (lock status, lock break): free, held, or
// held with a lock.json that cannot be read. An error is returned only when the lock
// could not be looked at at all.
func ReadLeaseStatus(ctx context.Context, store Store) (LeaseStatus, error) {
	rec, obj, err := ReadLease(ctx, store)
	if errors.Is(err, ErrNotFound) {
		return LeaseStatus{}, nil
	}
	if err != nil && obj.ETag == "" {
		return LeaseStatus{}, err
	}
	return LeaseStatus{Held: true, Record: rec, Object: obj, Unreadable: err}, nil
}

// MarshalJSON writes the status as `lock status --json` shows it: {"held": false}, or
// the lease with its lock.json's ETag and time, and why it is unreadable ("" if it is
// not). Keys are in sorted order and HTML characters are kept as they are.
func (ls LeaseStatus) MarshalJSON() ([]byte, error) {
	var v any = struct {
		Held bool `json:"held"`
	}{}
	if ls.Held {
		unreadable := ""
		if ls.Unreadable != nil {
			unreadable = ls.Unreadable.Error()
		}
		v = struct {
			Error    string      `json:"error"`
			ETag     string      `json:"etag"`
			Held     bool        `json:"held"`
			Lease    LeaseRecord `json:"lease"`
			Modified time.Time   `json:"modified"`
		}{unreadable, ls.Object.ETag, true, ls.Record, ls.Object.Modified}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func writeLock(ctx context.Context, store Store, rec LeaseRecord, opts PutOptions) (Object, error) {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return Object{}, err
	}
	opts.ContentType = "application/json"
	opts.CacheControl = "no-store"
	return store.Put(ctx, LockKey, bytes.NewReader(data), int64(len(data)), opts)
}

func startLease(ctx context.Context, store Store, opts LeaseOptions, rec LeaseRecord, etag string) *Lease {
	lctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	l := &Lease{store: store, opts: opts, ctx: lctx, cancel: cancel, stop: make(chan struct{}), done: make(chan struct{}), etag: etag, record: rec}
	go l.heartbeat()
	return l
}

// Context is cancelled, with ErrLeaseLost as its cause, when the lease is lost.
func (l *Lease) Context() context.Context { return l.ctx }

// Record returns the lease as last written by this holder.
func (l *Lease) Record() (LeaseRecord, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.record, l.etag
}

// Check confirms that the lock still holds this holder's last write.
func (l *Lease) Check(ctx context.Context) error {
	if err := context.Cause(l.ctx); err != nil {
		return err
	}
	l.renewing.Lock()
	defer l.renewing.Unlock()
	l.mu.Lock()
	etag := l.etag
	l.mu.Unlock()
	obj, err := l.store.Stat(ctx, LockKey)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			l.lose()
			return ErrLeaseLost
		}
		return err
	}
	if obj.ETag == etag {
		return nil
	}
	// A renewal whose outcome was unknown may have landed after all.
	cur, curObj, err := ReadLease(ctx, l.store)
	if err == nil && l.adoptUnconfirmed(cur, curObj) {
		return nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, errBadLease) {
		return err
	}
	l.lose()
	return ErrLeaseLost
}

// adoptUnconfirmed takes cur as this holder's latest write when it is one of the writes
// whose outcome was unknown. The caller holds renewing.
func (l *Lease) adoptUnconfirmed(cur LeaseRecord, obj Object) bool {
	rec, ok := l.unconfirmed[cur.Nonce]
	if !ok {
		return false
	}
	l.mu.Lock()
	l.record, l.etag = rec, obj.ETag
	l.mu.Unlock()
	clear(l.unconfirmed)
	return true
}

func (l *Lease) lose() { l.cancel(ErrLeaseLost) }

// heartbeat renews the lease every TTL/3 until Release or until the lease is lost.
func (l *Lease) heartbeat() {
	defer close(l.done)
	interval := l.opts.TTL / 3
	lastRenewed := time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		// Waiters time the lease from when they see the renewal, which is after it was
		// sent: timing it from the send keeps this holder's reckoning the earlier one.
		sent := time.Now()
		err := l.renew()
		switch {
		case err == nil:
			lastRenewed = sent
		case errors.Is(err, ErrLeaseLost):
			l.lose()
			return
		case time.Since(lastRenewed) > l.opts.TTL-interval/2:
			// The store is unreachable and the lease is about to expire for others:
			// stop the work before a waiter can take over.
			l.cancel(fmt.Errorf("%w (could not renew it: %v)", ErrLeaseLost, err))
			return
		}
	}
}

func (l *Lease) renew() error {
	l.renewing.Lock()
	defer l.renewing.Unlock()
	l.mu.Lock()
	prev, etag := l.record, l.etag
	l.mu.Unlock()
	rec := prev
	rec.Nonce = newNonce()
	rec.RenewedAt = time.Now().UTC()
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.TTL/3)
	defer cancel()
	obj, err := writeLock(ctx, l.store, rec, PutOptions{IfMatch: etag})
	if err == nil {
		l.mu.Lock()
		l.record, l.etag = rec, obj.ETag
		l.mu.Unlock()
		clear(l.unconfirmed)
		return nil
	}
	// The outcome is unknown: a 412 may be our own write answering a retried request,
	// and a timeout or a 5xx may come after the write landed. The lock tells.
	if l.unconfirmed == nil {
		l.unconfirmed = map[string]LeaseRecord{}
	}
	l.unconfirmed[rec.Nonce] = rec
	cur, curObj, rerr := ReadLease(ctx, l.store)
	switch {
	case rerr == nil && l.adoptUnconfirmed(cur, curObj):
		return nil
	case rerr == nil && cur.Nonce == prev.Nonce && !errors.Is(err, ErrPreconditionFailed):
		return err // our last write stands; this one failed: try again next beat
	case rerr == nil, errors.Is(rerr, ErrNotFound), errors.Is(rerr, errBadLease):
		return ErrLeaseLost
	case errors.Is(err, ErrPreconditionFailed):
		return rerr
	default:
		return err
	}
}

// Release stops the heartbeat and deletes the lock if it is still this holder's.
func (l *Lease) Release(ctx context.Context) error {
	select {
	case <-l.stop:
		return nil // already released
	default:
		close(l.stop)
	}
	<-l.done
	defer l.cancel(context.Canceled)
	if context.Cause(l.ctx) != nil && errors.Is(context.Cause(l.ctx), ErrLeaseLost) {
		return nil // nothing of ours to delete
	}
	l.mu.Lock()
	etag := l.etag
	l.mu.Unlock()
	err := l.store.Delete(ctx, LockKey, etag)
	if !errors.Is(err, ErrPreconditionFailed) {
		return err
	}
	// Refused: a successor holds it now (leave it alone), or a renewal whose outcome was
	// unknown landed after all, and the lock is still ours under another ETag.
	cur, curObj, rerr := ReadLease(ctx, l.store)
	if rerr != nil || cur.Nonce == "" {
		return nil
	}
	l.renewing.Lock()
	_, ours := l.unconfirmed[cur.Nonce]
	l.renewing.Unlock()
	if last, _ := l.Record(); !ours && cur.Nonce != last.Nonce {
		return nil
	}
	if err := l.store.Delete(ctx, LockKey, curObj.ETag); err != nil && !errors.Is(err, ErrPreconditionFailed) {
		return err
	}
	return nil
}

// BreakLease deletes the lock if it still has the ETag the user was shown, for
// `condachan lock break` after a crashed holder. The conditional delete makes sure a
// lease someone acquired in the meantime is not the one removed.
func BreakLease(ctx context.Context, store Store, etag string) error {
	if err := store.Delete(ctx, LockKey, etag); err != nil {
		if errors.Is(err, ErrPreconditionFailed) {
			return fmt.Errorf("the lease changed since it was shown (a new holder or a heartbeat): not broken; look again with `condachan lock status`")
		}
		return err
	}
	return nil
}
