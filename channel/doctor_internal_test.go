package channel

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestLeaseCheckStale(t *testing.T) {
	s := localStore(t)
	ctx := context.Background()
	rec := LeaseRecord{Version: 1, Owner: Owner{Host: "dead-host", PID: 9}, Nonce: newNonce(), Generation: 3, TTLSeconds: 0.01}
	if _, err := writeLock(ctx, s, rec, PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	c := LeaseCheck(ctx, s, time.Second)
	if c.Status != CheckWarn || !strings.Contains(c.Detail, "dead-host pid 9") || !strings.Contains(c.Detail, "probably died") || !strings.Contains(c.Fix, "lock break") {
		t.Errorf("stale lease: %+v", c)
	}
	if _, err := s.Put(ctx, LockKey, strings.NewReader("not json"), 8, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if c := LeaseCheck(ctx, s, time.Second); c.Status != CheckWarn || !strings.Contains(c.Detail, "unreadable") {
		t.Errorf("unreadable lease: %+v", c)
	}
}
