package s3test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Proxy forwards to an S3 endpoint and can misbehave on purpose.
//
// Point the client at URL (Server.StoreVia does). Requests are forwarded as they came:
// method, path and query byte for byte, every end-to-end header, the body, and the Host
// header the client sent, which its SigV4 signature covers (host=<proxy host:port>) and
// the server checks. Responses come back as the server sent them.
//
// Matchers passed to DropResponseOnce and StripHeader see the request as the client sent
// it (r.URL.Path is the decoded path, /bucket/key with path-style addressing); they must
// not read its body. Match builds the usual one.
type Proxy struct {
	URL string

	target    *url.URL
	srv       *httptest.Server
	transport *http.Transport
	signer    *v4.Signer
	requests  atomic.Int64
	dropped   atomic.Int64
	stripped  atomic.Int64

	mu       sync.Mutex
	creds    aws.Credentials
	drops    []func(*http.Request) bool
	strips   []stripRule
	answers  []answerRule
	answered atomic.Int64
}

type answerRule struct {
	match      func(*http.Request) bool
	status     int
	code, text string
}

type stripRule struct {
	match  func(*http.Request) bool
	header string
}

// NewProxy starts a proxy to the S3 endpoint target (e.g. Server.URL) on a free loopback
// port; it stops when the test ends. It re-signs requests it strips signed headers from
// with the test credentials (AccessKey, SecretKey); SetCredentials changes them.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		t.Fatalf("s3test.NewProxy: bad target %q", target)
	}
	p := &Proxy{
		target: u,
		transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			DisableCompression:  true, // never add Accept-Encoding or decode bodies
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
		// S3 signs the path as sent, without escaping it again.
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
		creds:  aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey, Source: "s3test"},
	}
	p.srv = httptest.NewServer(p)
	p.URL = p.srv.URL
	t.Cleanup(func() {
		p.srv.Close()
		p.transport.CloseIdleConnections()
	})
	return p
}

// NewProxy starts a Proxy in front of the server, re-signing with its credentials.
func (s *Server) NewProxy(t testing.TB) *Proxy {
	t.Helper()
	p := NewProxy(t, s.URL)
	p.SetCredentials(s.AccessKey, s.SecretKey)
	return p
}

// CloseClientConnections closes the connections clients hold to the proxy, as an S3
// server closes kept-alive connections that stayed idle.
func (p *Proxy) CloseClientConnections() { p.srv.CloseClientConnections() }

// SetCredentials sets the keys StripHeader re-signs requests with.
func (p *Proxy) SetCredentials(accessKey, secretKey string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.creds = aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey, Source: "s3test"}
}

// DropResponseOnce: the next request matching fn is forwarded to the server (so it takes
// effect), but the client's connection is then closed without a response, so the SDK
// retries. Rules queue up: each one drops one response.
func (p *Proxy) DropResponseOnce(match func(*http.Request) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drops = append(p.drops, match)
}

// RespondOnce: the next request matching fn is not forwarded; the proxy answers it with
// an S3 error document (status, code), as a server does that refuses it, e.g. 409
// ConditionalRequestConflict on a CompleteMultipartUpload. Rules queue up.
func (p *Proxy) RespondOnce(match func(*http.Request) bool, status int, code string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers = append(p.answers, answerRule{match: match, status: status, code: code, text: "injected by the s3test proxy"})
}

// Answered counts the requests RespondOnce rules answered.
func (p *Proxy) Answered() int { return int(p.answered.Load()) }

// StripHeader removes a request header on matching requests, from now on (e.g. If-Match
// on DELETE: a server that ignores conditional deletes).
//
// The SDK's SigV4 signature covers every header but Authorization, User-Agent,
// X-Amzn-Trace-Id, Expect and Transfer-Encoding, conditional headers (If-Match,
// If-None-Match) included, so a request that merely lost a signed header would be
// refused with SignatureDoesNotMatch. When the header is among the request's
// SignedHeaders, the proxy therefore signs the stripped request again, with the same
// region, service, date and payload hash, using the credentials of NewProxy or
// SetCredentials: the server then sees a valid request without the header, exactly
// what a server that ignores the header would act on.
func (p *Proxy) StripHeader(match func(*http.Request) bool, header string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.strips = append(p.strips, stripRule{match, http.CanonicalHeaderKey(header)})
}

// Requests counts the requests the proxy received, retries included.
func (p *Proxy) Requests() int { return int(p.requests.Load()) }

// Dropped counts the responses DropResponseOnce rules dropped.
func (p *Proxy) Dropped() int { return int(p.dropped.Load()) }

// Stripped counts the requests StripHeader rules removed a header from.
func (p *Proxy) Stripped() int { return int(p.stripped.Load()) }

// Match matches requests with the method ("" for any) whose decoded path ends with
// suffix, e.g. Match("DELETE", ".condachan/lock.json").
func Match(method, suffix string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return (method == "" || r.Method == method) && strings.HasSuffix(r.URL.Path, suffix)
	}
}

// hopHeaders are connection-level and never forwarded. The SDK signs none of them.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Expect"}

// rules picks the rules that apply to r: whether to drop its response (consuming that
// rule) and which headers to strip.
func (p *Proxy) rules(r *http.Request) (drop bool, strip []string, creds aws.Credentials) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, m := range p.drops {
		if m(r) {
			p.drops = append(p.drops[:i:i], p.drops[i+1:]...)
			drop = true
			break
		}
	}
	for _, s := range p.strips {
		if r.Header.Get(s.header) != "" && s.match(r) {
			strip = append(strip, s.header)
		}
	}
	return drop, strip, p.creds
}

// answer takes the first RespondOnce rule that matches r.
func (p *Proxy) answer(r *http.Request) (answerRule, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, a := range p.answers {
		if a.match(r) {
			p.answers = append(p.answers[:i:i], p.answers[i+1:]...)
			return a, true
		}
	}
	return answerRule{}, false
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	if a, ok := p.answer(r); ok {
		io.Copy(io.Discard, r.Body)
		p.answered.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(a.status)
		fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message><RequestId>s3test</RequestId></Error>", a.code, a.text)
		return
	}
	drop, strip, creds := p.rules(r)

	out, err := p.outbound(r)
	if err != nil {
		http.Error(w, "s3test proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	if len(strip) > 0 {
		if err := p.strip(out, strip, creds); err != nil {
			http.Error(w, "s3test proxy: "+err.Error(), http.StatusBadGateway)
			return
		}
		p.stripped.Add(1)
	}
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		http.Error(w, "s3test proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()

	if drop {
		// The server has acted on the request; the client never hears about it.
		io.Copy(io.Discard, resp.Body)
		p.dropped.Add(1)
		hijackAndClose(w)
		return
	}
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = append([]string(nil), vs...)
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// outbound is r addressed to the target, with the client's Host header, request URI,
// headers and body.
func (p *Proxy) outbound(r *http.Request) (*http.Request, error) {
	u := &url.URL{Scheme: p.target.Scheme, Host: p.target.Host}
	path, query, _ := strings.Cut(r.RequestURI, "?")
	if strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "//") {
		u.Opaque = path // sent exactly as received
		u.RawQuery = query
	} else {
		u.Path, u.RawPath, u.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	}
	var body io.ReadCloser = http.NoBody
	if r.ContentLength != 0 {
		body = r.Body
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), body)
	if err != nil {
		return nil, err
	}
	out.URL = u // NewRequest parses the string again; keep ours
	out.Host = r.Host
	out.ContentLength = r.ContentLength
	out.Header = r.Header.Clone()
	for _, k := range hopHeaders {
		out.Header.Del(k)
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = nil // Go would add its own
	}
	return out, nil
}

// strip removes headers from out and, when the client's signature covered one of them,
// signs out again.
func (p *Proxy) strip(out *http.Request, headers []string, creds aws.Credentials) error {
	signed := signedHeaders(out.Header.Get("Authorization"))
	resign := false
	for _, h := range headers {
		out.Header.Del(h)
		if signed[strings.ToLower(h)] {
			resign = true
		}
	}
	if !resign {
		return nil
	}
	auth := out.Header.Get("Authorization")
	region, service, err := credentialScope(auth)
	if err != nil {
		return err
	}
	when, err := time.Parse("20060102T150405Z", out.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("cannot re-sign a request without a valid X-Amz-Date: %v", err)
	}
	payload := out.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		return fmt.Errorf("cannot re-sign a request without X-Amz-Content-Sha256")
	}
	out.Header.Del("Authorization")
	return p.signer.SignHTTP(context.Background(), creds, out, payload, service, region, when)
}

// signedHeaders parses the SignedHeaders of a SigV4 Authorization header.
func signedHeaders(auth string) map[string]bool {
	m := map[string]bool{}
	for _, part := range strings.Split(auth, ",") {
		part = strings.TrimSpace(part)
		if i := strings.Index(part, "SignedHeaders="); i >= 0 {
			for _, h := range strings.Split(part[i+len("SignedHeaders="):], ";") {
				m[h] = true
			}
		}
	}
	return m
}

// credentialScope returns region and service from
// "AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, ...".
func credentialScope(auth string) (region, service string, err error) {
	_, rest, ok := strings.Cut(auth, "Credential=")
	if ok {
		cred, _, _ := strings.Cut(rest, ",")
		f := strings.Split(strings.TrimSpace(cred), "/")
		if n := len(f); n >= 5 && f[n-1] == "aws4_request" {
			return f[n-3], f[n-2], nil
		}
	}
	return "", "", fmt.Errorf("cannot re-sign: not a SigV4 Authorization header: %q", auth)
}

// hijackAndClose closes the client's connection without writing a response.
func hijackAndClose(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("s3test proxy: cannot hijack the connection")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic("s3test proxy: " + err.Error())
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // a reset, as when a connection breaks
	}
	conn.Close()
}
