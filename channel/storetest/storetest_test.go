package storetest_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/storetest"
	"github.com/condachan/condachan/internal/s3test"
)

func TestLocal(t *testing.T) {
	storetest.Run(t, openLocal)
}

func openLocal(t *testing.T) channel.Store {
	s, err := channel.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// S3 multipart sizes for the suite: small, so that PutFile of LargeObjectSize bytes is
// a real multipart upload (3 parts) without moving much data. versitygw, like S3,
// wants parts of at least 5 MiB but the last.
const (
	s3Threshold = 5 << 20
	s3PartSize  = 5 << 20
	s3Large     = 2*s3PartSize + 1<<20
)

func TestS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	var seq atomic.Int64
	// Every store is a new channel prefix in one bucket, beside the others: listings
	// must not leak from one channel into the next ("ch-1" is a prefix of "ch-10").
	prefix := func() string { return fmt.Sprintf("ch-%d/Conda/Default", seq.Add(1)) }
	opts := srv.Options()
	opts.MultipartThreshold = s3Threshold
	opts.PartSize = s3PartSize
	storetest.RunWith(t, func(t *testing.T) channel.Store {
		return srv.StoreWith(t, bucket, prefix(), opts)
	}, storetest.Options{
		LargeObjectSize: s3Large,
		KeepsMetadata:   true,
		Faulty: func(t *testing.T) storetest.Faulty {
			p := srv.NewProxy(t)
			o := opts
			o.EndpointURL = p.URL
			return storetest.Faulty{
				Store:            srv.StoreWith(t, bucket, prefix(), o),
				LoseNextResponse: func(key string) { p.DropResponseOnce(commits(key)) },
				Lost:             p.Dropped,
			}
		},
	})
}

// commits matches the request that makes a write of key take effect: a PutObject (not
// an UploadPart) or a CompleteMultipartUpload.
func commits(key string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/"+key) {
			return false
		}
		q := r.URL.Query()
		switch r.Method {
		case http.MethodPut:
			return !q.Has("uploadId")
		case http.MethodPost:
			return q.Has("uploadId")
		}
		return false
	}
}
