// Package serve is condachan's read-only HTTP server for a conda channel: an http.Handler
// that puts any channel.Store (an S3 prefix or a local folder) behind plain HTTP, so that
// conda, mamba and pixi read it without S3 support of their own, and the server's
// lifecycle (the checks before listening, listening, TLS, graceful shutdown).
//
// What it serves: GET and HEAD of the channel's files, with the store's ETag and
// Last-Modified, conditional requests answered 304, single byte ranges answered 206 (the
// clients read .conda metadata with ranges), the channel's index pages for "/" and
// "/<subdir>/" (generated when the index did not write them). Repodata and the other
// small index files are kept in memory and revalidated against the store every few
// seconds, so any number of stateless replicas see a new index within seconds; packages
// are streamed from the store without being buffered, or redirected to a short-lived
// presigned S3 URL. Nothing under .condachan/, no dot-file and nothing outside the
// channel is ever served: a request path maps to a key only when it names a root index
// file, or a package or index file in a known subdir.
//
// Optional bearer-token and basic auth (also the /t/<TOKEN>/ path prefix conda, mamba
// and rattler use for channel tokens), an access log, /healthz and Prometheus /metrics.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
)

// Options configure a Handler. The zero value serves a public channel with the defaults.
type Options struct {
	// IndexMaxAge is the Cache-Control max-age of repodata, channeldata and index pages
	// (default 30s; negative: "no-cache", clients revalidate every time).
	IndexMaxAge time.Duration
	// Revalidate is how long an index file kept in memory is served before the store is
	// asked whether it changed (default 2s; negative: ask on every request).
	Revalidate time.Duration
	// CacheBytes is the memory budget for index files (default 256 MiB). Index files
	// larger than CacheMaxObject (default 64 MiB) are streamed like packages.
	CacheBytes     int64
	CacheMaxObject int64
	// Redirect answers package GETs with a 302 to a presigned GET URL of the object,
	// valid for PresignTTL (default 5m). Only for a store that can presign URLs
	// (channel.Presigner: S3).
	Redirect   bool
	PresignTTL time.Duration
	// Auth, when set, is required for every path but /healthz (and /metrics when
	// PublicMetrics).
	Auth          *Auth
	PublicMetrics bool
	// AccessLog receives one line per request; nil: no access log.
	AccessLog io.Writer
	// ErrorLog receives store failures (default: AccessLog).
	ErrorLog io.Writer
	// Title names the channel on generated index pages (default: the store's name).
	Title string
}

// Handler serves a channel. It is safe for concurrent use.
type Handler struct {
	store channel.Store
	// files is set for a store whose objects are local files (a folder): packages are
	// sent from the file.
	files channel.FileOpener
	// upstream is the direct path to a plain-HTTP S3 endpoint, or nil.
	upstream *upstream
	opts     Options
	cache    *cache
	m        *metrics
	presign  func(ctx context.Context, key string) (string, error)

	indexCC   []string // Cache-Control of index files and pages
	packageCC []string

	pagesMu sync.Mutex
	pages   map[string]*page // generated listings, by path

	writeStall time.Duration // how long one chunk of a body may take to reach the client

	logMu sync.Mutex
}

// New returns a Handler for the channel.
func New(store channel.Store, opts Options) (*Handler, error) {
	if opts.IndexMaxAge == 0 {
		opts.IndexMaxAge = 30 * time.Second
	}
	if opts.Revalidate == 0 {
		opts.Revalidate = 2 * time.Second
	}
	if opts.Revalidate < 0 {
		opts.Revalidate = 0
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = 256 << 20
	}
	if opts.CacheMaxObject <= 0 {
		opts.CacheMaxObject = 64 << 20
	}
	opts.CacheMaxObject = min(opts.CacheMaxObject, opts.CacheBytes)
	if opts.PresignTTL <= 0 {
		opts.PresignTTL = 5 * time.Minute
	}
	if opts.ErrorLog == nil {
		opts.ErrorLog = opts.AccessLog
	}
	if opts.Title == "" {
		opts.Title = store.String()
	}
	h := &Handler{store: store, opts: opts, m: newMetrics(), pages: map[string]*page{}, writeStall: time.Minute}
	h.files, _ = store.(channel.FileOpener)
	h.upstream = newUpstream(store, http.ProxyFromEnvironment)
	if h.upstream != nil {
		h.upstream.logf = h.errorf
	}
	h.cache = newCache(store, opts.Revalidate, opts.CacheMaxObject, opts.CacheBytes, h.m)
	// Responses to authenticated requests must not land in shared caches.
	visibility := "public"
	if opts.Auth != nil {
		visibility = "private"
	}
	if opts.IndexMaxAge < 0 {
		h.indexCC = []string{visibility + ", no-cache"}
	} else {
		h.indexCC = []string{fmt.Sprintf("%s, max-age=%d", visibility, int64(opts.IndexMaxAge/time.Second))}
	}
	h.packageCC = []string{visibility + ", max-age=31536000, immutable"}
	if opts.Redirect {
		if err := CheckRedirect(store); err != nil {
			return nil, err
		}
		presigner := store.(channel.Presigner)
		ttl := opts.PresignTTL
		h.presign = func(ctx context.Context, key string) (string, error) {
			return presigner.PresignGet(ctx, key, ttl)
		}
	}
	return h, nil
}

// ServeHTTP answers one request and records it in the metrics and the access log.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h.m.inFlight.Add(1)
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		h.m.inFlight.Add(-1)
		d := time.Since(start)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		h.m.observe(status, sw.bytes, d)
		if h.opts.AccessLog != nil {
			h.accessLog(r, status, sw.bytes, d)
		}
	}()
	h.serve(sw, r)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr["X-Content-Type-Options"] = vNosniff
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "only GET and HEAD")
		return
	}
	escaped := r.URL.EscapedPath()
	switch escaped {
	case "/healthz":
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		hdr.Set("Content-Length", "3")
		if r.Method == http.MethodGet {
			io.WriteString(w, "ok\n")
		}
		return
	case "/metrics":
		if !h.opts.PublicMetrics && !h.authorized(w, r, "") {
			return
		}
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		if r.Method == http.MethodGet {
			h.m.write(w)
		}
		return
	}
	token, rest := splitToken(escaped)
	rt, status := parsePath(rest)
	if status == http.StatusBadRequest {
		httpError(w, status, "malformed path")
		return
	}
	if !h.authorized(w, r, token) {
		return
	}
	if status != 0 {
		httpError(w, status, "not found")
		return
	}
	switch rt.kind {
	case kindSubdirNoSlash:
		// Relative, so that it also works behind a proxy that adds a path prefix.
		hdr.Set("Location", rt.subdir+"/")
		hdr["Cache-Control"] = h.indexCC
		w.WriteHeader(http.StatusMovedPermanently)
	case kindRootIndex:
		h.serveIndexFile(w, r, "index.html", h.indexCC, func(ctx context.Context) (*page, error) { return h.rootListing(ctx) })
	case kindSubdirIndex:
		sd := rt.subdir
		h.serveIndexFile(w, r, sd+"/index.html", h.indexCC, func(ctx context.Context) (*page, error) { return h.subdirListing(ctx, sd) })
	case kindIndexFile:
		cc := h.indexCC
		if rt.out.Caching == index.Immutable {
			cc = h.packageCC
		}
		h.serveIndexFile(w, r, rt.key, cc, nil)
	case kindPackage:
		h.servePackage(w, r, rt.key)
	default:
		httpError(w, http.StatusNotFound, "not found")
	}
}

// splitToken takes a conda channel token (/t/<TOKEN>/...) off the front of a path.
func splitToken(escaped string) (token, rest string) {
	after, ok := strings.CutPrefix(escaped, "/t/")
	if !ok {
		return "", escaped
	}
	tok, rest, ok := strings.Cut(after, "/")
	if !ok || tok == "" {
		return "", escaped
	}
	return tok, "/" + rest
}

// authorized checks the request's credentials when auth is on, answering 401 when they
// are missing or wrong.
func (h *Handler) authorized(w http.ResponseWriter, r *http.Request, token string) bool {
	a := h.opts.Auth
	if a == nil || a.allowed(r) || (token != "" && a.allowedToken(token)) {
		return true
	}
	h.m.authFailed.Add(1)
	a.challenge(w)
	httpError(w, http.StatusUnauthorized, "authentication required")
	return false
}

func httpError(w http.ResponseWriter, status int, msg string) {
	hdr := w.Header()
	hdr.Del("ETag")
	hdr.Del("Last-Modified")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(msg)+1))
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

// storeError answers a request the store failed: 404 for a missing object, 502 for
// anything else (the store is the upstream of this gateway).
func (h *Handler) storeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, channel.ErrNotFound) {
		httpError(w, http.StatusNotFound, "not found")
		return
	}
	if errors.Is(err, channel.ErrOutsideChannel) {
		// Answered like a missing file; the operator hears about the link.
		h.errorf("%s %s: %v", r.Method, redactPath(r.URL.EscapedPath()), err)
		httpError(w, http.StatusNotFound, "not found")
		return
	}
	if r.Context().Err() != nil {
		// The client went away; nobody reads the answer.
		httpError(w, http.StatusServiceUnavailable, "request cancelled")
		return
	}
	h.m.storeErrors.Add(1)
	h.errorf("%s %s: %v", r.Method, redactPath(r.URL.EscapedPath()), err)
	httpError(w, http.StatusBadGateway, "the channel store failed; see the server log")
}

func (h *Handler) errorf(format string, args ...any) {
	if h.opts.ErrorLog == nil {
		return
	}
	line := fmt.Sprintf("%s error: "+format+"\n", append([]any{time.Now().UTC().Format("2006-01-02T15:04:05.000Z")}, args...)...)
	h.logMu.Lock()
	defer h.logMu.Unlock()
	io.WriteString(h.opts.ErrorLog, line)
}

// Header values used on every answer, allocated once (the server only reads them).
var (
	vNosniff = []string{"nosniff"}
	vBytes   = []string{"bytes"}
	vCSP     = []string{"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"}
	vJSON    = []string{"application/json"}
	vZstd    = []string{"application/zstd"}
	vBzip2   = []string{"application/x-bzip2"}
	vHTML    = []string{"text/html; charset=utf-8"}
	vRSS     = []string{"application/rss+xml"}
	vOctets  = []string{"application/octet-stream"}
)

// contentType maps a channel key to its media type: an index.Outputs entry's, or a
// package's.
func contentType(key string) []string {
	name, root := key, true
	if _, rest, ok := strings.Cut(key, "/"); ok {
		name, root = rest, false
	}
	if out, ok := index.LookupOutput(name, root); ok {
		if v, ok := outputTypes[out.ContentType]; ok {
			return v
		}
		return []string{out.ContentType}
	}
	return vOctets // .conda, .tar.bz2
}

// outputTypes holds the Content-Type values of index.Outputs, allocated once.
var outputTypes = func() map[string][]string {
	m := map[string][]string{}
	for _, o := range index.Outputs {
		m[o.ContentType] = []string{o.ContentType}
	}
	return m
}()

// validators are an object's ETag and Last-Modified, as header values.
type validators struct {
	etag     string // quoted
	modified time.Time
	etagV    []string
	modV     []string
}

func newValidators(obj channel.Object) validators {
	v := validators{etag: quoteETag(obj.ETag), modified: obj.Modified}
	if v.etag != "" {
		v.etagV = []string{v.etag}
	}
	if !obj.Modified.IsZero() {
		v.modV = []string{obj.Modified.UTC().Format(http.TimeFormat)}
	}
	return v
}

// setCommon sets the headers every successful answer about one object carries.
func setCommon(w http.ResponseWriter, name string, val validators, cacheControl []string) {
	hdr := w.Header()
	hdr["Content-Type"] = contentType(name)
	hdr["Cache-Control"] = cacheControl
	hdr["Accept-Ranges"] = vBytes
	if val.etagV != nil {
		hdr["Etag"] = val.etagV
	}
	if val.modV != nil {
		hdr["Last-Modified"] = val.modV
	}
	if strings.HasSuffix(name, ".html") {
		// Index pages show package metadata: nothing in them may run.
		hdr["Content-Security-Policy"] = vCSP
	}
}

// plan is what to send of an object once the request was checked against it.
type plan struct {
	status int // 200 or 206
	off, n int64
}

// decide evaluates the request's preconditions and Range against an object of size
// bytes. done is true when the answer (304, 412, 416) has been written.
func decide(w http.ResponseWriter, r *http.Request, etag string, modified time.Time, size int64) (p plan, done bool) {
	switch precondition(r, etag, modified) {
	case http.StatusNotModified:
		w.Header().Del("Content-Type")
		w.Header().Del("Content-Security-Policy")
		w.WriteHeader(http.StatusNotModified)
		return p, true
	case http.StatusPreconditionFailed:
		httpError(w, http.StatusPreconditionFailed, "precondition failed")
		return p, true
	}
	p = plan{status: http.StatusOK, off: 0, n: size}
	br, ok := parseRange(r.Header.Get("Range"))
	if !ok || !ifRangeHolds(r, etag, modified) {
		return p, false
	}
	off, n, ok := br.resolve(size)
	if !ok {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		httpError(w, http.StatusRequestedRangeNotSatisfiable, "range not satisfiable")
		return p, true
	}
	return plan{status: http.StatusPartialContent, off: off, n: n}, false
}

// writeHead sends the status line and the length headers of a plan.
func writeHead(w http.ResponseWriter, p plan, size int64) {
	hdr := w.Header()
	hdr["Content-Length"] = []string{strconv.FormatInt(p.n, 10)}
	if p.status == http.StatusPartialContent {
		hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", p.off, p.off+p.n-1, size))
	}
	w.WriteHeader(p.status)
}

// serveIndexFile answers with a small index file from the cache. A missing index page
// falls back to a generated listing when gen is set.
func (h *Handler) serveIndexFile(w http.ResponseWriter, r *http.Request, key string, cacheControl []string, gen func(context.Context) (*page, error)) {
	v, stream, obj, err := h.cache.get(r.Context(), key)
	if errors.Is(err, channel.ErrNotFound) && gen != nil {
		pg, err := h.generated(r.Context(), key, gen)
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		v = pg.cached
		obj = v.obj
	} else if err != nil {
		h.storeError(w, r, err)
		return
	}
	if stream != nil {
		defer stream.Close()
		val := newValidators(obj)
		setCommon(w, key, val, cacheControl)
		p, done := decide(w, r, val.etag, val.modified, obj.Size)
		if done {
			return
		}
		writeHead(w, p, obj.Size)
		if r.Method == http.MethodHead {
			return
		}
		if p.off > 0 {
			if _, err := io.CopyN(io.Discard, stream, p.off); err != nil {
				return
			}
		}
		h.copyBody(w, r, stream, p.n)
		return
	}
	setCommon(w, key, v.val, cacheControl)
	p, done := decide(w, r, v.val.etag, v.val.modified, v.body.size)
	if done {
		return
	}
	if p.status == http.StatusOK {
		w.Header()["Content-Length"] = v.lenV
		w.WriteHeader(http.StatusOK)
	} else {
		writeHead(w, p, v.body.size)
	}
	if r.Method == http.MethodHead {
		return
	}
	h.copyBody(w, r, v.body.reader(p.off, p.n), p.n)
}

// servePackage answers with a package: from the file for a local channel, streamed from
// the store otherwise, or redirected to a presigned URL.
func (h *Handler) servePackage(w http.ResponseWriter, r *http.Request, key string) {
	if h.presign != nil && r.Method == http.MethodGet {
		u, err := h.presign(r.Context(), key)
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		h.m.redirects.Add(1)
		w.Header().Set("Location", u)
		// The URL expires: no cache may keep it.
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusFound)
		return
	}
	if h.files != nil {
		h.serveLocalPackage(w, r, key)
		return
	}
	ctx := r.Context()
	br, hasRange := parseRange(r.Header.Get("Range"))
	var rc io.ReadCloser
	var obj channel.Object
	var err error
	if r.Method == http.MethodHead || hasPreconditions(r) || (hasRange && br.start < 0) {
		// The answer depends on the object's ETag, date or size: ask first.
		obj, err = h.store.Stat(ctx, key)
		if err != nil {
			h.storeError(w, r, err)
			return
		}
	} else {
		// The common case takes one request to the store: a GET, whole or ranged.
		rc, obj, err = h.getPackage(ctx, key, hasRange, br.start, rangeLen(br))
		if err != nil && hasRange && !errors.Is(err, channel.ErrNotFound) {
			// Most likely a range past the end: look at the object to answer 416.
			obj, err = h.store.Stat(ctx, key)
		}
		if err != nil {
			h.storeError(w, r, err)
			return
		}
	}
	defer func() {
		if rc != nil {
			rc.Close()
		}
	}()
	val := newValidators(obj)
	setCommon(w, key, val, h.packageCC)
	p, done := decide(w, r, val.etag, val.modified, obj.Size)
	if done {
		return
	}
	if r.Method == http.MethodHead {
		writeHead(w, p, obj.Size)
		return
	}
	if rc != nil && hasRange != (p.status == http.StatusPartialContent) {
		// The stream opened is not the one to send (a range that did not apply).
		rc.Close()
		rc = nil
	}
	if rc == nil {
		var got channel.Object
		rc, got, err = h.getPackage(ctx, key, p.status == http.StatusPartialContent, p.off, p.n)
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		if got.ETag != obj.ETag || got.Size != obj.Size {
			// Replaced between the two requests (publish --force): the headers
			// already chosen would be wrong; let the client ask again.
			rc.Close()
			rc = nil
			httpError(w, http.StatusServiceUnavailable, "the package changed while it was read; try again")
			return
		}
	}
	writeHead(w, p, obj.Size)
	h.copyBody(w, r, rc, p.n)
}

// getPackage opens a package, or n bytes of it from off when ranged (to the end when
// n < 0): on the direct path where it applies, else through the store.
func (h *Handler) getPackage(ctx context.Context, key string, ranged bool, off, n int64) (io.ReadCloser, channel.Object, error) {
	if h.upstream != nil {
		body, obj, err := h.upstream.get(ctx, key, ranged, off, n)
		if !errors.Is(err, errUpstreamFallback) {
			if err != nil {
				return nil, obj, err
			}
			return body, obj, nil
		}
		h.m.upstreamFallbacks.Add(1)
	}
	if ranged {
		return h.store.GetRange(ctx, key, off, n)
	}
	return h.store.Get(ctx, key)
}

func rangeLen(br byteRange) int64 {
	if br.end < 0 {
		return -1
	}
	return br.end - br.start + 1
}

// serveLocalPackage sends a package from its file, with sendfile where the system has it.
func (h *Handler) serveLocalPackage(w http.ResponseWriter, r *http.Request, key string) {
	f, obj, err := h.files.OpenFile(r.Context(), key)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	defer f.Close()
	h.serveLocalFile(w, r, key, f, obj, h.packageCC)
}

// serveLocalFile answers with an open file of a local channel.
func (h *Handler) serveLocalFile(w http.ResponseWriter, r *http.Request, key string, rc io.ReadCloser, obj channel.Object, cacheControl []string) {
	val := newValidators(obj)
	setCommon(w, key, val, cacheControl)
	p, done := decide(w, r, val.etag, val.modified, obj.Size)
	if done {
		return
	}
	writeHead(w, p, obj.Size)
	if r.Method == http.MethodHead {
		return
	}
	if p.off > 0 {
		s, ok := rc.(io.Seeker)
		if !ok {
			return
		}
		if _, err := s.Seek(p.off, io.SeekStart); err != nil {
			return
		}
	}
	h.copyBody(w, r, rc, p.n)
}

// copyBody sends n bytes of body. A failure part-way leaves the response short of its
// Content-Length, which every client notices; it is logged unless the client left.
//
// Every chunk must reach the client within writeStall: a client that stops reading is
// dropped rather than holding a store connection and a goroutine for good, while a slow
// but moving download may take as long as it needs.
func (h *Handler) copyBody(w http.ResponseWriter, r *http.Request, body io.Reader, n int64) {
	rc := http.NewResponseController(w)
	deadline := func() { rc.SetWriteDeadline(time.Now().Add(h.writeStall)) }
	var sent int64
	var err error
	// A file, a cached body or an S3 socket goes out a chunk at a time, each under its own
	// write deadline, through ReadFrom (sendfile or splice where the system has them).
	var sendChunk func(max int64) (int64, error)
	switch src := body.(type) {
	case *os.File:
		sendChunk = func(max int64) (int64, error) { return io.Copy(w, io.LimitReader(src, max)) }
	case *bodyReader:
		sendChunk = func(max int64) (int64, error) {
			chunk := src.next(max)
			if mem, ok := chunk.inMemory(); ok {
				m, err := w.Write(mem)
				return int64(m), err
			}
			k, err := io.Copy(w, chunk)
			h.m.zeroCopyBytes.Add(chunk.zeroCopied)
			return k, err
		}
	case *upstreamBody:
		sendChunk = func(max int64) (int64, error) {
			// S3 too must keep sending within the stall limit.
			src.c.conn.SetReadDeadline(time.Now().Add(h.writeStall))
			chunk := src.next(max)
			k, err := io.Copy(w, chunk)
			if sc, ok := chunk.(*spliceChunk); ok {
				h.m.zeroCopyBytes.Add(sc.spliced)
			}
			return k, err
		}
	}
	if sendChunk != nil {
		for sent < n && err == nil {
			deadline()
			var k int64
			k, err = sendChunk(min(n-sent, sendfileChunk))
			sent += k
			if k == 0 && err == nil {
				break // the source is shorter than it said
			}
		}
	} else {
		// A stream from the store: large reads and writes, one pooled buffer.
		bp := copyBufs.Get().(*[]byte)
		sent, err = io.CopyBuffer(deadlineWriter{w, deadline}, io.LimitReader(body, n), *bp)
		copyBufs.Put(bp)
	}
	rc.SetWriteDeadline(time.Time{})
	if err == nil && sent < n {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && r.Context().Err() == nil {
		h.m.storeErrors.Add(1)
		h.errorf("%s %s: sent %d of %d bytes: %v", r.Method, redactPath(r.URL.EscapedPath()), sent, n, err)
	}
}

// sendfileChunk is how much of a file, cached body or S3 socket goes out under one
// write deadline.
const sendfileChunk = 4 << 20

// deadlineWriter renews the write deadline before each write. It hides ReadFrom, so
// io.CopyBuffer goes through Write with its own buffer.
type deadlineWriter struct {
	w     io.Writer
	renew func()
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.renew()
	return d.w.Write(p)
}

// copyBufs are the buffers streams from the store are copied through.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// statusWriter records the status and the body bytes of a response. It passes ReadFrom
// through, so that files still go out with sendfile.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(p)
	s.bytes += int64(n)
	return n, err
}

func (s *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(struct{ io.Writer }{s.ResponseWriter}, r)
	}
	s.bytes += n
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// redactPath hides a channel token in a path that is logged.
func redactPath(p string) string {
	if tok, rest := splitToken(p); tok != "" {
		p = "/t/<redacted>" + rest
	}
	if len(p) > 256 {
		p = p[:256] + "..."
	}
	return p
}

// accessLog writes one line: time, remote address, method, path, status, body bytes,
// duration (and the X-Forwarded-For chain behind a load balancer).
func (h *Handler) accessLog(r *http.Request, status int, bytes int64, d time.Duration) {
	b := make([]byte, 0, 160)
	b = time.Now().UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, ' ')
	b = append(b, r.RemoteAddr...)
	b = append(b, ' ')
	b = append(b, sanitize(r.Method, 16)...)
	b = append(b, ' ')
	b = append(b, sanitize(redactPath(r.URL.EscapedPath()), 300)...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, bytes, 10)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, float64(d.Microseconds())/1000, 'f', 3, 64)
	b = append(b, "ms"...)
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		b = append(b, " xff="...)
		b = append(b, sanitize(xff, 128)...)
	}
	b = append(b, '\n')
	h.logMu.Lock()
	defer h.logMu.Unlock()
	h.opts.AccessLog.Write(b)
}

// sanitize keeps a logged field on one line and within max bytes.
func sanitize(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return strconv.Quote(s)
		}
	}
	return s
}
