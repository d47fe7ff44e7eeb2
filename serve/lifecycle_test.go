package serve

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/s3test"
	"github.com/condachan/condachan/internal/testkit"
)

// writeBig writes a file of n pseudo-random (incompressible) bytes and returns its path
// and sha256.
func writeBig(t testing.TB, n int64) (string, [32]byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "big.conda")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	rng := mrand.NewChaCha8([32]byte{7})
	buf := make([]byte, 1<<20)
	for left := n; left > 0; left -= int64(len(buf)) {
		chunk := buf[:min(int64(len(buf)), left)]
		rng.Read(chunk)
		f.Write(chunk)
		h.Write(chunk)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return p, sum
}

// TestLargePackageStreams sends a 64 MiB package, eight times the server's memory
// budget, from a local channel and from versitygw, and checks that the server streams
// it: the bytes are right, and the whole process allocates a small fraction of the
// package's size while sending it (whole or as a range).
func TestLargePackageStreams(t *testing.T) {
	// Not parallel: the allocation count covers the whole process.
	const size = 64 << 20
	const budget = 8 << 20
	path, sum := writeBig(t, size)
	ctx := context.Background()
	local, err := channel.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := s3test.Start(t)
	stores := []struct {
		name  string
		store channel.Store
	}{{"local", local}, {"s3", srv.Store(t, srv.NewBucket(t), "big")}}
	const key = "linux-64/huge-1.0-0.conda"
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			if _, err := s.store.PutFile(ctx, key, path, channel.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			// A repodata.json larger than what is kept in memory streams as well.
			if _, err := s.store.PutFile(ctx, "linux-64/repodata.json", path, channel.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			cs := &countingStore{Store: s.store}
			server := startServer(t, cs, Options{CacheBytes: budget})
			c := newClient(t)
			for _, x := range []struct {
				name, path, rng string
				want            int64
			}{
				{"package", "/" + key, "", size},
				{"package range", "/" + key, "bytes=1048576-", size - 1<<20},
				{"repodata past the budget", "/linux-64/repodata.json", "", size},
			} {
				t.Run(x.name, func(t *testing.T) {
					req, _ := http.NewRequest("GET", server.URL+x.path, nil)
					if x.rng != "" {
						req.Header.Set("Range", x.rng)
					}
					runtime.GC()
					var before, after runtime.MemStats
					runtime.ReadMemStats(&before)
					resp, err := c.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					h := sha256.New()
					n, err := io.Copy(h, resp.Body)
					resp.Body.Close()
					runtime.ReadMemStats(&after)
					if err != nil || n != x.want {
						t.Fatalf("read %d bytes of %d: %v", n, x.want, err)
					}
					if x.rng == "" {
						var got [32]byte
						copy(got[:], h.Sum(nil))
						if got != sum {
							t.Fatal("the body differs from the package")
						}
					}
					allocated := after.TotalAlloc - before.TotalAlloc
					t.Logf("%s %s: %d MiB sent, %.2f MiB allocated by the process meanwhile, heap in use %d -> %d MiB",
						s.name, x.name, n>>20, float64(allocated)/(1<<20), before.HeapInuse>>20, after.HeapInuse>>20)
					if allocated > budget/2 {
						t.Errorf("the process allocated %d bytes while streaming %d: the body was buffered", allocated, n)
					}
				})
			}
			if cs.buffered.Load() != 0 {
				t.Errorf("the server read %d bytes through ReadRange (buffered)", cs.buffered.Load())
			}
		})
	}
}

// TestRedirect checks --redirect on S3: package GETs get a presigned URL that a plain
// client can follow, HEAD and repodata are answered by the server itself.
func TestRedirect(t *testing.T) {
	t.Parallel()
	tc := s3Channel(t)
	srv := startServer(t, tc.store, Options{Redirect: true, PresignTTL: time.Minute})
	c := newClient(t)
	got := do(t, c, "GET", srv.URL+"/"+tc.big, nil)
	if got.status != http.StatusFound || got.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET package: %d %v", got.status, got.header)
	}
	loc := got.header.Get("Location")
	if !strings.Contains(loc, "X-Amz-Signature=") || !strings.Contains(loc, "X-Amz-Expires=60") || !strings.Contains(loc, "/Conda/Default/"+tc.big) {
		t.Errorf("Location %s", loc)
	}
	follow := &http.Client{Timeout: 30 * time.Second}
	resp := do(t, follow, "GET", srv.URL+"/"+tc.big, nil)
	if resp.status != 200 || string(resp.body) != string(tc.files[tc.big]) {
		t.Errorf("following the redirect: %d, %d bytes", resp.status, len(resp.body))
	}
	resp = do(t, follow, "GET", srv.URL+"/"+tc.big, map[string]string{"Range": "bytes=0-99"})
	if resp.status != 206 || string(resp.body) != string(tc.files[tc.big][:100]) {
		t.Errorf("ranged GET through the redirect: %d, %d bytes", resp.status, len(resp.body))
	}
	if h := do(t, c, "HEAD", srv.URL+"/"+tc.big, nil); h.status != 200 || h.header.Get("Content-Length") == "" {
		t.Errorf("HEAD package: %d", h.status)
	}
	if r := do(t, c, "GET", srv.URL+"/linux-64/repodata.json", nil); r.status != 200 || string(r.body) != string(tc.files["linux-64/repodata.json"]) {
		t.Errorf("repodata: %d", r.status)
	}
	if r := do(t, c, "GET", srv.URL+"/.condachan/secret.json", nil); r.status != 400 {
		t.Errorf("internal object with --redirect: %d", r.status)
	}
}

// TestGracefulShutdown cancels the server's context while a large download is running:
// new connections are refused, the download completes, Serve returns nil.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	const size = 16 << 20
	path, sum := writeBig(t, size)
	st, err := channel.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutFile(context.Background(), "noarch/slow-1-0.conda", path, channel.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	h, err := New(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(ServerConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, ServerConfig{ShutdownTimeout: 20 * time.Second}) }()
	url := "http://" + ln.Addr().String()
	resp, err := http.Get(url + "/noarch/slow-1-0.conda")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	hsh := sha256.New()
	if _, err := io.CopyN(hsh, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	cancel() // SIGTERM
	// The listener closes at once.
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections after shutdown began")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) while a download was running", err)
	default:
	}
	if _, err := io.Copy(hsh, resp.Body); err != nil {
		t.Fatalf("the download was cut: %v", err)
	}
	var got [32]byte
	copy(got[:], hsh.Sum(nil))
	if got != sum {
		t.Fatal("the download is corrupt")
	}
	resp.Body.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the last request")
	}
}

// TestTLS serves over HTTPS with a certificate from files.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "condachan test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)

	tc := localChannel(t)
	srv := startServerWith(t, tc.store, Options{}, ServerConfig{Addr: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile})
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
	resp, err := c.Get(srv.URL + "/noarch/repodata.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != string(tc.files["noarch/repodata.json"]) || resp.TLS == nil {
		t.Fatalf("HTTPS GET: %d", resp.StatusCode)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("HTTPS spoke %s, expected HTTP/2", resp.Proto)
	}
	// A cached index file large enough for a memfd cannot go out with sendfile over TLS:
	// it is read and encrypted like any other body.
	large := randomBytes(3*zeroCopyMin+17, 9)
	if _, err := tc.store.Put(context.Background(), "noarch/repodata.json.zst", bytes.NewReader(large), int64(len(large)), channel.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, rng := range []string{"", "bytes=100-40000"} {
		req, _ := http.NewRequest("GET", srv.URL+"/noarch/repodata.json.zst", nil)
		want := large
		if rng != "" {
			req.Header.Set("Range", rng)
			want = large[100:40001]
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("HTTPS GET of a large index file (Range %q): %d, %d bytes, expected %d (%v)", rng, resp.StatusCode, len(got), len(want), err)
		}
	}

	// A key without its certificate is refused before serving.
	ln, err := Listen(ServerConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := Serve(context.Background(), ln, http.NotFoundHandler(), ServerConfig{TLSKey: keyFile}); err == nil {
		t.Error("Serve accepted a key without a certificate")
	}
	ln, err = Listen(ServerConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := Serve(context.Background(), ln, http.NotFoundHandler(), ServerConfig{TLSCert: keyFile, TLSKey: certFile}); err == nil {
		t.Error("Serve accepted a swapped certificate and key")
	}
}

// TestCondaPackageStreamingReadsOverHTTP has a reader that is not ours,
// conda-package-streaming's URL reader (Debian's python3-conda-package-streaming), read
// package metadata from the server the way conda does: with range requests, never the
// whole package.
func TestCondaPackageStreamingReadsOverHTTP(t *testing.T) {
	t.Parallel()
	testkit.RequirePythonModules(t, "conda_package_streaming.url")
	for _, tc := range backends(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, tc.store, Options{})
			script := `
import json, sys
from conda_package_streaming.url import stream_conda_info
for url in sys.argv[1:]:
    for tar, member in stream_conda_info(url):
        if member.name == "info/index.json":
            print(json.loads(tar.extractfile(member).read())["name"])
`
			out := testkit.Run(t, t.TempDir(), testkit.Python, "-c", script, srv.URL+"/"+tc.big, srv.URL+"/"+tc.small)
			if got := strings.Fields(string(out)); len(got) != 2 || got[0] != "bigdata" || got[1] != "alpha" {
				t.Fatalf("conda-package-streaming read %q", out)
			}
			log := srv.log.String()
			if !strings.Contains(log, " GET /"+tc.big+" 206 ") {
				t.Errorf("no ranged read of %s in the access log:\n%s", tc.big, log)
			}
			if strings.Contains(log, " GET /"+tc.big+" 200 ") {
				t.Errorf("the whole package was read:\n%s", log)
			}
		})
	}
}
