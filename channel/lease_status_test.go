package channel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestReadLeaseStatus(t *testing.T) {
	ctx := context.Background()
	s := localStore(t)
	if st, err := ReadLeaseStatus(ctx, s); err != nil || st.Held {
		t.Fatalf("free lease: %+v %v", st, err)
	}
	l, err := Acquire(ctx, s, fastLease("a"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadLeaseStatus(ctx, s)
	if err != nil || !st.Held || st.Unreadable != nil || st.Record.Owner.Host != "a" || st.Object.ETag == "" {
		t.Fatalf("held lease: %+v %v", st, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, LockKey, strings.NewReader("{not json"), 9, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err = ReadLeaseStatus(ctx, s)
	if err != nil || !st.Held || st.Unreadable == nil || st.Object.ETag == "" {
		t.Fatalf("unreadable lease: %+v %v", st, err)
	}
}

func TestRequests(t *testing.T) {
	if r := Requests(localStore(t)); r != nil {
		t.Errorf("a folder counts requests: %+v", r)
	}
	var st RequestStats
	st.Total.Add(3)
	st.Get.Add(2)
	st.Put.Add(1)
	if c := st.Counts(); c != (RequestCounts{Total: 3, Get: 2, Put: 1}) {
		t.Errorf("Counts() = %+v", c)
	}
}

// The status marshals as `lock status --json` has always shown it: the keys of a map,
// in sorted order, with an unreadable lease's error as a string.
func TestLeaseStatusJSON(t *testing.T) {
	free, err := json.Marshal(LeaseStatus{})
	if err != nil || string(free) != `{"held":false}` {
		t.Errorf("free: %s %v", free, err)
	}
	modified := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := LeaseRecord{Generation: 3, Owner: Owner{Host: "<h>", PID: 7}}
	held := LeaseStatus{Held: true, Record: rec, Object: Object{ETag: `"e"`, Modified: modified}, Unreadable: errors.New("bad <json>")}
	got, err := json.Marshal(held)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(map[string]any{"held": true, "lease": rec, "etag": `"e"`, "modified": modified, "error": "bad <json>"})
	if !bytes.Equal(got, want) {
		t.Errorf("held:\n got %s\nwant %s", got, want)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(held)
	if !strings.Contains(b.String(), `"error":"bad <json>"`) {
		t.Errorf("HTML characters escaped: %s", b.String())
	}
	held.Unreadable = nil
	if got, _ := json.Marshal(held); !strings.Contains(string(got), `"error":""`) {
		t.Errorf("readable: %s", got)
	}
}
