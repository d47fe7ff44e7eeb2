package serve

import (
	"context"
	"io"
	"testing"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/s3test"
)

// The benchmarks compare reading the same objects from versitygw directly (signed SDK
// GETs) and through the server, in parallel (b.RunParallel, GOMAXPROCS goroutines).
// bench/serve.sh runs the full comparison with wrk, nginx and a 50 MB package.
//
//	go test -run '^$' -bench . -benchtime 3s ./serve/

func BenchmarkS3(b *testing.B) {
	srv := s3test.Start(b)
	bucket := srv.NewBucket(b)
	st := srv.Store(b, bucket, "Conda/Default")
	tc := fill(b, "s3", st)
	server := startServer(b, st, Options{AccessLog: io.Discard})
	get := srv.DirectGetter(bucket, 64)
	httpc := newClient(b)
	for _, key := range []string{"linux-64/repodata.json.zst", tc.big} {
		size := int64(len(tc.files[key]))
		b.Run(key+"/direct", func(b *testing.B) {
			b.SetBytes(size)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					body, err := get(context.Background(), st.FullKey(key))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, body)
					body.Close()
				}
			})
		})
		b.Run(key+"/serve", func(b *testing.B) {
			b.SetBytes(size)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := httpc.Get(server.URL + "/" + key)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}

func BenchmarkLocal(b *testing.B) {
	st, err := channel.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	tc := fill(b, "local", st)
	server := startServer(b, st, Options{AccessLog: io.Discard})
	httpc := newClient(b)
	for _, key := range []string{"linux-64/repodata.json.zst", tc.big} {
		b.Run(key, func(b *testing.B) {
			b.SetBytes(int64(len(tc.files[key])))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := httpc.Get(server.URL + "/" + key)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
