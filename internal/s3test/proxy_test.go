package s3test_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/condachan/condachan/channel"
	s3store "github.com/condachan/condachan/channel/s3"
	"github.com/condachan/condachan/internal/s3test"
)

// oddKey has characters that SigV4 path canonicalization and URL escaping care about.
const oddKey = "linux-64/a b+c=d&e;f,g@h$i!j'k(l)m*n~o%p ü.conda"

func TestProxyForwards(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	p := srv.NewProxy(t)
	o := srv.Options()
	o.EndpointURL = p.URL
	o.MultipartThreshold = 5 << 20
	o.PartSize = 5 << 20
	st := srv.StoreWith(t, bucket, "Conda/Default", o)
	direct := srv.Store(t, bucket, "Conda/Default")
	ctx := testContext(t)

	first := mustPut(t, st, oddKey, "hello", channel.PutOptions{IfAbsent: true, Metadata: map[string]string{"sha256": "x"}})
	_, err := put(t, st, oddKey, "again", channel.PutOptions{IfAbsent: true})
	wantPrecondition(t, "IfAbsent through the proxy", err)
	if obj, err := direct.Stat(ctx, oddKey); err != nil || obj.ETag != first.ETag || obj.Metadata["sha256"] != "x" {
		t.Fatalf("direct stat: %+v %v", obj, err)
	}
	if body, obj := read(t, st, oddKey); body != "hello" || obj.ETag != first.ETag {
		t.Fatalf("get through the proxy: %q %+v", body, obj)
	}
	if data, err := st.ReadRange(ctx, oddKey, 1, 3); err != nil || string(data) != "ell" {
		t.Fatalf("range through the proxy: %q %v", data, err)
	}
	var keys []string
	if err := st.List(ctx, "linux-64/a b", func(o channel.Object) error { keys = append(keys, o.Key); return nil }); err != nil || len(keys) != 1 || keys[0] != oddKey {
		t.Fatalf("list through the proxy: %q %v", keys, err)
	}
	wantPrecondition(t, "stale conditional delete through the proxy", st.Delete(ctx, oddKey, `"0123"`))

	path, sum := writeRandomFile(t, 6<<20)
	big, err := st.PutFile(ctx, "linux-64/big.conda", path, channel.PutOptions{IfAbsent: true})
	if err != nil {
		t.Fatalf("multipart upload through the proxy: %v", err)
	}
	rc, _, err := direct.Get(ctx, "linux-64/big.conda")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	io.Copy(h, rc)
	rc.Close()
	if string(h.Sum(nil)) != string(sum[:]) {
		t.Fatal("multipart upload through the proxy stored other bytes")
	}
	if err := st.Delete(ctx, "linux-64/big.conda", big.ETag); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, oddKey, first.ETag); err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Stat(ctx, oddKey); !errors.Is(err, channel.ErrNotFound) {
		t.Fatalf("stat after delete through the proxy: %v", err)
	}
	if got, want := int64(p.Requests()), st.Stats().Total.Load(); got != want {
		t.Errorf("proxy saw %d requests, the client sent %d", got, want)
	}
	if p.Dropped() != 0 || p.Stripped() != 0 {
		t.Errorf("dropped %d, stripped %d without rules", p.Dropped(), p.Stripped())
	}
}

// TestSDKSignsConditionalHeaders records what the SDK's SigV4 signature covers: the
// conditional headers are signed, which is why StripHeader must sign again.
func TestSDKSignsConditionalHeaders(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	p := srv.NewProxy(t)
	st := srv.StoreVia(t, p, srv.NewBucket(t), "")
	var mu sync.Mutex
	signed := map[string]string{}
	p.DropResponseOnce(func(r *http.Request) bool { // records, never matches
		mu.Lock()
		defer mu.Unlock()
		_, sh, _ := strings.Cut(r.Header.Get("Authorization"), "SignedHeaders=")
		sh, _, _ = strings.Cut(sh, ",")
		signed[r.Method+" "+r.Header.Get("If-Match")+r.Header.Get("If-None-Match")] = sh
		return false
	})
	obj := mustPut(t, st, "k", "v", channel.PutOptions{IfAbsent: true})
	mustPut(t, st, "k", "w", channel.PutOptions{IfMatch: obj.ETag})
	wantPrecondition(t, "stale delete", st.Delete(testContext(t), "k", obj.ETag))
	mu.Lock()
	defer mu.Unlock()
	for req, header := range map[string]string{"PUT *": "if-none-match", "PUT " + obj.ETag: "if-match", "DELETE " + obj.ETag: "if-match"} {
		sh, ok := signed[req]
		if !ok {
			t.Fatalf("no %s request seen: %v", req, signed)
		}
		if !strings.Contains(";"+sh+";", ";"+header+";") {
			t.Errorf("%s: %s is not signed: SignedHeaders=%s", req, header, sh)
		}
		t.Logf("%s: SignedHeaders=%s", req, sh)
	}
}

// TestProxyDropResponse is the scenario the lease code must disambiguate: a conditional
// write takes effect, its response is lost, the SDK retries, and the retry loses to the
// write itself.
func TestProxyDropResponse(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	p := srv.NewProxy(t)
	st := srv.StoreVia(t, p, bucket, "ch")
	direct := srv.Store(t, bucket, "ch")
	ctx := testContext(t)
	const key = ".condachan/lock.json"

	p.DropResponseOnce(s3test.Match("PUT", "/ch/"+key))
	_, err := put(t, st, key, `{"nonce":"n1"}`, channel.PutOptions{IfAbsent: true})
	wantPrecondition(t, "IfAbsent put whose response was dropped", err)
	if p.Dropped() != 1 || p.Requests() != 2 {
		t.Fatalf("dropped %d of %d requests, want 1 of 2 (the put and the SDK's retry)", p.Dropped(), p.Requests())
	}
	body, created := read(t, direct, key)
	if body != `{"nonce":"n1"}` {
		t.Fatalf("the dropped put did not take effect: %q", body)
	}

	// The same for a compare-and-swap (a heartbeat).
	p.DropResponseOnce(s3test.Match("PUT", "/ch/"+key))
	_, err = put(t, st, key, `{"nonce":"n2"}`, channel.PutOptions{IfMatch: created.ETag})
	wantPrecondition(t, "IfMatch put whose response was dropped", err)
	body, swapped := read(t, direct, key)
	if body != `{"nonce":"n2"}` || swapped.ETag == created.ETag {
		t.Fatalf("the dropped swap did not take effect: %q", body)
	}

	// And for a conditional delete (a release): the retry finds nothing to delete.
	p.DropResponseOnce(s3test.Match("DELETE", "/ch/"+key))
	err = st.Delete(ctx, key, swapped.ETag)
	t.Logf("conditional delete whose response was dropped: %v", err)
	if err != nil {
		t.Fatalf("conditional delete whose response was dropped: %v", err)
	}
	if _, err := direct.Stat(ctx, key); !errors.Is(err, channel.ErrNotFound) {
		t.Fatalf("the dropped delete did not take effect: %v", err)
	}

	// Rules are used once: the next put goes through untouched.
	before := p.Requests()
	mustPut(t, st, key, "x", channel.PutOptions{IfAbsent: true})
	if p.Requests()-before != 1 || p.Dropped() != 3 {
		t.Fatalf("after the rules were used: %d requests, %d dropped", p.Requests()-before, p.Dropped())
	}
}

func TestProxyStripHeader(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	p := srv.NewProxy(t)
	st := srv.StoreVia(t, p, bucket, "")
	direct := srv.Store(t, bucket, "")
	ctx := testContext(t)

	p.StripHeader(s3test.Match("DELETE", "/"+oddKey), "If-Match")
	old := mustPut(t, st, oddKey, "a", channel.PutOptions{IfAbsent: true})
	mustPut(t, st, oddKey, "b", channel.PutOptions{IfMatch: old.ETag})
	if err := st.Delete(ctx, oddKey, old.ETag); err != nil {
		t.Fatalf("stale conditional delete with If-Match stripped: %v", err)
	}
	if _, err := direct.Stat(ctx, oddKey); !errors.Is(err, channel.ErrNotFound) {
		t.Fatalf("the object survived a delete whose If-Match was stripped: %v", err)
	}
	if p.Stripped() != 1 {
		t.Fatalf("stripped %d requests, want 1", p.Stripped())
	}

	// Other requests keep their conditions.
	obj := mustPut(t, st, "other", "a", channel.PutOptions{})
	wantPrecondition(t, "stale delete of a key no rule matches", st.Delete(ctx, "other", `"stale"`))
	if err := st.Delete(ctx, "other", obj.ETag); err != nil {
		t.Fatal(err)
	}

	// A server that ignores If-None-Match overwrites.
	p.StripHeader(s3test.Match("PUT", "/pkg.conda"), "If-None-Match")
	mustPut(t, st, "pkg.conda", "one", channel.PutOptions{IfAbsent: true})
	mustPut(t, st, "pkg.conda", "two", channel.PutOptions{IfAbsent: true})
	if body, _ := read(t, direct, "pkg.conda"); body != "two" {
		t.Fatalf("If-None-Match stripped, yet the second put did not overwrite: %q", body)
	}

	// An unsigned header is removed without signing again.
	p.StripHeader(s3test.Match("GET", "/pkg.conda"), "User-Agent")
	if body, _ := read(t, st, "pkg.conda"); body != "two" {
		t.Fatalf("get with User-Agent stripped: %q", body)
	}
}

// completeMPU matches CompleteMultipartUpload requests (POST ...?uploadId=).
func completeMPU(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
}

// TestMultipartFaults covers what S3 may answer to a conditional completion: 409 (the
// upload is over, start a new one), a lost response (the retried completion finds no
// upload), and a 409 after someone else created the object (no second upload is sent).
func TestMultipartFaults(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	path, sum := writeRandomFile(t, 11<<20)
	meta := map[string]string{"sha256": fmt.Sprintf("%x", sum)}
	setup := func(t *testing.T, checksums bool) (*s3store.Store, *s3store.Store, *s3test.Proxy, string) {
		bucket := srv.NewBucket(t)
		p := srv.NewProxy(t)
		o := srv.Options()
		o.EndpointURL = p.URL
		o.MultipartThreshold = 5 << 20
		o.PartSize = 5 << 20
		o.PartChecksums = checksums
		return srv.StoreWith(t, bucket, "ch", o), srv.Store(t, bucket, "ch"), p, bucket
	}
	noUploadsLeft := func(t *testing.T, bucket string) {
		t.Helper()
		ups, err := srv.Client().ListMultipartUploads(testContext(t), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatal(err)
		}
		if len(ups.Uploads) != 0 {
			t.Errorf("%d multipart uploads left behind", len(ups.Uploads))
		}
	}
	sameBytes := func(t *testing.T, st channel.Store, key string) {
		t.Helper()
		rc, _, err := st.Get(testContext(t), key)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		h := sha256.New()
		io.Copy(h, rc)
		if string(h.Sum(nil)) != string(sum[:]) {
			t.Fatal("stored bytes differ from the file")
		}
	}
	// wantStored checks that the upload made the object put returned, with the file's
	// bytes, and left no upload behind.
	wantStored := func(t *testing.T, direct channel.Store, bucket string, put channel.Object) {
		t.Helper()
		if cur, err := direct.Stat(testContext(t), "linux-64/big.conda"); err != nil || cur.ETag != put.ETag {
			t.Errorf("stat %+v %v, put %+v", cur, err, put)
		}
		sameBytes(t, direct, "linux-64/big.conda")
		noUploadsLeft(t, bucket)
	}
	for _, checksums := range []bool{false, true} {
		t.Run(fmt.Sprintf("checksums=%v/409 restarts the upload", checksums), func(t *testing.T) {
			st, direct, p, bucket := setup(t, checksums)
			p.RespondOnce(completeMPU, http.StatusConflict, "ConditionalRequestConflict")
			before := st.Stats().Post.Load()
			obj, err := st.PutFile(testContext(t), "linux-64/big.conda", path, channel.PutOptions{IfAbsent: true, Metadata: meta})
			if err != nil {
				t.Fatal(err)
			}
			if p.Answered() != 1 {
				t.Fatalf("the 409 rule answered %d requests", p.Answered())
			}
			// create + complete, twice
			if posts := st.Stats().Post.Load() - before; posts != 4 {
				t.Errorf("%d POST requests, want 4 (the upload started again)", posts)
			}
			wantStored(t, direct, bucket, obj)
		})
	}
	t.Run("lost completion response", func(t *testing.T) {
		st, direct, p, bucket := setup(t, false)
		p.DropResponseOnce(completeMPU)
		obj, err := st.PutFile(testContext(t), "linux-64/big.conda", path, channel.PutOptions{IfAbsent: true, Metadata: meta})
		if err != nil {
			t.Fatalf("a completion whose response was lost: %v", err)
		}
		if p.Dropped() != 1 {
			t.Fatalf("dropped %d responses", p.Dropped())
		}
		wantStored(t, direct, bucket, obj)
	})
	t.Run("409 after another writer created the object", func(t *testing.T) {
		st, direct, p, bucket := setup(t, false)
		p.RespondOnce(func(r *http.Request) bool {
			if !completeMPU(r) {
				return false
			}
			// Someone else's small object lands first.
			direct.Put(r.Context(), "linux-64/big.conda", strings.NewReader("other"), 5, channel.PutOptions{IfAbsent: true})
			return true
		}, http.StatusConflict, "ConditionalRequestConflict")
		before := st.Stats().Put.Load()
		_, err := st.PutFile(testContext(t), "linux-64/big.conda", path, channel.PutOptions{IfAbsent: true, Metadata: meta})
		wantPrecondition(t, "IfAbsent upload after a 409 and another writer", err)
		if parts := st.Stats().Put.Load() - before; parts != 3 {
			t.Errorf("%d part uploads, want 3: no second upload once the key is taken", parts)
		}
		noUploadsLeft(t, bucket)
	})
}

// S3 answers a read of a missing key with 403 to a role whose s3:ListBucket is limited to
// a prefix; the store tells a missing key from a refused one by listing exactly that key.
func TestForbiddenReadOfMissingKeyIsNotFound(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	p := srv.NewProxy(t)
	o := srv.Options()
	o.EndpointURL = p.URL
	st := srv.StoreWith(t, bucket, "Conda/Default", o)
	ctx := testContext(t)
	mustPut(t, st, "linux-64/there.conda", "data", channel.PutOptions{})

	p.RespondOnce(s3test.Match("HEAD", "linux-64/missing.conda"), http.StatusForbidden, "Forbidden")
	if _, err := st.Stat(ctx, "linux-64/missing.conda"); !errors.Is(err, channel.ErrNotFound) {
		t.Errorf("stat of a missing key answered 403: %v, want ErrNotFound", err)
	}
	p.RespondOnce(s3test.Match("GET", "noarch/repodata.json"), http.StatusForbidden, "AccessDenied")
	if _, _, err := st.Get(ctx, "noarch/repodata.json"); !errors.Is(err, channel.ErrNotFound) {
		t.Errorf("get of a missing key answered 403: %v, want ErrNotFound", err)
	}
	// A key that exists but is refused stays an access error, with the advice.
	p.RespondOnce(s3test.Match("GET", "linux-64/there.conda"), http.StatusForbidden, "AccessDenied")
	_, err := st.ReadRange(ctx, "linux-64/there.conda", 0, 2)
	if err == nil || errors.Is(err, channel.ErrNotFound) || !strings.Contains(err.Error(), "access denied") {
		t.Errorf("a refused read of an existing key: %v", err)
	}
	if p.Answered() != 3 {
		t.Errorf("%d injected answers used, want 3", p.Answered())
	}
}
