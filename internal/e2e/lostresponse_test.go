//go:build unix

package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/internal/s3test"
	"github.com/condachan/condachan/publish"
)

// conditionalPut matches PUTs of a key that carry the given conditional header.
func conditionalPut(suffix, header string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, suffix) && r.Header.Get(header) != "" && !r.URL.Query().Has("uploadId")
	}
}

// A proxy drops the response to successful conditional PUTs: the SDK retries, and the
// retry gets 412 because the first attempt took effect. condachan must recognise its own
// write (by the nonce it put in it, or the hashes) instead of thinking it lost the lease,
// the upload or the index write.
func TestLostResponsesToConditionalWrites(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	proxy := srv.NewProxy(t)
	store := srv.StoreVia(t, proxy, bucket, "Conda/Default")
	direct := srv.Store(t, bucket, "Conda/Default")

	// Acquire: the create of lock.json succeeds, its response is lost.
	proxy.DropResponseOnce(conditionalPut(channel.LockKey, "If-None-Match"))
	lease, err := channel.Acquire(ctx, store, channel.LeaseOptions{TTL: 3 * time.Second, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("acquire after a lost response: %v", err)
	}
	// Heartbeat: a renewal succeeds, its response is lost.
	proxy.DropResponseOnce(conditionalPut(channel.LockKey, "If-Match"))
	time.Sleep(3500 * time.Millisecond) // three heartbeats
	if err := lease.Context().Err(); err != nil {
		t.Fatalf("lease lost after a lost heartbeat response: %v", context.Cause(lease.Context()))
	}
	if err := lease.Check(ctx); err != nil {
		t.Fatalf("check: %v", err)
	}
	// An index write: repodata.json is created, the response is lost.
	f := &fixture{pkgDir: t.TempDir()}
	pkg := f.pkg(t, "lostresponse")
	proxy.DropResponseOnce(conditionalPut("linux-64/repodata.json", "If-None-Match"))
	if _, err := direct.PutFile(ctx, "linux-64/lostresponse-1.0-0.conda", pkg, channel.PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := index.Run(ctx, store, index.Options{Lease: lease}); err != nil {
		t.Fatalf("index after a lost repodata response: %v", err)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// A package upload: the object is created, the response is lost.
	pkg2 := f.pkg(t, "lostupload")
	proxy.DropResponseOnce(conditionalPut("linux-64/lostupload-1.0-0.conda", "If-None-Match"))
	res, err := publish.Publish(ctx, store, []string{pkg2}, publish.Options{Lease: channel.LeaseOptions{TTL: 2 * time.Second, Poll: 50 * time.Millisecond}})
	if err != nil {
		t.Fatalf("publish after a lost upload response: %v", err)
	}
	if dropped := proxy.Dropped(); dropped != 4 {
		t.Errorf("%d responses dropped, want 4 (a rule did not match)", dropped)
	}
	t.Logf("upload status after the lost response: %s", res.Uploads[0].Status)
	fx := &fixture{store: direct}
	recs := fx.assertChannel(t)
	for _, name := range []string{"lostresponse-1.0-0.conda", "lostupload-1.0-0.conda"} {
		if _, ok := recs[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	fx.assertLeaseFree(t)
}
