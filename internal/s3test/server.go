// Package s3test gives tests a real S3 server: versitygw on a loopback port, storing into
// a temporary directory (versitygw implements If-None-Match, If-Match and conditional
// DELETE the way AWS does, which is what the channel lease relies on), and Proxy, a
// reverse proxy that can misbehave on purpose (lost responses, ignored headers).
//
// A missing versitygw binary fails the test, never skips it: it is found in
// $CONDACHAN_TOOLS_DIR, <repo>/.cache/tools or PATH, or installed into the tools
// directory with `go install` (see Binary).
//
// The condachan binary never imports this package.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	s3store "github.com/condachan/condachan/channel/s3"
)

// The static credentials and region every Server uses.
const (
	AccessKey = "condachan-test"
	SecretKey = "condachan-test-secret-0123456789"
	Region    = "us-east-1"
)

const (
	startTimeout = 15 * time.Second
	stopTimeout  = 5 * time.Second
	logTailBytes = 16 << 10
)

// Server is a versitygw S3 server on a free loopback port, storing into a temp dir.
//
// Start shares one server between the tests of a test binary that use it at the same
// time (reference counted: the last test to finish stops it); tests isolate themselves
// with their own buckets (NewBucket).
type Server struct {
	URL                  string // http://127.0.0.1:<port>
	AccessKey, SecretKey string
	// Dir is the posix backend's root: one directory per bucket, one file per object.
	Dir string
	// LogFile holds versitygw's stdout and stderr (shown when a test fails).
	LogFile string
}

// instance is one running versitygw process.
type instance struct {
	url, base, dir, log string
	cmd                 *exec.Cmd
	done                chan struct{} // closed when the process has exited
	waitErr             error         // valid after done
	refs                int           // guarded by shared.mu
	stopping            atomic.Bool
	started             time.Duration // how long the start took
}

var shared struct {
	mu   sync.Mutex
	inst *instance
}

// Start returns the test binary's versitygw server, starting it if no running test holds
// it, and releases it when the test ends. It fails the test (never skips) when versitygw
// cannot be found, installed or started.
func Start(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	inst := shared.inst
	if inst == nil || inst.exited() {
		bin := Binary(t)
		var err error
		inst, err = launch(bin)
		if err != nil {
			t.Fatalf("start versitygw (%s): %v", bin, err)
		}
		shared.inst = inst
		t.Logf("versitygw %s serving %s (started in %v)", inst.url, inst.dir, inst.started.Round(time.Millisecond))
	}
	inst.refs++
	logStart := fileSize(inst.log)
	t.Cleanup(func() {
		if inst.exited() && !inst.stopping.Load() {
			t.Errorf("versitygw exited while the test was running (%v); its log %s:\n%s", inst.waitErr, inst.log, readFrom(inst.log, logStart))
		} else if t.Failed() {
			t.Logf("versitygw log %s during this test:\n%s", inst.log, readFrom(inst.log, logStart))
		}
		shared.mu.Lock()
		defer shared.mu.Unlock()
		inst.refs--
		if inst.refs == 0 {
			if shared.inst == inst {
				shared.inst = nil
			}
			inst.stop()
		}
	})
	return &Server{URL: inst.url, AccessKey: AccessKey, SecretKey: SecretKey, Dir: inst.dir, LogFile: inst.log}
}

// launch starts versitygw and waits until it answers an S3 request. Another process can
// take the free port between our probe and versitygw's bind, so a server that exits
// during start-up is retried on another port.
func launch(bin string) (*instance, error) {
	begin := time.Now()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		inst, diedEarly, err := launchOnce(bin)
		if err == nil {
			inst.started = time.Since(begin)
			return inst, nil
		}
		lastErr = err
		if !diedEarly {
			break // another port will not help
		}
	}
	return nil, lastErr
}

func launchOnce(bin string) (inst *instance, diedEarly bool, err error) {
	port, err := freePort()
	if err != nil {
		return nil, false, err
	}
	base, err := os.MkdirTemp("", "condachan-versitygw-")
	if err != nil {
		return nil, false, err
	}
	inst = &instance{
		url:  fmt.Sprintf("http://127.0.0.1:%d", port),
		base: base,
		dir:  filepath.Join(base, "data"),
		log:  filepath.Join(base, "versitygw.log"),
		done: make(chan struct{}),
	}
	if err := os.Mkdir(inst.dir, 0o755); err != nil {
		os.RemoveAll(base)
		return nil, false, err
	}
	logf, err := os.Create(inst.log)
	if err != nil {
		os.RemoveAll(base)
		return nil, false, err
	}
	inst.cmd = exec.Command(bin,
		"--access", AccessKey, "--secret", SecretKey,
		"--region", Region,
		"--keep-alive", // as AWS does; without it every response closes its connection
		"--port", fmt.Sprintf("127.0.0.1:%d", port),
		"posix", inst.dir)
	inst.cmd.Env = serverEnv()
	inst.cmd.Dir = base
	inst.cmd.Stdout = logf
	inst.cmd.Stderr = logf
	setProcAttr(inst.cmd)
	if err := inst.cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(base)
		return nil, false, err
	}
	go func() {
		inst.waitErr = inst.cmd.Wait()
		logf.Close()
		close(inst.done)
	}()
	if err := inst.waitReady(); err != nil {
		diedEarly = inst.exited()
		log := readFrom(inst.log, 0)
		inst.stop()
		return nil, diedEarly, fmt.Errorf("%w; its output:\n%s", err, log)
	}
	return inst, false, nil
}

// serverEnv is our environment without the variables versitygw reads its settings from,
// so that a developer's VGW_* settings cannot change the test server.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "VGW_"), strings.HasPrefix(name, "ROOT_ACCESS_KEY"),
			strings.HasPrefix(name, "ROOT_SECRET"), name == "LOGFILE", name == "WEBHOOK":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls with ListBuckets, a real signed S3 call, until it succeeds.
func (inst *instance) waitReady() error {
	client := newClient(inst.url, AccessKey, SecretKey, true)
	deadline := time.Now().Add(startTimeout)
	var err error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = client.ListBuckets(ctx, &s3.ListBucketsInput{})
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %v: %v", startTimeout, err)
		}
		select {
		case <-inst.done:
			return fmt.Errorf("versitygw exited (%v)", inst.waitErr)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (inst *instance) exited() bool {
	select {
	case <-inst.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, kills the process if it has not exited after stopTimeout, and
// removes its directory.
func (inst *instance) stop() {
	inst.stopping.Store(true)
	if !inst.exited() {
		if err := inst.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			inst.cmd.Process.Kill()
		}
		select {
		case <-inst.done:
		case <-time.After(stopTimeout):
			inst.cmd.Process.Kill()
			<-inst.done
		}
	}
	choresTransport.CloseIdleConnections()
	os.RemoveAll(inst.base)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns a log from offset on, cut to its last logTailBytes.
func readFrom(path string, offset int64) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read the log: %v)", err)
	}
	if offset > int64(len(data)) {
		offset = 0
	}
	data = data[offset:]
	if len(data) > logTailBytes {
		data = append([]byte("...\n"), data[len(data)-logTailBytes:]...)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return "(empty)"
	}
	return string(data)
}

// choresTransport carries the requests of newClient's clients, so that their idle
// connections are shared and closed when a server stops.
var choresTransport = &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8, IdleConnTimeout: 30 * time.Second}

// newClient is a bare SDK client for the server's own chores (readiness, buckets).
func newClient(endpoint, accessKey, secretKey string, noRetry bool) *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  staticCredentials(accessKey, secretKey),
		HTTPClient:   &http.Client{Transport: choresTransport},
		Retryer: func() aws.Retryer {
			if noRetry {
				return aws.NopRetryer{}
			}
			return nil
		}(),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

func staticCredentials(accessKey, secretKey string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey, Source: "s3test"}, nil
	})
}

// Client returns a plain SDK client for the server (path style, static credentials), for
// what the channel API does not offer.
func (s *Server) Client() *s3.Client {
	return newClient(s.URL, s.AccessKey, s.SecretKey, false)
}

var (
	bucketSeq    atomic.Int64
	notBucketish = regexp.MustCompile(`[^a-z0-9]+`)
)

// NewBucket creates a fresh bucket, named after the test and unique in the process, and
// returns its name. The bucket goes away with the server.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d-%s", bucketSeq.Add(1), notBucketish.ReplaceAllString(strings.ToLower(t.Name()), "-"))
	if len(name) > 63 {
		name = name[:63]
	}
	name = strings.TrimRight(name, "-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s on %s: %v", name, s.URL, err)
	}
	return name
}

// Options are s3store.Options for the server: its endpoint, path-style addressing,
// region us-east-1 and the static test credentials. Change fields (EndpointURL to a
// Proxy's URL, multipart sizes) and pass them to StoreWith.
func (s *Server) Options() s3store.Options {
	return s3store.Options{
		EndpointURL: s.URL,
		PathStyle:   true,
		Region:      Region,
		Credentials: staticCredentials(s.AccessKey, s.SecretKey),
	}
}

// Store opens the channel s3://bucket/prefix on the server.
func (s *Server) Store(t testing.TB, bucket, prefix string) *s3store.Store {
	t.Helper()
	return s.StoreWith(t, bucket, prefix, s.Options())
}

// StoreVia opens the channel s3://bucket/prefix on the server through a Proxy.
func (s *Server) StoreVia(t testing.TB, p *Proxy, bucket, prefix string) *s3store.Store {
	t.Helper()
	o := s.Options()
	o.EndpointURL = p.URL
	return s.StoreWith(t, bucket, prefix, o)
}

// StoreWith opens the channel s3://bucket/prefix with the given options (start from
// Options).
func (s *Server) StoreWith(t testing.TB, bucket, prefix string, o s3store.Options) *s3store.Store {
	t.Helper()
	st, err := s3store.New(context.Background(), bucket, prefix, o)
	if err != nil {
		t.Fatalf("open s3://%s/%s on %s: %v", bucket, prefix, o.EndpointURL, err)
	}
	return st
}

// Env is the environment that points the condachan binary, run as a subprocess, at the
// server: static credentials, region, endpoint and path-style addressing. It also blanks
// the settings that could send the SDK elsewhere (a profile, a session token, instance
// metadata). Append it to os.Environ(): later entries win.
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_SESSION_TOKEN=",
		"AWS_PROFILE=",
		"AWS_REGION=" + Region,
		"AWS_ENDPOINT_URL_S3=" + s.URL,
		"AWS_EC2_METADATA_DISABLED=true",
		"CONDACHAN_S3_PATH_STYLE=true",
	}
}

// StaticCredentials are fixed credentials for a store's options, for tests that open a
// store without a server.
func StaticCredentials(accessKey, secretKey string) aws.CredentialsProvider {
	return staticCredentials(accessKey, secretKey)
}

// PutRaw stores data at key as another tool would (a plain PUT: no condachan metadata,
// no condition).
func (s *Server) PutRaw(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	_, err := s.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// DeleteRaw deletes key as another tool would (no condition).
func (s *Server) DeleteRaw(t testing.TB, bucket, key string) {
	t.Helper()
	if _, err := s.Client().DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		t.Fatalf("delete %s: %v", key, err)
	}
}

// DirectGetter returns a function that reads an object straight from the server with a
// signed SDK GET on its own connection pool (conns idle connections): what a client that
// reads the bucket itself costs, for benchmarks against serve.
func (s *Server) DirectGetter(bucket string, conns int) func(ctx context.Context, key string) (io.ReadCloser, error) {
	client := s3.New(s3.Options{
		Region: Region, BaseEndpoint: aws.String(s.URL), UsePathStyle: true,
		Credentials:                staticCredentials(s.AccessKey, s.SecretKey),
		HTTPClient:                 &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	return func(ctx context.Context, key string) (io.ReadCloser, error) {
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return nil, err
		}
		return out.Body, nil
	}
}
