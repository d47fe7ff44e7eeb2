package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
)

// rawGetter issues keep-alive GETs for one URL on one connection of its own and drops each
// body without copying it to user space where the system allows (see discardBody). A
// client that copies 50 MB per request runs out of CPU before a sendfile server does on a
// two-core machine, and then measures itself; this one leaves the servers as the limit.
type rawGetter struct {
	u    *url.URL
	req  []byte
	conn *net.TCPConn
	br   *bufio.Reader
}

func newRawGetter(raw string) (*rawGetter, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("-discard needs an http:// URL, not %q", raw)
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: condachan-loadgen\r\n\r\n", u.RequestURI(), u.Host)
	return &rawGetter{u: u, req: []byte(req)}, nil
}

// get sends one request and reads its answer, redialling when the server closed the
// connection. It returns the body's length.
func (g *rawGetter) get() (int64, error) {
	if g.conn == nil {
		c, err := net.Dial("tcp", g.u.Host)
		if err != nil {
			return 0, err
		}
		g.conn = c.(*net.TCPConn)
		g.br = bufio.NewReaderSize(g.conn, 16<<10)
	}
	n, err := g.roundTrip()
	if err != nil {
		g.conn.Close()
		g.conn = nil
	}
	return n, err
}

func (g *rawGetter) roundTrip() (int64, error) {
	if _, err := g.conn.Write(g.req); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(g.br, nil)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	if resp.ContentLength < 0 || len(resp.TransferEncoding) > 0 {
		return 0, fmt.Errorf("-discard needs a Content-Length answer")
	}
	// What the header read already buffered is part of the body.
	buffered := min(int64(g.br.Buffered()), resp.ContentLength)
	if _, err := g.br.Discard(int(buffered)); err != nil {
		return 0, err
	}
	rest := resp.ContentLength - buffered
	if err := discardBody(g.conn, rest); err != nil {
		return buffered, fmt.Errorf("body: %w", err)
	}
	if resp.Close {
		g.conn.Close()
		g.conn = nil
	}
	return resp.ContentLength, nil
}

// discardCopy is discardBody where the kernel cannot drop bytes unread.
func discardCopy(conn *net.TCPConn, n int64) error {
	got, err := io.CopyN(io.Discard, conn, n)
	if err == nil && got != n {
		err = io.ErrUnexpectedEOF
	}
	return err
}
