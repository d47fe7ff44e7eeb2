package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/condachan/condachan/internal/s3test"
)

// lockedBuffer is a bytes.Buffer the server goroutine and the test can share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeCommand runs `condachan serve` on a local folder with auth, fetches a file,
// and stops it the way SIGTERM does (the command's context is cancelled).
func TestServeCommand(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "noarch"), 0o755)
	os.WriteFile(filepath.Join(dir, "noarch", "repodata.json"), []byte(`{"packages":{}}`), 0o644)
	authFile := filepath.Join(t.TempDir(), "auth")
	os.WriteFile(authFile, []byte("bearer tok123\n"), 0o600)

	var stderr lockedBuffer
	cmd := newServeCommand(io.Discard, &stderr)
	cmd.SetArgs([]string{"--channel", dir, "--addr", "127.0.0.1:0", "--auth-file", authFile, "--revalidate", "0", "--repodata-max-age", "0"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	addr := regexp.MustCompile(`on http://(127\.0\.0\.1:\d+)/`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; {
		if m := addr.FindStringSubmatch(stderr.String()); m != nil {
			base = "http://" + m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no address announced:\n%s", stderr.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	req, _ := http.NewRequest("GET", base+"/noarch/repodata.json", nil)
	req.Header.Set("Authorization", "Bearer tok123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"packages":{}}` || resp.Header.Get("Cache-Control") != "private, no-cache" {
		t.Errorf("GET: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, err = http.Get(base + "/noarch/repodata.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("GET without the token: %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	if log := stderr.String(); !strings.Contains(log, " GET /noarch/repodata.json 200 ") || !strings.Contains(log, "stopped") {
		t.Errorf("stderr:\n%s", log)
	}
}

// TestServeCommandUsage checks the flag combinations serve refuses.
func TestServeCommandUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--addr", "127.0.0.1:0"}, // no channel
		{"--channel", dir, "--redirect", "--addr", "127.0.0.1:0"},
		{"--channel", dir, "--tls-cert", "x.pem", "--addr", "127.0.0.1:0"},
		{"--channel", dir, "--auth-file", filepath.Join(dir, "missing"), "--addr", "127.0.0.1:0"},
	} {
		cmd := newServeCommand(io.Discard, io.Discard)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(context.Background())
		if err == nil || exitCode(err) != exitUsage {
			t.Errorf("serve %v: %v, want a usage error", args, err)
		}
	}
}

// --redirect is refused, as a usage error naming the ability, for a channel that cannot
// presign URLs (a folder).
func TestServeRedirectNeedsPresigner(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runRefused(t, "serve", "--channel", dir, "--redirect", "--addr", "127.0.0.1:0")
	if code != exitUsage || !strings.Contains(stderr, "--redirect needs a channel that can presign URLs (an S3 channel); "+dir+" cannot") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

// serve refuses a bucket that does not exist, as it refuses a folder that does not: a
// mistyped channel is not served as an empty one.
func TestServeRefusesMissingBucket(t *testing.T) {
	srv := s3test.Start(t)
	doctorIsolateAWS(t)
	doctorSetEnv(t, srv.Env())
	code, _, stderr := runCLI(t, "serve", "--channel", "s3://condachan-no-such-bucket/Conda", "--addr", "127.0.0.1:0")
	if code != exitUsage || !strings.Contains(stderr, "bucket condachan-no-such-bucket does not exist") {
		t.Errorf("exit %d, want %d:\n%s", code, exitUsage, stderr)
	}
}
