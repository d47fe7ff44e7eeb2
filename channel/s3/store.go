// Package s3store is the S3 backend of package channel: a conda channel kept under an
// S3 prefix (s3://bucket/prefix), on AWS or an S3-compatible server, through the AWS SDK
// for Go v2. It is the only package of condachan that imports the SDK (besides its test
// server, internal/s3test, and the benchmark tool bench/loadgen).
//
// Importing it registers the s3:// scheme with channel.RegisterBackend, and its doctor
// checks (doctor*.go) with doctor.RegisterBackend (package channel/doctor), after which
// channel.Open, channel.OpenExisting and doctor.Diagnose handle s3:// URLs; callers then
// use the store through channel.Store and the abilities it implements (channel.Presigner,
// channel.SignedGetter, channel.RequestCounter, channel.ObjectLocator, channel.Sweeper),
// never through this package's types. Options configures it.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/sync/errgroup"

	"github.com/condachan/condachan/channel"
)

// Options configure an S3 channel. Everything left empty comes from the standard AWS
// configuration: environment, shared config and credentials files, credential_process
// (how Deadline Cloud workers get their queue role), and instance or container roles.
// Nothing here calls STS unless the user's own profile does.
type Options struct {
	Region string
	// EndpointURL overrides the S3 endpoint (VPC interface endpoints, S3-compatible
	// servers). AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL are honoured as well.
	EndpointURL string
	// PathStyle addresses buckets as endpoint/bucket rather than bucket.endpoint; also set
	// by CONDACHAN_S3_PATH_STYLE=true.
	PathStyle bool
	// ExpectedBucketOwner, when set, makes S3 refuse requests to a bucket another account
	// owns.
	ExpectedBucketOwner string
	Profile             string
	// ConnectTimeout bounds connecting to the endpoint (default 5s), so that a worker with
	// no route to S3 hears about it quickly instead of hanging.
	ConnectTimeout time.Duration
	// Credentials replaces the default chain (tests).
	Credentials aws.CredentialsProvider
	// MultipartThreshold and PartSize shape uploads of large packages (defaults 64 MiB and
	// 16 MiB), PartConcurrency how many parts go up at once (default 4).
	MultipartThreshold int64
	PartSize           int64
	PartConcurrency    int
	// PartChecksums sends a CRC32 checksum with every part of a multipart upload and
	// completes it with them, as AWS expects of SDK uploads. It is on for AWS; for a
	// custom endpoint (which often rejects checksums) only when set.
	PartChecksums bool
}

// Store is the channel under s3://bucket/prefix: a channel.Store (see the checks in
// backend.go for its abilities).
type Store struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or "a/b/" with a trailing slash
	owner    *string
	endpoint string
	opts     Options
	stats    *channel.RequestStats
	// uploadsPage, when set, asks for that many uploads per listing page (tests).
	uploadsPage int32
	// presign makes presigned URLs; one per store keeps its signing-key cache.
	presign *s3.PresignClient
}

// countRequest adds one HTTP request to the counters.
func countRequest(r *channel.RequestStats, req *http.Request) {
	r.Total.Add(1)
	switch {
	case req.Method == http.MethodGet && (req.URL.Query().Has("list-type") || req.URL.Query().Has("uploads")):
		r.List.Add(1)
	case req.Method == http.MethodGet:
		r.Get.Add(1)
	case req.Method == http.MethodHead:
		r.Head.Add(1)
	case req.Method == http.MethodPut:
		r.Put.Add(1)
	case req.Method == http.MethodDelete:
		r.Delete.Add(1)
	case req.Method == http.MethodPost:
		r.Post.Add(1)
	}
}

// requestCounter counts every HTTP request the SDK sends into r: the deserialize step
// runs once per attempt, retries included. (Wrapping the HTTP client instead would hide
// it from the SDK's own transport options, such as AWS_CA_BUNDLE.)
func requestCounter(r *channel.RequestStats) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("condachanRequestCount",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					countRequest(r, req.Request)
				}
				return next.HandleDeserialize(ctx, in)
			}), middleware.After)
	}
}

// New opens the channel s3://bucket/prefix.
func New(ctx context.Context, bucket, prefix string, o Options) (*Store, error) {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.MultipartThreshold <= 0 {
		o.MultipartThreshold = 64 << 20
	}
	if o.PartSize <= 0 {
		o.PartSize = 16 << 20
	}
	if o.PartConcurrency <= 0 {
		o.PartConcurrency = 4
	}
	if !o.PathStyle && strings.EqualFold(os.Getenv("CONDACHAN_S3_PATH_STYLE"), "true") {
		o.PathStyle = true
	}
	stats := &channel.RequestStats{}
	httpClient := awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) {
		d.Timeout = o.ConnectTimeout
	}).WithTransportOptions(func(t *http.Transport) {
		t.TLSHandshakeTimeout = 2 * o.ConnectTimeout
		t.ResponseHeaderTimeout = 2 * time.Minute
		t.MaxIdleConnsPerHost = 32
	})
	var loadOpts []func(*config.LoadOptions) error
	loadOpts = append(loadOpts, config.WithHTTPClient(httpClient), config.WithLogger(sdkLogger(os.Stderr)))
	if o.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Credentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(o.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	endpoint := o.EndpointURL
	if endpoint == "" {
		endpoint = firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	}
	custom := endpoint != ""
	if !custom {
		o.PartChecksums = true
	}
	if cfg.Region == "" {
		if custom {
			cfg.Region = "us-east-1" // S3-compatible servers rarely care
		} else {
			region, err := discoverRegion(ctx, cfg, bucket)
			if err != nil {
				return nil, err
			}
			cfg.Region = region
		}
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.APIOptions = append(so.APIOptions, requestCounter(stats))
		if o.EndpointURL != "" {
			so.BaseEndpoint = aws.String(o.EndpointURL)
		}
		so.UsePathStyle = o.PathStyle
		if custom {
			// S3-compatible servers and proxies often reject the SDK's default CRC
			// checksums; send them only where the API requires them.
			so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	if endpoint == "" {
		endpoint = fmt.Sprintf("https://s3.%s.amazonaws.com", cfg.Region)
	}
	st := &Store{client: client, bucket: bucket, endpoint: endpoint, opts: o, stats: stats, presign: s3.NewPresignClient(client)}
	if prefix != "" {
		st.prefix = strings.Trim(prefix, "/") + "/"
	}
	if o.ExpectedBucketOwner != "" {
		st.owner = aws.String(o.ExpectedBucketOwner)
	}
	return st, nil
}

// olderThan reports whether since lies at least age before now (a time in the future is
// never old), as channel.SweepStale measures it.
func olderThan(now, since time.Time, age time.Duration) bool {
	return now.Sub(since) >= age
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// discoverRegion asks S3 where the bucket lives (HeadBucket answers with the region
// header even when it refuses the request).
func discoverRegion(ctx context.Context, cfg aws.Config, bucket string) (string, error) {
	probe := cfg.Copy()
	probe.Region = "us-east-1"
	client := s3.NewFromConfig(probe)
	out, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil && out.BucketRegion != nil {
		return *out.BucketRegion, nil
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		if r := re.Response.Header.Get("X-Amz-Bucket-Region"); r != "" {
			return r, nil
		}
	}
	if err == nil {
		return "us-east-1", nil
	}
	return "", &RegionUnknownError{Bucket: bucket, Err: describeNetErr(err, "https://s3.amazonaws.com")}
}

func (s *Store) String() string {
	if s.prefix == "" {
		return "s3://" + s.bucket
	}
	return "s3://" + s.bucket + "/" + strings.TrimSuffix(s.prefix, "/")
}

// Stats returns the request counters (RequestCounter).
func (s *Store) Stats() *channel.RequestStats { return s.stats }

// Client exposes the SDK client (for doctor checks and presigning).
func (s *Store) Client() *s3.Client { return s.client }

// Bucket and FullKey map channel keys to bucket keys.
func (s *Store) Bucket() string            { return s.bucket }
func (s *Store) FullKey(key string) string { return s.prefix + key }
func (s *Store) Endpoint() string          { return s.endpoint }
func (s *Store) ExpectedOwner() *string    { return s.owner }
func (s *Store) relKey(full string) string { return strings.TrimPrefix(full, s.prefix) }
func (s *Store) uri(key string) string     { return "s3://" + s.bucket + "/" + s.prefix + key }

// ObjectURI is the s3:// URI of key (ObjectLocator).
func (s *Store) ObjectURI(key string) string { return s.uri(key) }

// ConnectTimeout bounds connecting to the endpoint.
func (s *Store) ConnectTimeout() time.Duration { return s.opts.ConnectTimeout }

func (s *Store) Stat(ctx context.Context, key string) (channel.Object, error) {
	if err := channel.CheckKey(key); err != nil {
		return channel.Object{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.FullKey(key)), ExpectedBucketOwner: s.owner})
	if err != nil {
		return channel.Object{}, s.readError(ctx, "stat", key, err)
	}
	return channel.Object{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), Modified: aws.ToTime(out.LastModified), Metadata: out.Metadata}, nil
}

func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, channel.Object, error) {
	if err := channel.CheckKey(key); err != nil {
		return nil, channel.Object{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.FullKey(key)), ExpectedBucketOwner: s.owner})
	if err != nil {
		return nil, channel.Object{}, s.readError(ctx, "get", key, err)
	}
	return out.Body, channel.Object{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), Modified: aws.ToTime(out.LastModified), Metadata: out.Metadata}, nil
}

func (s *Store) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, channel.Object, error) {
	if err := channel.CheckKey(key); err != nil {
		return nil, channel.Object{}, err
	}
	rng := fmt.Sprintf("bytes=%d-", offset)
	if length >= 0 {
		if length == 0 {
			obj, err := s.Stat(ctx, key)
			return io.NopCloser(strings.NewReader("")), obj, err
		}
		rng = fmt.Sprintf("bytes=%d-%d", offset, offset+length-1)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.FullKey(key)), ExpectedBucketOwner: s.owner, Range: aws.String(rng)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "InvalidRange" {
			// S3 refuses a range starting at the end (so every range of an empty
			// object); the contract, like Local, gives an empty stream.
			if obj, serr := s.Stat(ctx, key); serr == nil && offset == obj.Size {
				return io.NopCloser(strings.NewReader("")), obj, nil
			}
		}
		return nil, channel.Object{}, s.readError(ctx, "read", key, err)
	}
	obj := channel.Object{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), Modified: aws.ToTime(out.LastModified), Metadata: out.Metadata}
	// Content-Range: bytes a-b/total gives the whole object's size.
	if cr := aws.ToString(out.ContentRange); cr != "" {
		if i := strings.LastIndexByte(cr, '/'); i >= 0 {
			if total, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
				obj.Size = total
			}
		}
	}
	return out.Body, obj, nil
}

func (s *Store) ReadRange(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	if err := channel.CheckKey(key); err != nil {
		return nil, err
	}
	if length <= 0 {
		return nil, nil
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: &s.bucket, Key: aws.String(s.FullKey(key)), ExpectedBucketOwner: s.owner,
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1)),
	})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "InvalidRange" {
			return nil, nil
		}
		return nil, s.readError(ctx, "read", key, err)
	}
	defer out.Body.Close()
	return io.ReadAll(io.LimitReader(out.Body, length))
}

// readError is wrap for reads of one object. S3 answers a read of a missing key with 403
// instead of 404 to a caller that may not list the bucket, and an s3:ListBucket
// permission limited to the channel's prefix (what `condachan policy` grants) does not
// count for that: so a 403 is checked with a listing of exactly that key, which the
// prefix-limited permission allows, and a key that is not there is channel.ErrNotFound.
func (s *Store) readError(ctx context.Context, op, key string, err error) error {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden || isBucketError(err) {
		return s.wrap(op, key, err)
	}
	full := s.FullKey(key)
	out, lerr := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(full), MaxKeys: aws.Int32(1), ExpectedBucketOwner: s.owner})
	if lerr == nil && (len(out.Contents) == 0 || aws.ToString(out.Contents[0].Key) != full) {
		return fmt.Errorf("%s: %w", s.uri(key), channel.ErrNotFound)
	}
	return s.wrap(op, key, err)
}

// Put writes a small object; the body is buffered so the SDK can sign and retry it.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, size int64, opts channel.PutOptions) (channel.Object, error) {
	if err := channel.CheckKey(key); err != nil {
		return channel.Object{}, err
	}
	rs, ok := body.(io.ReadSeeker)
	if !ok || size < 0 {
		data, err := io.ReadAll(body)
		if err != nil {
			return channel.Object{}, err
		}
		rs, size = bytes.NewReader(data), int64(len(data))
	}
	in := &s3.PutObjectInput{
		Bucket: &s.bucket, Key: aws.String(s.FullKey(key)), Body: rs, ContentLength: aws.Int64(size),
		ExpectedBucketOwner: s.owner, Metadata: opts.Metadata,
	}
	s.applyPut(opts, &in.IfNoneMatch, &in.IfMatch, &in.ContentType, &in.CacheControl)
	var out *s3.PutObjectOutput
	err := s.retryConflict(ctx, func() error {
		if _, err := rs.Seek(0, io.SeekStart); err != nil {
			return err
		}
		var err error
		out, err = s.client.PutObject(ctx, in)
		return err
	})
	if err != nil {
		return channel.Object{}, s.wrapPut("put", key, opts, err)
	}
	return channel.Object{Key: key, Size: size, ETag: aws.ToString(out.ETag), Modified: time.Now(), Metadata: opts.Metadata}, nil
}

// wrapPut is wrap for conditional writes: S3 answers an If-Match write to a key that no
// longer exists with 404 NoSuchKey, which for the Store contract is a lost condition.
func (s *Store) wrapPut(op, key string, opts channel.PutOptions, err error) error {
	var ae smithy.APIError
	if opts.IfMatch != "" && errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey" {
		return fmt.Errorf("%s %s: %w (it is gone)", op, s.uri(key), channel.ErrPreconditionFailed)
	}
	return s.wrap(op, key, err)
}

func (s *Store) applyPut(opts channel.PutOptions, ifNoneMatch, ifMatch, contentType, cacheControl **string) {
	if opts.IfAbsent {
		*ifNoneMatch = aws.String("*")
	}
	if opts.IfMatch != "" {
		*ifMatch = aws.String(opts.IfMatch)
	}
	if opts.ContentType != "" {
		*contentType = aws.String(opts.ContentType)
	}
	if opts.CacheControl != "" {
		*cacheControl = aws.String(opts.CacheControl)
	}
}

// retryConflict repeats an operation S3 refused with 409 ConditionalRequestConflict,
// which means "another conditional write to this key is in flight; try again".
func (s *Store) retryConflict(ctx context.Context, op func() error) error {
	delay := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := op()
		var ae smithy.APIError
		if err == nil || !errors.As(err, &ae) || ae.ErrorCode() != "ConditionalRequestConflict" || attempt >= 8 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// PutFile uploads a file, in parallel parts past the multipart threshold; the condition
// applies to the CompleteMultipartUpload, so a large package is just as atomic.
func (s *Store) PutFile(ctx context.Context, key, path string, opts channel.PutOptions) (channel.Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return channel.Object{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return channel.Object{}, err
	}
	if fi.Size() < s.opts.MultipartThreshold {
		return s.Put(ctx, key, io.NewSectionReader(f, 0, fi.Size()), fi.Size(), opts)
	}
	return s.putMultipart(ctx, key, f, fi.Size(), opts)
}

func (s *Store) putMultipart(ctx context.Context, key string, f *os.File, size int64, opts channel.PutOptions) (channel.Object, error) {
	for attempt := 0; ; attempt++ {
		obj, err := s.uploadParts(ctx, key, f, size, opts)
		var ae smithy.APIError
		if err == nil || !errors.As(err, &ae) || ae.ErrorCode() != "ConditionalRequestConflict" || attempt >= 4 {
			return obj, err
		}
		// A 409 on a conditional completion ends the upload: S3 wants a new one, parts
		// and all. Before sending gigabytes again, see whether the condition can still
		// hold at all.
		if cur, serr := s.Stat(ctx, key); serr == nil {
			if opts.IfAbsent || (opts.IfMatch != "" && cur.ETag != opts.IfMatch) {
				return channel.Object{}, fmt.Errorf("complete upload of %s: %w", s.uri(key), channel.ErrPreconditionFailed)
			}
		} else if !errors.Is(serr, channel.ErrNotFound) {
			return channel.Object{}, serr
		} else if opts.IfMatch != "" {
			return channel.Object{}, fmt.Errorf("complete upload of %s: %w (it is gone)", s.uri(key), channel.ErrPreconditionFailed)
		}
		select {
		case <-ctx.Done():
			return channel.Object{}, ctx.Err()
		case <-time.After(time.Duration(100<<attempt) * time.Millisecond):
		}
	}
}

// uploadParts is one multipart upload, from creation to completion; it aborts the upload
// unless it completed.
func (s *Store) uploadParts(ctx context.Context, key string, f *os.File, size int64, opts channel.PutOptions) (channel.Object, error) {
	full := aws.String(s.FullKey(key))
	create := &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: full, ExpectedBucketOwner: s.owner, Metadata: opts.Metadata}
	if opts.ContentType != "" {
		create.ContentType = aws.String(opts.ContentType)
	}
	if opts.CacheControl != "" {
		create.CacheControl = aws.String(opts.CacheControl)
	}
	if s.opts.PartChecksums {
		create.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32
	}
	up, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		return channel.Object{}, s.wrap("start upload of", key, err)
	}
	completed := false
	defer func() {
		if !completed {
			// A fresh context: the caller's may be what was cancelled. An upload a 409
			// already ended answers 404, which is fine.
			actx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: full, UploadId: up.UploadId, ExpectedBucketOwner: s.owner})
		}
	}()
	partSize := max(s.opts.PartSize, (size+9999)/10000) // S3 allows 10,000 parts
	nparts := int((size + partSize - 1) / partSize)
	parts := make([]types.CompletedPart, nparts)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.PartConcurrency)
	for i := 0; i < nparts; i++ {
		off := int64(i) * partSize
		n := min(partSize, size-off)
		g.Go(func() error {
			in := &s3.UploadPartInput{
				Bucket: &s.bucket, Key: full, UploadId: up.UploadId, PartNumber: aws.Int32(int32(i + 1)),
				Body: io.NewSectionReader(f, off, n), ContentLength: aws.Int64(n), ExpectedBucketOwner: s.owner,
			}
			if s.opts.PartChecksums {
				in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32
			}
			out, err := s.client.UploadPart(gctx, in)
			if err != nil {
				return s.wrap(fmt.Sprintf("upload part %d of", i+1), key, err)
			}
			parts[i] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))}
			if s.opts.PartChecksums {
				if out.ChecksumCRC32 == nil {
					return fmt.Errorf("upload part %d of %s: the server returned no CRC32 checksum for it", i+1, s.uri(key))
				}
				parts[i].ChecksumCRC32 = out.ChecksumCRC32
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return channel.Object{}, err
	}
	in := &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: full, UploadId: up.UploadId, ExpectedBucketOwner: s.owner,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	var unused1, unused2 *string
	s.applyPut(opts, &in.IfNoneMatch, &in.IfMatch, &unused1, &unused2)
	out, err := s.client.CompleteMultipartUpload(ctx, in)
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload" {
			// A retried completion whose first response was lost finds the upload gone:
			// the object tells whether it was completed.
			if obj, ok := s.completedEarlier(ctx, key, size, opts); ok {
				completed = true
				return obj, nil
			}
		}
		return channel.Object{}, s.wrapPut("complete upload of", key, opts, err)
	}
	completed = true
	return channel.Object{Key: key, Size: size, ETag: aws.ToString(out.ETag), Modified: time.Now(), Metadata: opts.Metadata}, nil
}

// completedEarlier reports whether key holds the object an upload of size bytes with
// opts.Metadata would have made; without metadata to compare, it cannot tell.
func (s *Store) completedEarlier(ctx context.Context, key string, size int64, opts channel.PutOptions) (channel.Object, bool) {
	if len(opts.Metadata) == 0 {
		return channel.Object{}, false
	}
	obj, err := s.Stat(ctx, key)
	if err != nil || obj.Size != size {
		return channel.Object{}, false
	}
	for k, v := range opts.Metadata {
		if obj.Metadata[k] != v {
			return channel.Object{}, false
		}
	}
	return obj, true
}

func (s *Store) Delete(ctx context.Context, key, ifMatch string) error {
	if err := channel.CheckKey(key); err != nil {
		return err
	}
	in := &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(s.FullKey(key)), ExpectedBucketOwner: s.owner}
	if ifMatch != "" {
		in.IfMatch = aws.String(ifMatch)
	}
	err := s.retryConflict(ctx, func() error {
		_, err := s.client.DeleteObject(ctx, in)
		return err
	})
	if err != nil {
		err = s.wrap("delete", key, err)
		if errors.Is(err, channel.ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

func (s *Store) List(ctx context.Context, prefix string, fn func(channel.Object) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: &s.bucket, Prefix: aws.String(s.prefix + prefix), ExpectedBucketOwner: s.owner,
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.wrap("list", prefix+"*", err)
		}
		for _, o := range page.Contents {
			obj := channel.Object{Key: s.relKey(aws.ToString(o.Key)), Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag), Modified: aws.ToTime(o.LastModified)}
			if err := fn(obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// wrap turns SDK errors into ours (channel.ErrNotFound, channel.ErrPreconditionFailed) and adds what
// the user can do about network, credential and permission failures.
func (s *Store) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	var nf *types.NotFound
	var nsk *types.NoSuchKey
	var re *awshttp.ResponseError
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	uri := s.uri(key)
	switch {
	case errors.As(err, &nf), errors.As(err, &nsk), status == http.StatusNotFound && !isBucketError(err):
		return fmt.Errorf("%s: %w", uri, channel.ErrNotFound)
	case status == http.StatusPreconditionFailed:
		return fmt.Errorf("%s %s: %w", op, uri, channel.ErrPreconditionFailed)
	}
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "PreconditionFailed":
			return fmt.Errorf("%s %s: %w", op, uri, channel.ErrPreconditionFailed)
		case "NoSuchBucket":
			return &NoSuchBucketError{Op: op, URI: uri, Bucket: s.bucket}
		case "AccessDenied", "Forbidden", "AllAccessDisabled":
			return fmt.Errorf("%s %s: access denied: the role in use needs %s (see `condachan policy`): %w", op, uri, s.grantFor(s3Action(op)), err)
		case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
			return &WrongRegionError{Op: op, URI: uri, Err: err}
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken":
			return fmt.Errorf("%s %s: the AWS credentials were refused (%s): check AWS_PROFILE / the access keys, or refresh them: %w", op, uri, ae.ErrorCode(), err)
		}
		if status == http.StatusForbidden {
			return fmt.Errorf("%s %s: access denied: the role in use needs %s (see `condachan policy`): %w", op, uri, s.grantFor(s3Action(op)), err)
		}
	}
	return fmt.Errorf("%s %s: %w", op, uri, describeNetErr(err, s.endpoint))
}

func isBucketError(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket"
}

func s3Action(op string) string {
	switch {
	case strings.HasPrefix(op, "list uploads"):
		return "s3:ListBucketMultipartUploads"
	case strings.HasPrefix(op, "list"):
		return "s3:ListBucket"
	case strings.HasPrefix(op, "abort"):
		return "s3:AbortMultipartUpload"
	case op == "delete":
		return "s3:DeleteObject"
	case op == "stat", op == "get", op == "read":
		return "s3:GetObject"
	}
	return "s3:PutObject"
}

// grantFor names an action with the resource it must be allowed on: the bucket for the
// listings (s3:ListBucket limited to the channel's keys, as `condachan policy` grants it;
// s3:ListBucketMultipartUploads cannot be limited by prefix), the channel's keys for the
// rest.
func (s *Store) grantFor(action string) string {
	switch action {
	case "s3:ListBucket":
		if s.prefix != "" {
			return fmt.Sprintf("s3:ListBucket on arn:aws:s3:::%s (s3:prefix %s*)", s.bucket, s.prefix)
		}
		return "s3:ListBucket on arn:aws:s3:::" + s.bucket
	case "s3:ListBucketMultipartUploads":
		return "s3:ListBucketMultipartUploads on arn:aws:s3:::" + s.bucket
	}
	return fmt.Sprintf("%s on arn:aws:s3:::%s/%s*", action, s.bucket, s.prefix)
}

// Leftovers lists the multipart uploads under the channel's prefix started at least
// olderThan ago (by the server's clock against ours; a few minutes of skew do not matter
// at the ages this is used with). A publisher killed during uploadParts leaves one: S3
// keeps its parts, and bills for them, until it is aborted. Uploads of other tools under
// the prefix are listed too.
func (s *Store) Leftovers(ctx context.Context, olderThan time.Duration) ([]channel.Leftover, error) {
	return s.uploads(ctx, olderThan, time.Now())
}

func (s *Store) uploads(ctx context.Context, age time.Duration, now time.Time) ([]channel.Leftover, error) {
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket, ExpectedBucketOwner: s.owner}
	if s.prefix != "" {
		in.Prefix = aws.String(s.prefix)
	}
	if s.uploadsPage > 0 {
		in.MaxUploads = aws.Int32(s.uploadsPage)
	}
	var out []channel.Leftover
	for {
		page, err := s.client.ListMultipartUploads(ctx, in)
		var ae smithy.APIError
		if err != nil && in.UploadIdMarker != nil && errors.As(err, &ae) && ae.ErrorCode() == "InvalidArgument" {
			// Some S3-compatible servers refuse the upload-id-marker they gave themselves
			// (versitygw 1.8: versity/versitygw#2149). Going on after the key alone skips
			// the rest of that key's uploads, which a later sweep finds.
			in.UploadIdMarker = nil
			page, err = s.client.ListMultipartUploads(ctx, in)
		}
		if err != nil {
			return nil, s.wrap("list uploads under", "", err)
		}
		for _, u := range page.Uploads {
			// An upload without a start time cannot be told from a live one.
			if u.Initiated == nil || !olderThan(now, *u.Initiated, age) {
				continue
			}
			out = append(out, channel.Leftover{Kind: channel.LeftoverUpload, Key: s.relKey(aws.ToString(u.Key)), UploadID: aws.ToString(u.UploadId), Since: *u.Initiated})
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		// The listing goes on after (key, upload id); a server that does not move on
		// would loop forever.
		next, nextID := aws.ToString(page.NextKeyMarker), aws.ToString(page.NextUploadIdMarker)
		if (next == "" && nextID == "") || (next == aws.ToString(in.KeyMarker) && nextID == aws.ToString(in.UploadIdMarker)) {
			return nil, fmt.Errorf("list uploads under %s: the listing is truncated but the server gave no marker to go on from", s.uri(""))
		}
		in.KeyMarker, in.UploadIdMarker = aws.String(next), nil
		if nextID != "" {
			in.UploadIdMarker = aws.String(nextID)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Since.Before(out[j].Since)
	})
	return out, nil
}

// Sweep aborts the multipart uploads Leftovers lists. One that is gone meanwhile
// (completed, or aborted by another sweep: 404 NoSuchUpload) is fine.
func (s *Store) Sweep(ctx context.Context, olderThan time.Duration) ([]channel.Leftover, error) {
	found, err := s.Leftovers(ctx, olderThan)
	if err != nil {
		return nil, err
	}
	var removed []channel.Leftover
	var errs []error
	for _, lo := range found {
		_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket: &s.bucket, Key: aws.String(s.FullKey(lo.Key)), UploadId: aws.String(lo.UploadID), ExpectedBucketOwner: s.owner,
		})
		var ae smithy.APIError
		switch {
		case err == nil:
			removed = append(removed, lo)
		case errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload", httpStatus(err) == http.StatusNotFound && !isBucketError(err):
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return removed, errors.Join(append(errs, fmt.Errorf("abort upload %s of %s: %w", lo.UploadID, s.uri(lo.Key), err))...)
		default:
			errs = append(errs, s.wrap("abort upload "+lo.UploadID+" of", lo.Key, err))
		}
	}
	return removed, errors.Join(errs...)
}

// describeNetErr explains connection failures in terms of what to fix.
func describeNetErr(err error, endpoint string) error {
	msg := err.Error()
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "no EC2 IMDS role found") || strings.Contains(msg, "get credentials"):
		return fmt.Errorf("no usable AWS credentials: set AWS_PROFILE (a profile may use credential_process), AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with an instance, container or Deadline Cloud queue role: %w", err)
	case errors.As(err, &dnsErr):
		return &ConnectError{Endpoint: endpoint, Unresolved: true, Err: err}
	case errors.As(err, &opErr) && opErr.Op == "dial", strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "connection refused"), strings.Contains(msg, "TLS handshake timeout"):
		return &ConnectError{Endpoint: endpoint, Err: err}
	}
	return err
}

// PresignGet implements Presigner. The URL has no ExpectedBucketOwner: it would become a
// signed header that a client following the URL cannot send.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := channel.CheckKey(key); err != nil {
		return "", err
	}
	req, err := s.presigner().PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.FullKey(key))}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", err
	}
	return req.URL, nil
}

// SignedGet implements SignedGetter: a presigned GetObject, with the expected bucket
// owner (the caller sends it, signed header and all) and the range.
func (s *Store) SignedGet(ctx context.Context, key, rng string, ttl time.Duration) (*http.Request, error) {
	if err := channel.CheckKey(key); err != nil {
		return nil, err
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.FullKey(key)), ExpectedBucketOwner: s.owner}
	if rng != "" {
		in.Range = aws.String(rng)
	}
	signed, err := s.presigner().PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, signed.URL, nil)
	if err != nil {
		return nil, err
	}
	for k, vs := range signed.SignedHeader {
		if !strings.EqualFold(k, "Host") {
			req.Header[http.CanonicalHeaderKey(k)] = vs
		}
	}
	return req, nil
}

func (s *Store) presigner() *s3.PresignClient {
	if s.presign == nil { // a Store made without New
		return s3.NewPresignClient(s.client)
	}
	return s.presign
}

// sdkLogger writes what the SDK logs (warnings such as "falling back to IMDSv1" when the
// instance metadata token cannot be had, as in a container on EC2 with a hop limit of 1)
// to w as a line of condachan's, without the SDK's timestamp.
func sdkLogger(w io.Writer) logging.Logger {
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		level := "warning"
		if c == logging.Debug {
			level = "debug"
		}
		fmt.Fprintf(w, "%s: AWS SDK: %s\n", level, fmt.Sprintf(format, v...))
	})
}
