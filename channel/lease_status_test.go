package channel

import (
	"context"
	"strings"
	"testing"
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
