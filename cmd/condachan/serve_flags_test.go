package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/internal/testkit"
	"github.com/condachan/condachan/serve"
)

// runRefused runs a command that must fail: one that serves instead is reported after
// 10s rather than hanging the test (its goroutine is left behind).
func runRefused(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		var out, errb lockedBuffer
		code := run(args, strings.NewReader(""), &out, &errb)
		done <- result{code, out.String(), errb.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.stdout, r.stderr
	case <-time.After(10 * time.Second):
		t.Fatalf("condachan %s still runs after 10s instead of refusing", strings.Join(args, " "))
		return 0, "", ""
	}
}

// A certificate or key that cannot be used is refused (exit 2, naming the flag and
// file) before the server listens and announces itself; so is a --presign-ttl S3 would
// not honour.
func TestServeRefusesBadTLSAndPresignTTL(t *testing.T) {
	ch := t.TempDir()
	dir := t.TempDir()
	cert, key := testkit.SelfSignedKeyPair(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not PEM\n"), 0o644)
	otherCert, _ := testkit.SelfSignedKeyPair(t, t.TempDir()) // another key's certificate
	missing := filepath.Join(dir, "missing.pem")
	cases := []struct {
		name  string
		flags []string
		want  []string
	}{
		{"missing certificate", []string{"--tls-cert", missing, "--tls-key", key}, []string{"--tls-cert", missing}},
		{"missing key", []string{"--tls-cert", cert, "--tls-key", missing}, []string{"--tls-key", missing}},
		{"certificate not PEM", []string{"--tls-cert", garbage, "--tls-key", key}, []string{"--tls-cert " + garbage, "--tls-key " + key, "PEM"}},
		{"key not PEM", []string{"--tls-cert", cert, "--tls-key", garbage}, []string{"--tls-key " + garbage}},
		{"key of another certificate", []string{"--tls-cert", otherCert, "--tls-key", key}, []string{"--tls-cert " + otherCert, "--tls-key " + key}},
		{"presign-ttl zero", []string{"--presign-ttl", "0s"}, []string{"--presign-ttl 0s", "7 days"}},
		{"presign-ttl negative", []string{"--presign-ttl", "-1m"}, []string{"--presign-ttl -1m0s"}},
		{"presign-ttl over 7 days", []string{"--presign-ttl", "168h1s"}, []string{"--presign-ttl 168h0m1s", "at most 168h"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"serve", "--channel", ch, "--addr", "127.0.0.1:0"}, c.flags...)
			code, stdout, stderr := runRefused(t, args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitUsage, stdout, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "://127.0.0.1") {
				t.Errorf("the server announced itself before refusing:\n%s", stderr)
			}
		})
	}
	if err := serve.CheckKeyPair(cert, key); err != nil {
		t.Errorf("a good certificate and key: %v", err)
	}
	// 7 days is allowed: this run gets past the flags and stops at the missing channel.
	code, _, stderr := runRefused(t, "serve", "--channel", filepath.Join(ch, "nope"), "--addr", "127.0.0.1:0", "--redirect", "--presign-ttl", "168h", "--tls-cert", cert, "--tls-key", key)
	if code != exitUsage || !strings.Contains(stderr, "no channel at") {
		t.Errorf("--presign-ttl 168h: %d %s", code, stderr)
	}
}
