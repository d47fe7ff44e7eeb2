package storetest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/storetest"
)

// recorder is a testing.TB that records failures instead of failing the test. FailNow
// (Fatal, Fatalf) and SkipNow end the calling goroutine like testing.T's do, so a check
// runs in a goroutine of its own (runCheck).
type recorder struct {
	testing.TB // the real test, for TempDir, Cleanup, Name
	mu         sync.Mutex
	failures   []string
	skipped    bool
}

func (r *recorder) fail(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, msg)
}

func (r *recorder) Helper()                   {}
func (r *recorder) Log(args ...any)           {}
func (r *recorder) Logf(string, ...any)       {}
func (r *recorder) Error(args ...any)         { r.fail(fmt.Sprint(args...)) }
func (r *recorder) Errorf(f string, a ...any) { r.fail(fmt.Sprintf(f, a...)) }
func (r *recorder) Fail()                     { r.fail("Fail called") }
func (r *recorder) FailNow()                  { r.fail("FailNow called"); runtime.Goexit() }
func (r *recorder) Fatal(args ...any)         { r.fail(fmt.Sprint(args...)); runtime.Goexit() }
func (r *recorder) Fatalf(f string, a ...any) { r.fail(fmt.Sprintf(f, a...)); runtime.Goexit() }
func (r *recorder) Skip(args ...any)          { r.SkipNow() }
func (r *recorder) Skipf(string, ...any)      { r.SkipNow() }
func (r *recorder) SkipNow() {
	r.mu.Lock()
	r.skipped = true
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recorder) Skipped() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.skipped }
func (r *recorder) Failed() bool  { r.mu.Lock(); defer r.mu.Unlock(); return len(r.failures) > 0 }

// runCheck runs check against a recorder, in its own goroutine, and returns what it
// recorded.
func runCheck(t *testing.T, check func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return r
}

// Broken backends, each a folder store with one guarantee taken away.

// overwritingCreate ignores IfAbsent: a create overwrites an existing object.
type overwritingCreate struct{ channel.Store }

func (s overwritingCreate) Put(ctx context.Context, key string, body io.Reader, size int64, o channel.PutOptions) (channel.Object, error) {
	o.IfAbsent = false
	return s.Store.Put(ctx, key, body, size, o)
}

func (s overwritingCreate) PutFile(ctx context.Context, key, path string, o channel.PutOptions) (channel.Object, error) {
	o.IfAbsent = false
	return s.Store.PutFile(ctx, key, path, o)
}

// ignoringIfMatch ignores IfMatch: a compare-and-swap always swaps.
type ignoringIfMatch struct{ channel.Store }

func (s ignoringIfMatch) Put(ctx context.Context, key string, body io.Reader, size int64, o channel.PutOptions) (channel.Object, error) {
	o.IfMatch = ""
	return s.Store.Put(ctx, key, body, size, o)
}

// unconditionalDelete ignores the ETag of a delete (what MinIO does).
type unconditionalDelete struct{ channel.Store }

func (s unconditionalDelete) Delete(ctx context.Context, key, ifMatch string) error {
	return s.Store.Delete(ctx, key, "")
}

// pageDroppingList loses the last key of every page of 1,000.
type pageDroppingList struct{ channel.Store }

func (s pageDroppingList) List(ctx context.Context, prefix string, fn func(channel.Object) error) error {
	n := 0
	return s.Store.List(ctx, prefix, func(o channel.Object) error {
		n++
		if n%1000 == 0 {
			return nil
		}
		return fn(o)
	})
}

// inPlaceWrites writes an object as its bytes arrive, so a half-written object shows.
type inPlaceWrites struct{ channel.Store }

func (s inPlaceWrites) Put(ctx context.Context, key string, body io.Reader, size int64, o channel.PutOptions) (channel.Object, error) {
	var got []byte
	buf := make([]byte, 256<<10)
	for {
		n, err := body.Read(buf)
		got = append(got, buf[:n]...)
		if n > 0 {
			if _, err := s.Store.Put(ctx, key, bytes.NewReader(got), int64(len(got)), channel.PutOptions{}); err != nil {
				return channel.Object{}, err
			}
		}
		if err == io.EOF {
			return s.Stat(ctx, key)
		}
		if err != nil {
			return channel.Object{}, err
		}
	}
}

// rangeOffByOne reads ranges one byte late.
type rangeOffByOne struct{ channel.Store }

func (s rangeOffByOne) ReadRange(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	return s.Store.ReadRange(ctx, key, offset+1, length)
}

// sizeETag makes the ETag from the size only: an overwrite of the same size keeps it.
type sizeETag struct{ channel.Store }

func etagOf(o channel.Object) channel.Object { o.ETag = fmt.Sprintf(`"size-%d"`, o.Size); return o }

func (s sizeETag) Put(ctx context.Context, key string, body io.Reader, size int64, o channel.PutOptions) (channel.Object, error) {
	obj, err := s.Store.Put(ctx, key, body, size, o)
	return etagOf(obj), err
}
func (s sizeETag) Stat(ctx context.Context, key string) (channel.Object, error) {
	obj, err := s.Store.Stat(ctx, key)
	return etagOf(obj), err
}
func (s sizeETag) Get(ctx context.Context, key string) (io.ReadCloser, channel.Object, error) {
	rc, obj, err := s.Store.Get(ctx, key)
	return rc, etagOf(obj), err
}

// vagueNotFound reports a missing object with an error that is not ErrNotFound.
type vagueNotFound struct{ channel.Store }

func (s vagueNotFound) Stat(ctx context.Context, key string) (channel.Object, error) {
	obj, err := s.Store.Stat(ctx, key)
	if errors.Is(err, channel.ErrNotFound) {
		err = fmt.Errorf("stat %s: 404 Not Found", key)
	}
	return obj, err
}

// simulatedLoss is a folder store whose next write of a key lands and then answers as
// a retried request whose first response was lost would: with report.
type simulatedLoss struct {
	channel.Store
	report error
	mu     sync.Mutex
	armed  map[string]bool
	lost   int
}

func (s *simulatedLoss) faulty() storetest.Faulty {
	return storetest.Faulty{
		Store: s,
		LoseNextResponse: func(key string) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.armed[key] = true
		},
		Lost: func() int { s.mu.Lock(); defer s.mu.Unlock(); return s.lost },
	}
}

func (s *simulatedLoss) take(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.armed[key] {
		delete(s.armed, key)
		s.lost++
		return true
	}
	return false
}

func (s *simulatedLoss) Put(ctx context.Context, key string, body io.Reader, size int64, o channel.PutOptions) (channel.Object, error) {
	obj, err := s.Store.Put(ctx, key, body, size, o)
	if err == nil && s.take(key) {
		return channel.Object{}, s.report
	}
	return obj, err
}

func (s *simulatedLoss) PutFile(ctx context.Context, key, path string, o channel.PutOptions) (channel.Object, error) {
	obj, err := s.Store.PutFile(ctx, key, path, o)
	if err == nil && s.take(key) {
		return channel.Object{}, s.report
	}
	return obj, err
}

func faultyLocal(t *testing.T, report error) storetest.Faulty {
	s := &simulatedLoss{Store: openLocal(t), report: report, armed: map[string]bool{}}
	return s.faulty()
}

// The suite catches broken backends: each check passes on the folder store and fails on
// the folder store with one guarantee taken away.
func TestSuiteCatchesBrokenBackends(t *testing.T) {
	type wrap func(channel.Store) channel.Store
	cases := []struct {
		name   string
		broken wrap
		checks map[string]func(testing.TB, channel.Store)
	}{
		{"create-if-absent overwrites", func(s channel.Store) channel.Store { return overwritingCreate{s} }, map[string]func(testing.TB, channel.Store){
			"CheckCreateIfAbsent":          storetest.CheckCreateIfAbsent,
			"CheckCreateIfAbsentRace":      func(t testing.TB, s channel.Store) { storetest.CheckCreateIfAbsentRace(t, s, 16) },
			"CheckPutFileLarge":            func(t testing.TB, s channel.Store) { storetest.CheckPutFileLarge(t, s, 64<<10, false) },
			"CheckLeaseSecondAcquireWaits": storetest.CheckLeaseSecondAcquireWaits,
		}},
		{"compare-and-swap ignores the ETag", func(s channel.Store) channel.Store { return ignoringIfMatch{s} }, map[string]func(testing.TB, channel.Store){
			"CheckCompareAndSwap":        storetest.CheckCompareAndSwap,
			"CheckCompareAndSwapRace":    func(t testing.TB, s channel.Store) { storetest.CheckCompareAndSwapRace(t, s, 16) },
			"CheckCompareAndSwapCounter": func(t testing.TB, s channel.Store) { storetest.CheckCompareAndSwapCounter(t, s, 4, 5) },
			"CheckLeaseFence":            storetest.CheckLeaseFence,
		}},
		{"delete ignores the ETag", func(s channel.Store) channel.Store { return unconditionalDelete{s} }, map[string]func(testing.TB, channel.Store){
			"CheckConditionalDelete":           storetest.CheckConditionalDelete,
			"CheckLeaseReleaseSparesSuccessor": storetest.CheckLeaseReleaseSparesSuccessor,
		}},
		{"list drops the last key of each page", func(s channel.Store) channel.Store { return pageDroppingList{s} }, map[string]func(testing.TB, channel.Store){
			"CheckListManyPages": func(t testing.TB, s channel.Store) { storetest.CheckListManyPages(t, s, 1100) },
		}},
		{"half-written objects are visible", func(s channel.Store) channel.Store { return inPlaceWrites{s} }, map[string]func(testing.TB, channel.Store){
			"CheckListNoPartialWrites": storetest.CheckListNoPartialWrites,
		}},
		{"ranged reads one byte late", func(s channel.Store) channel.Store { return rangeOffByOne{s} }, map[string]func(testing.TB, channel.Store){
			"CheckRanges": storetest.CheckRanges,
		}},
		{"ETag from the size only", func(s channel.Store) channel.Store { return sizeETag{s} }, map[string]func(testing.TB, channel.Store){
			"CheckRoundTrip": func(t testing.TB, s channel.Store) { storetest.CheckRoundTrip(t, s, false) },
		}},
		{"missing object not ErrNotFound", func(s channel.Store) channel.Store { return vagueNotFound{s} }, map[string]func(testing.TB, channel.Store){
			"CheckNotFound": storetest.CheckNotFound,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for name, check := range c.checks {
				if r := runCheck(t, func(tb testing.TB) { check(tb, openLocal(t)) }); r.Failed() || r.Skipped() {
					t.Errorf("%s fails on the sound folder store: %q", name, r.failures)
					continue
				}
				r := runCheck(t, func(tb testing.TB) { check(tb, c.broken(openLocal(t))) })
				if !r.Failed() {
					t.Errorf("%s passed on a store whose %s", name, c.name)
					continue
				}
				t.Logf("%s caught it: %s", name, firstLine(r.failures[0]))
			}
		})
	}
}

// The lost-response checks pass when the write is recognisable (it landed and a retry
// answered 412, as S3 does) and fail when the store answers with anything else, or when
// no response was lost at all.
func TestLostResponseChecksCatchBrokenBackends(t *testing.T) {
	checks := map[string]func(testing.TB, storetest.Faulty){
		"CheckLostCreateResponse":         storetest.CheckLostCreateResponse,
		"CheckLostCompareAndSwapResponse": storetest.CheckLostCompareAndSwapResponse,
		"CheckLostPutFileResponse":        func(t testing.TB, f storetest.Faulty) { storetest.CheckLostPutFileResponse(t, f, 64<<10, false) },
	}
	for name, check := range checks {
		t.Run(name, func(t *testing.T) {
			retried := fmt.Errorf("retried request: %w", channel.ErrPreconditionFailed)
			if r := runCheck(t, func(tb testing.TB) { check(tb, faultyLocal(t, retried)) }); r.Failed() {
				t.Errorf("fails on a store that answers a lost response with 412: %q", r.failures)
			}
			r := runCheck(t, func(tb testing.TB) { check(tb, faultyLocal(t, errors.New("read: connection reset by peer"))) })
			if !r.Failed() {
				t.Errorf("passed on a store that answers a write that landed with a plain error")
			} else {
				t.Logf("caught a store that answers a landed write with an error: %s", firstLine(r.failures[0]))
			}
			noFault := faultyLocal(t, nil)
			noFault.LoseNextResponse = func(string) {}
			if r := runCheck(t, func(tb testing.TB) { check(tb, noFault) }); !r.Failed() {
				t.Errorf("passed although no response was lost")
			}
		})
	}
	t.Run("CheckLostLeaseAcquireResponse", func(t *testing.T) {
		retried := fmt.Errorf("retried request: %w", channel.ErrPreconditionFailed)
		if r := runCheck(t, func(tb testing.TB) { storetest.CheckLostLeaseAcquireResponse(tb, faultyLocal(t, retried)) }); r.Failed() {
			t.Errorf("fails on a store that answers a lost response with 412: %q", r.failures)
		}
	})
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
