// Command loadgen is the load generator of bench/serve.sh for what wrk cannot do: signed
// S3 GETs straight to an S3 server, compared with plain GETs through `condachan serve`,
// with the same client code, concurrency and statistics. It also prepares the S3 side of
// the benchmark (bucket, upload of a channel folder).
//
//	loadgen get -url URL [-c 32] [-d 10s] [-warmup 1s] [-name NAME] [-discard]
//	loadgen s3get -endpoint URL -bucket B -key K [-c 32] [-d 10s] [-name NAME]
//	loadgen mb -endpoint URL -bucket B
//	loadgen upload -endpoint URL -bucket B -prefix P DIR
//
// Credentials for the S3 modes come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
// Every request reads the whole body; latency is the time to the body's last byte. With
// -discard, get uses its own HTTP/1.1 client that lets the kernel drop the body unread
// (recv with MSG_TRUNC), so the servers, not the client's copy, are what is measured.
// The result is one line: name, requests/s, MB/s, p50, p90, p99 and max latency in ms,
// errors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen get|s3get|mb|upload [flags]")
		os.Exit(2)
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	url := fs.String("url", "", "URL to GET")
	endpoint := fs.String("endpoint", "", "S3 endpoint URL")
	bucket := fs.String("bucket", "", "S3 bucket")
	key := fs.String("key", "", "S3 object key")
	prefix := fs.String("prefix", "", "S3 key prefix for upload")
	conc := fs.Int("c", 32, "concurrent connections")
	dur := fs.Duration("d", 10*time.Second, "measured duration")
	warmup := fs.Duration("warmup", time.Second, "unmeasured run before")
	name := fs.String("name", "", "name printed with the result")
	discard := fs.Bool("discard", false, "get: drop bodies in the kernel instead of reading them")
	fs.Parse(os.Args[2:])
	ctx := context.Background()
	var err error
	switch mode {
	case "get":
		if *discard {
			var first *rawGetter
			if first, err = newRawGetter(*url); err != nil {
				break
			}
			getters := make([]rawGetter, *conc) // one connection each, none dialled yet
			for w := range getters {
				getters[w] = *first
			}
			err = run(*name, *conc, *warmup, *dur, func(w int) (int64, error) { return getters[w].get() })
			break
		}
		client := httpClient(*conc)
		err = run(*name, *conc, *warmup, *dur, func(int) (int64, error) {
			resp, err := client.Get(*url)
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			return n, err
		})
	case "s3get":
		client := s3Client(*endpoint, *conc)
		err = run(*name, *conc, *warmup, *dur, func(int) (int64, error) {
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: key})
			if err != nil {
				return 0, err
			}
			defer out.Body.Close()
			return io.Copy(io.Discard, out.Body)
		})
	case "mb":
		_, err = s3Client(*endpoint, 1).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket})
	case "upload":
		err = upload(ctx, s3Client(*endpoint, 8), *bucket, *prefix, fs.Arg(0))
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func httpClient(conc int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true,
	}}
}

func s3Client(endpoint string, conc int) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY")}, nil
		}),
		HTTPClient:                 httpClient(conc),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// run keeps conc workers issuing requests for warmup+dur and reports the measured part.
// req gets the worker's number, for clients that keep state per worker.
func run(name string, conc int, warmup, dur time.Duration, req func(worker int) (int64, error)) error {
	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(dur)
	type result struct {
		lat    []time.Duration
		bytes  int64
		errors int
		first  error
	}
	results := make([]result, conc)
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			r := &results[w]
			for {
				t0 := time.Now()
				if t0.After(end) {
					return
				}
				n, err := req(w)
				t1 := time.Now()
				if t0.Before(measureFrom) {
					continue
				}
				if err != nil {
					r.errors++
					if r.first == nil {
						r.first = err
					}
					continue
				}
				r.lat = append(r.lat, t1.Sub(t0))
				r.bytes += n
			}
		})
	}
	wg.Wait()
	var all []time.Duration
	var bytes int64
	errs := 0
	var firstErr error
	for _, r := range results {
		all = append(all, r.lat...)
		bytes += r.bytes
		errs += r.errors
		if firstErr == nil {
			firstErr = r.first
		}
	}
	if len(all) == 0 {
		return fmt.Errorf("%s: no request succeeded: %v", name, firstErr)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 {
		i := int(p * float64(len(all)-1))
		return float64(all[i].Microseconds()) / 1000
	}
	secs := dur.Seconds()
	fmt.Printf("%s\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\n", name, float64(len(all))/secs, float64(bytes)/secs/1e6,
		pct(0.5), pct(0.9), pct(0.99), pct(1), errs)
	if errs > 0 {
		fmt.Fprintf(os.Stderr, "%s: %d errors, first: %v\n", name, errs, firstErr)
	}
	return nil
}

// upload puts every file under dir into the bucket under prefix.
func upload(ctx context.Context, client *s3.Client, bucket, prefix, dir string) error {
	if dir == "" {
		return errors.New("upload: no folder")
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	sem := make(chan struct{}, 8)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		k := strings.TrimPrefix(strings.Trim(prefix, "/")+"/"+filepath.ToSlash(rel), "/")
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f, err := os.Open(p)
			if err == nil {
				var fi os.FileInfo
				if fi, err = f.Stat(); err == nil {
					_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &k, Body: f, ContentLength: aws.Int64(fi.Size())})
				}
				f.Close()
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("upload %s: %w", p, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return firstErr
}
