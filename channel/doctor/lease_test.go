package doctor_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/doctor"
)

// putLease writes a lease record as its holder would.
func putLease(t *testing.T, s channel.Store, rec channel.LeaseRecord) {
	t.Helper()
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(context.Background(), channel.LockKey, strings.NewReader(string(data)), int64(len(data)), channel.PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
}

func TestLeaseCheckStale(t *testing.T) {
	s, err := channel.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	putLease(t, s, channel.LeaseRecord{Version: 1, Owner: channel.Owner{Host: "dead-host", PID: 9}, Nonce: "0123456789abcdef", Generation: 3, TTLSeconds: 0.01})
	time.Sleep(50 * time.Millisecond)
	c := doctor.LeaseCheck(ctx, s, time.Second)
	if c.Status != doctor.CheckWarn || !strings.Contains(c.Detail, "dead-host pid 9") || !strings.Contains(c.Detail, "probably died") || !strings.Contains(c.Fix, "lock break") {
		t.Errorf("stale lease: %+v", c)
	}
	if _, err := s.Put(ctx, channel.LockKey, strings.NewReader("not json"), 8, channel.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if c := doctor.LeaseCheck(ctx, s, time.Second); c.Status != doctor.CheckWarn || !strings.Contains(c.Detail, "unreadable") {
		t.Errorf("unreadable lease: %+v", c)
	}
}
