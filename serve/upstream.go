package serve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/condachan/condachan/channel"
)

// upstream fetches packages from an S3 endpoint that speaks plain HTTP (an S3-compatible
// server on the studio network: MinIO, Ceph, versitygw) over connections of its own,
// with presigned GETs (a store that is a channel.SignedGetter), so that a package's
// bytes go from the S3 socket to the client's with splice(2) and never through the
// process. Through the SDK every byte is copied in and out of the process; that copying
// was most of the server's CPU time, and with the server beside the S3 server on one
// CPU it held package downloads to 70% of direct reads.
//
// It is an optimisation only. Anything but a plain 200 or 206 with a length (an error,
// a redirect, a dead connection) sends the request the store's way (Store.Get or
// GetRange: the SDK), which has the retries and the error handling; a 404 alone is
// answered directly. An HTTPS endpoint (AWS) or one reached through a proxy is never
// spoken to this way: TLS bytes cannot be spliced.
type upstream struct {
	src  channel.SignedGetter
	dial func(ctx context.Context, addr string) (net.Conn, error)

	mu   sync.Mutex
	idle []idleConn // most recently used last

	// refusals counts S3 error answers in a row; past upstreamRefusalsMax the path is
	// given up (a server that refuses presigned URLs would cost every request twice).
	refusals atomic.Int64
	off      atomic.Bool
	logf     func(format string, args ...any)
}

type idleConn struct {
	conn  *net.TCPConn
	br    *bufio.Reader
	addr  string // as dialled
	since time.Time
}

const (
	// upstreamIdleMax and upstreamIdleFor bound the kept-alive connections to S3. S3
	// servers close idle connections after some seconds (AWS after about 20), and a
	// request on a connection closed under it is sent again on a new one.
	upstreamIdleMax     = 64
	upstreamIdleFor     = 15 * time.Second
	upstreamRefusalsMax = 16
	// upstreamHeaderTimeout bounds the wait for the response headers, as the SDK's
	// client does.
	upstreamHeaderTimeout = 2 * time.Minute
)

// errUpstreamFallback sends a request the SDK's way.
var errUpstreamFallback = errors.New("not for the direct path")

// newUpstream returns the direct path for the store, or nil when it does not apply.
// proxy is how the SDK's client picks a proxy (http.ProxyFromEnvironment).
func newUpstream(store channel.Store, proxy func(*http.Request) (*url.URL, error)) *upstream {
	st, ok := store.(channel.SignedGetter)
	if !ok {
		return nil
	}
	ep, err := url.Parse(st.Endpoint())
	if err != nil || ep.Scheme != "http" {
		return nil
	}
	if proxy != nil {
		if p, err := proxy(&http.Request{Method: http.MethodGet, URL: ep, Header: http.Header{}}); err != nil || p != nil {
			return nil
		}
	}
	d := &net.Dialer{Timeout: st.ConnectTimeout(), KeepAlive: 30 * time.Second}
	return &upstream{
		src:  st,
		dial: func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) },
	}
}

// get sends a GET of key, of the bytes from off (n of them, or to the end when n < 0)
// when ranged, and returns its body and the object it describes.
func (u *upstream) get(ctx context.Context, key string, ranged bool, off, n int64) (*upstreamBody, channel.Object, error) {
	if u.off.Load() {
		return nil, channel.Object{}, errUpstreamFallback
	}
	rng := ""
	if ranged {
		if n == 0 {
			return nil, channel.Object{}, errUpstreamFallback // S3 cannot express it
		}
		rng = fmt.Sprintf("bytes=%d-", off)
		if n > 0 {
			rng = fmt.Sprintf("bytes=%d-%d", off, off+n-1)
		}
	}
	req, err := u.src.SignedGet(ctx, key, rng, time.Minute)
	if err != nil {
		return nil, channel.Object{}, errUpstreamFallback
	}
	target := req.URL
	if target.Scheme != "http" {
		return nil, channel.Object{}, errUpstreamFallback
	}
	req.Header.Set("User-Agent", "condachan-serve")
	addr := target.Host
	if target.Port() == "" {
		addr = net.JoinHostPort(target.Hostname(), "80")
	}

	// A kept-alive connection may have been closed by the server meanwhile: the request
	// then goes again on a new one (a GET may be sent twice).
	for attempt := 0; attempt < 2; attempt++ {
		c, reused := u.take(addr)
		if c.conn == nil {
			conn, err := u.dial(ctx, addr)
			if err != nil {
				return nil, channel.Object{}, errUpstreamFallback
			}
			tc, ok := conn.(*net.TCPConn)
			if !ok {
				conn.Close()
				return nil, channel.Object{}, errUpstreamFallback
			}
			c = idleConn{conn: tc, br: bufio.NewReaderSize(tc, 8<<10), addr: addr}
		}
		resp, err := u.roundTrip(ctx, c, req)
		if err != nil {
			c.conn.Close()
			if reused && ctx.Err() == nil {
				continue
			}
			return nil, channel.Object{}, errUpstreamFallback
		}
		return u.answer(key, c, resp, ranged)
	}
	return nil, channel.Object{}, errUpstreamFallback
}

// roundTrip sends the request and reads the response headers, within the header timeout
// and for no longer than the request lives.
func (u *upstream) roundTrip(ctx context.Context, c idleConn, req *http.Request) (*http.Response, error) {
	c.conn.SetDeadline(time.Now().Add(upstreamHeaderTimeout))
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Now()) })
	defer stop()
	bw := bufio.NewWriterSize(c.conn, 2<<10)
	if err := req.Write(bw); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		return nil, err
	}
	c.conn.SetDeadline(time.Time{})
	return resp, nil
}

// answer turns a response into a body to send, or into the reason not to.
func (u *upstream) answer(key string, c idleConn, resp *http.Response, ranged bool) (*upstreamBody, channel.Object, error) {
	want := http.StatusOK
	if ranged {
		want = http.StatusPartialContent
	}
	keepAlive := !resp.Close
	if resp.StatusCode != want || resp.ContentLength < 0 || len(resp.TransferEncoding) > 0 {
		// An error document is small: read it so that the connection can be kept.
		if resp.ContentLength >= 0 && resp.ContentLength <= 64<<10 && resp.StatusCode >= 300 {
			c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, resp.Body); err == nil && keepAlive {
				c.conn.SetReadDeadline(time.Time{})
				u.put(c)
			} else {
				c.conn.Close()
			}
		} else {
			c.conn.Close()
		}
		if resp.StatusCode == http.StatusNotFound {
			return nil, channel.Object{}, fmt.Errorf("%s: %w", key, channel.ErrNotFound)
		}
		if n := u.refusals.Add(1); n == upstreamRefusalsMax && u.off.CompareAndSwap(false, true) && u.logf != nil {
			u.logf("S3 answered %d direct GETs in a row with an error (the last: %s); packages go through the SDK from now on", n, resp.Status)
		}
		return nil, channel.Object{}, errUpstreamFallback
	}
	u.refusals.Store(0)
	obj := channel.Object{Key: key, Size: resp.ContentLength, ETag: resp.Header.Get("ETag")}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		obj.Modified = t
	}
	if ranged {
		// Content-Range: bytes a-b/total gives the whole object's size.
		cr := resp.Header.Get("Content-Range")
		i := strings.LastIndexByte(cr, '/')
		total, err := strconv.ParseInt(cr[i+1:], 10, 64)
		if i < 0 || err != nil {
			c.conn.Close()
			return nil, channel.Object{}, errUpstreamFallback
		}
		obj.Size = total
	}
	return &upstreamBody{u: u, c: c, left: resp.ContentLength, keepAlive: keepAlive}, obj, nil
}

// take returns a kept-alive connection to addr, if there is a fresh one.
func (u *upstream) take(addr string) (idleConn, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for len(u.idle) > 0 {
		c := u.idle[len(u.idle)-1]
		u.idle = u.idle[:len(u.idle)-1]
		if time.Since(c.since) < upstreamIdleFor && c.addr == addr {
			return c, true
		}
		c.conn.Close()
	}
	return idleConn{}, false
}

// put keeps a connection whose response was read to the end.
func (u *upstream) put(c idleConn) {
	if c.br.Buffered() > 0 {
		c.conn.Close() // bytes nobody asked for: the stream is out of step
		return
	}
	c.since = time.Now()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.idle) >= upstreamIdleMax {
		c.conn.Close()
		return
	}
	u.idle = append(u.idle, c)
}

// upstreamBody is a response body on a connection of the direct path.
type upstreamBody struct {
	u         *upstream
	c         idleConn
	left      int64
	keepAlive bool
	failed    bool
}

// Read reads the body through the connection's buffer (TLS clients, HTTP/2, and the
// first bytes net/http reads itself).
func (b *upstreamBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), b.left)]
	n, err := b.c.br.Read(p)
	b.left -= int64(n)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		b.failed = true
	}
	return n, err
}

// next returns a reader of at most max of the bytes left. Past the bytes the header read
// buffered, it reads the socket itself, which the client's connection splices from.
func (b *upstreamBody) next(max int64) io.Reader {
	if buffered := b.c.br.Buffered(); buffered > 0 {
		return io.LimitReader(b, min(max, int64(buffered)))
	}
	return &spliceChunk{b: b, lr: io.LimitedReader{R: b.c.conn, N: min(max, b.left)}}
}

// Close keeps the connection when the body was read to the end, and closes it otherwise.
func (b *upstreamBody) Close() error {
	if b.c.conn == nil {
		return nil
	}
	c := b.c
	b.c.conn = nil
	if b.left == 0 && b.keepAlive && !b.failed {
		c.conn.SetDeadline(time.Time{})
		b.u.put(c)
		return nil
	}
	return c.conn.Close()
}

// spliceChunk is a piece of an upstream body read straight from the socket: the
// client's connection recognises it and splices it (zeroCopyConn.ReadFrom).
type spliceChunk struct {
	b       *upstreamBody
	lr      io.LimitedReader
	spliced int64
}

func (s *spliceChunk) Read(p []byte) (int, error) {
	n, err := s.lr.Read(p)
	if errors.Is(err, io.EOF) && s.lr.N > 0 {
		err = io.ErrUnexpectedEOF // the S3 server closed before the length it announced
	}
	s.b.account(int64(n), err)
	return n, err
}

// account records n bytes taken from the socket, and whether the socket failed.
func (b *upstreamBody) account(n int64, err error) {
	b.left -= n
	if err != nil && !errors.Is(err, io.EOF) {
		b.failed = true
	}
}
