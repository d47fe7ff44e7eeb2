package channel

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// Optional abilities. A Store does everything a channel needs; some backends can do
// more, more cheaply, and say so by also implementing one of these small interfaces.
// Callers discover them with a type assertion on the Store
//
//	if p, ok := store.(channel.Presigner); ok { ... }
//
// and otherwise go through the Store's own methods, so that no caller outside this
// package names a backend's type or needs its SDK.

// Abandoner is a store that opening made (a channel folder that did not exist): a
// command that then failed removes it again with Abandon, so that it leaves no empty
// channel behind. Abandon removes nothing that holds a file.
type Abandoner interface {
	Abandon() error
}

// Abandon abandons store when it is an Abandoner, and does nothing otherwise.
func Abandon(store Store) {
	if a, ok := store.(Abandoner); ok {
		_ = a.Abandon()
	}
}

// Presigner is a store that can hand out a URL through which anyone may GET one object,
// for a limited time, without credentials of their own. S3 channels have it; folders do
// not. serve's --redirect needs it; without it packages are streamed through the server
// (Store.Get and Store.GetRange).
type Presigner interface {
	// PresignGet returns a URL valid for ttl for a plain GET of key, with or without a
	// Range header. It carries no signed header a client could not send (for S3, no
	// expected bucket owner), so a client following a redirect to it needs nothing else.
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// FileOpener is a store whose objects are files on this machine, which a caller may
// send with sendfile(2) instead of copying them through the process. Folder channels
// have it; S3 channels do not. Without it a caller reads the object with Store.Get or
// Store.GetRange.
//
// It gives an open file, never a path: the file is opened under the same rules as
// Store.Get (a symbolic link is followed only while it stays inside the channel), so a
// caller cannot reach a file outside the channel through it.
type FileOpener interface {
	// OpenFile opens key for reading, like Store.Get: the Object describes the open
	// file, and a key that is missing (or a folder) is ErrNotFound. The caller closes
	// the file.
	OpenFile(ctx context.Context, key string) (*os.File, Object, error)
}

// SignedGetter is a store whose objects can be read with one self-contained HTTP GET
// that the caller sends on connections of its own: an S3 channel (whatever its
// endpoint). serve uses it, when the endpoint speaks plain HTTP and no proxy is in the
// way, to splice package bytes from the S3 socket to the client's without copying them
// through the process. Without it, or whenever that GET does not give a plain answer,
// the caller reads the object with Store.Get or Store.GetRange, which have the retries
// and the error handling.
type SignedGetter interface {
	// Endpoint is the URL of the HTTP server signed GETs go to
	// ("https://s3.us-west-2.amazonaws.com", "http://minio.internal:9000").
	Endpoint() string
	// ConnectTimeout bounds connecting to it.
	ConnectTimeout() time.Duration
	// SignedGet returns a GET of key, valid for ttl, signed in its URL and headers so
	// that it needs no credentials to send. rng is a Range header value ("bytes=0-99",
	// "bytes=100-") or "" for the whole object. The request has a URL, its Host and the
	// headers its signature covers, to send as it is (a User-Agent may be added); the
	// answer is the store's own, status, ETag, Last-Modified and Content-Range included.
	SignedGet(ctx context.Context, key, rng string, ttl time.Duration) (*http.Request, error)
}

// RequestCounter is a store that counts the requests it sends to a remote service, to
// report what a run cost: S3 channels (every HTTP request, retries included). Folders
// send none and do not have it.
type RequestCounter interface {
	// Stats returns the live counters; read them with their Load methods, or String.
	Stats() *RequestStats
}

// ObjectLocator is a store whose objects others can fetch by a URI of their own, without
// going through this process: an S3 channel, whose objects are
// s3://bucket/prefix/key. submit --stage-source gives such URIs to the jobs it writes,
// which stream the archives from S3. Folder channels do not have it: their paths mean
// nothing to a job on another machine.
type ObjectLocator interface {
	// ObjectURI is the URI of key ("s3://bucket/prefix/key"), whether or not the object
	// exists.
	ObjectURI(key string) string
}

// RequestStats counts the HTTP requests a store sent, retries included.
type RequestStats struct {
	Total, List, Head, Get, Put, Delete, Post atomic.Int64
}

// String sums up the counts.
func (r *RequestStats) String() string {
	return fmt.Sprintf("%d requests (LIST %d, HEAD %d, GET %d, PUT %d, DELETE %d, POST %d)",
		r.Total.Load(), r.List.Load(), r.Head.Load(), r.Get.Load(), r.Put.Load(), r.Delete.Load(), r.Post.Load())
}

var (
	_ FileOpener = (*Local)(nil)
	_ Abandoner  = (*Local)(nil)
)
