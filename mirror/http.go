package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/condachan/condachan/mirror/lockfile"
)

// Upstream fetches packages from the URLs their locks give, over HTTP(S), honouring the
// standard proxy variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY). Each package is written
// to Cache under its hash once verified, so a re-run after a failure fetches only what
// is missing.
type Upstream struct {
	// Cache holds verified downloads until they are in the channel (or the bundle).
	Cache string
	// Client sends the requests (default: proxy variables honoured, 60 s to the first
	// response byte).
	Client *http.Client
	// UserAgent names condachan to upstream servers.
	UserAgent string
	// Stall is how long a download may receive nothing before it is retried (default 2m).
	Stall time.Duration
	// Attempts is how often a package is requested before its failure stops the run
	// (default 3); 404 and hash mismatches are not retried.
	Attempts int
	// Backoff is the wait before the first retry, doubled after each (default 1s).
	Backoff time.Duration
}

func (u *Upstream) defaults() {
	if u.Client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = 60 * time.Second
		t.MaxIdleConnsPerHost = 16
		u.Client = &http.Client{Transport: t}
	}
	if u.Stall <= 0 {
		u.Stall = 2 * time.Minute
	}
	if u.Attempts <= 0 {
		u.Attempts = 3
	}
	if u.Backoff <= 0 {
		u.Backoff = time.Second
	}
}

// cachePath is where a verified download of p is kept: named by its hash, so that two
// channels' files of one name never meet.
func (u *Upstream) cachePath(p lockfile.Package) string {
	h := p.SHA256
	if h == "" {
		h = "md5-" + p.MD5
	}
	return filepath.Join(u.Cache, strings.ToLower(h)+"-"+p.Filename)
}

// fetch returns a verified local copy of p: the cached one, or a new download.
func (u *Upstream) fetch(ctx context.Context, p lockfile.Package) (verified, error) {
	path := u.cachePath(p)
	if h, err := hashFile(path); err == nil && h.check(p, path) == nil {
		return verified{pkg: p, path: path, size: h.size, sha256: h.sha256, md5: h.md5, cached: true}, nil
	}
	var last *DownloadError
	wait := u.Backoff
	for attempt := 1; attempt <= u.Attempts; attempt++ {
		h, err := u.download(ctx, p, path)
		if err == nil {
			return verified{pkg: p, path: path, size: h.size, sha256: h.sha256, md5: h.md5, cached: true}, nil
		}
		var de *DownloadError
		if !errors.As(err, &de) {
			return verified{}, err // a hash mismatch, or the cache folder failed
		}
		de.Attempts, last = attempt, de
		if !retryable(de) || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		wait *= 2
	}
	return verified{}, last
}

// retryable reports whether another request might succeed: not after a definite answer
// (4xx other than 408 and 429).
func retryable(e *DownloadError) bool {
	if e.Status == 0 {
		return true
	}
	return e.Status >= 500 || e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests
}

// download makes one request for p and writes the verified body to path.
func (u *Upstream) download(ctx context.Context, p lockfile.Package, path string) (hashes, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	fail := func(status int, got int64, err error) error {
		if cause := context.Cause(ctx); cause != nil && errors.Is(err, context.Canceled) {
			err = cause
		}
		de := &DownloadError{Package: p, URL: p.URL, Status: status, Got: got, Err: err}
		switch {
		case status == http.StatusNotFound || status == http.StatusGone:
			de.Hint = "upstream no longer has it (a channel removed the file): make the lock again, or mirror from a bundle packed when it was there"
		case status == http.StatusForbidden || status == http.StatusUnauthorized:
			de.Hint = "upstream refused it: check the URL's credentials or the proxy"
		case status == 0:
			de.Hint = "check the network and the proxy variables (HTTPS_PROXY, NO_PROXY)"
		}
		return de
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return hashes{}, fail(0, 0, err)
	}
	if u.UserAgent != "" {
		req.Header.Set("User-Agent", u.UserAgent)
	}
	resp, err := u.Client.Do(req)
	if err != nil {
		return hashes{}, fail(0, 0, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return hashes{}, fail(resp.StatusCode, 0, errors.New(resp.Status))
	}
	body := &stallReader{r: resp.Body, stall: u.Stall, cancel: cancel}
	defer body.stop()
	h, err := writeVerified(path, body, p, p.URL)
	var mismatch *HashMismatchError
	switch {
	case errors.As(err, &mismatch):
		return h, err
	case err != nil && body.failed:
		return h, fail(0, h.size, err)
	case err != nil:
		return h, fmt.Errorf("cache %s: %w", path, err)
	}
	return h, nil
}

// stallReader cancels a download that receives nothing for the stall time: a connection
// that stays open without sending would otherwise hold a worker forever.
type stallReader struct {
	r      io.Reader
	stall  time.Duration
	cancel context.CancelCauseFunc
	timer  *time.Timer
	failed bool // the body, not the cache file, failed
}

func (s *stallReader) Read(p []byte) (int, error) {
	if s.timer == nil {
		s.timer = time.AfterFunc(s.stall, func() {
			s.cancel(fmt.Errorf("nothing received for %s", s.stall))
		})
	} else {
		s.timer.Reset(s.stall)
	}
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.failed = true
		if err == io.ErrUnexpectedEOF {
			err = errors.New("the connection closed before the whole file arrived")
		}
	}
	return n, err
}

func (s *stallReader) stop() {
	if s.timer != nil {
		s.timer.Stop()
	}
}

// removeCached removes the cached copies of packages that are now in the channel.
func (u *Upstream) removeCached(pkgs []lockfile.Package) {
	for _, p := range pkgs {
		os.Remove(u.cachePath(p))
	}
	os.Remove(u.Cache) // only when empty
}
