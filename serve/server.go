package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/condachan/condachan/input"
)

// ServerConfig describes how the handler is put on the network.
type ServerConfig struct {
	// Addr is the address to listen on (default 127.0.0.1:8080).
	Addr string
	// TLSCert and TLSKey are PEM files; with both set the server speaks HTTPS (and
	// HTTP/2). The files are read again when they change, so a renewed certificate is
	// picked up without a restart.
	TLSCert, TLSKey string
	// ShutdownTimeout bounds the graceful shutdown: requests still running after it are
	// cut off (default 30s).
	ShutdownTimeout time.Duration
	// ErrorLog receives the HTTP server's own errors (TLS handshakes, bad requests).
	ErrorLog io.Writer
}

// Listen opens the configured address.
func Listen(cfg ServerConfig) (net.Listener, error) {
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ln, err := net.Listen("tcp", addr)
	var bad *net.AddrError // not an address (a port in use is not the input's fault)
	switch {
	case errors.As(err, &bad):
		return nil, input.Mark(fmt.Errorf("listen on %s: %w (give HOST:PORT, e.g. 0.0.0.0:8080)", addr, err))
	case err != nil:
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// Serve answers requests on ln with h until ctx is cancelled (SIGTERM, SIGINT), then
// shuts down gracefully: it stops accepting connections, lets the requests in flight
// finish within the shutdown timeout, and returns nil. It returns an error when the
// server could not run.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cfg ServerConfig) error {
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: a large package to a slow worker may take long. Idle
		// keep-alive connections are closed after a while.
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if cfg.ErrorLog != nil {
		srv.ErrorLog = log.New(cfg.ErrorLog, "http: ", log.LstdFlags)
	}
	tlsOn := cfg.TLSCert != "" || cfg.TLSKey != ""
	if tlsOn {
		if cfg.TLSCert == "" || cfg.TLSKey == "" {
			ln.Close()
			return errors.New("TLS needs both a certificate and a key file")
		}
		kp := &keyPair{cert: cfg.TLSCert, key: cfg.TLSKey}
		if _, err := kp.get(nil); err != nil {
			ln.Close()
			return err
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: kp.get}
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		if tlsOn {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(zeroCopyListener(ln))
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
		err = fmt.Errorf("graceful shutdown: requests still running after %v were cut off", cfg.ShutdownTimeout)
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// keyPair loads a certificate and its key, and again when either file changes (checked
// at most every 30 seconds).
type keyPair struct {
	cert, key string

	mu      sync.Mutex
	loaded  *tls.Certificate
	stamp   string
	checked time.Time
}

func (k *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.loaded != nil && time.Since(k.checked) < 30*time.Second {
		return k.loaded, nil
	}
	k.checked = time.Now()
	stamp := fileStamp(k.cert) + "|" + fileStamp(k.key)
	if k.loaded != nil && stamp == k.stamp {
		return k.loaded, nil
	}
	c, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		if k.loaded != nil {
			return k.loaded, nil // keep the one that works until the new files are complete
		}
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", k.cert, k.key, err)
	}
	k.loaded, k.stamp = &c, stamp
	return k.loaded, nil
}

func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%d-%d", fi.Size(), fi.ModTime().UnixNano())
}
