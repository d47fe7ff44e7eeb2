// Package channel addresses a conda channel kept in an S3 prefix or a local folder and
// gives the storage operations that publishing and indexing need, with the same
// guarantees on every backend: create-if-absent, compare-and-swap on a version tag
// (ETag), and conditional delete. Those three primitives are all the channel lease
// (lease.go) and the repodata fence build on. Every backend implements one interface,
// Store, and may offer optional abilities (abilities.go, sweep.go) that callers discover
// by type assertion. Local folders (Local: O_EXCL-style hard links, rename and a short
// file lock) are built in; other backends live in packages of their own and register a
// URL scheme (backend.go): channel/s3 (package s3store) for s3:// channels, the only
// package that imports the AWS SDK. A program imports it to open s3:// channels.
package channel

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"
)

// Object describes a stored object. Key is relative to the channel root, with "/"
// separators ("linux-64/blender-4.1.1-0.conda").
type Object struct {
	Key      string
	Size     int64
	ETag     string // opaque version tag: changes on every write
	Modified time.Time
	// Metadata is user metadata (S3 x-amz-meta-*, lower-case keys). Only Stat and Get fill
	// it, and only on backends that keep it.
	Metadata map[string]string
}

// Errors returned by every Store, matched with errors.Is.
var (
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrPreconditionFailed: a conditional write or delete lost: the object exists
	// (create-if-absent) or has another ETag (compare-and-swap).
	ErrPreconditionFailed = errors.New("precondition failed")
)

// PutOptions make a write conditional and describe the object.
type PutOptions struct {
	// IfAbsent creates the object only if no object has the key (If-None-Match: *).
	IfAbsent bool
	// IfMatch replaces the object only if its current ETag is this one (If-Match).
	IfMatch     string
	ContentType string
	// CacheControl is served to HTTP clients of the channel.
	CacheControl string
	Metadata     map[string]string
	// Deferred lets the write return before its bytes are on stable storage, with a store
	// that is a Flusher: the caller calls Flush before it writes anything that names the
	// object, so that many small writes (shards) share one flush. Other stores ignore it.
	Deferred bool
}

// Flusher is a store whose writes with PutOptions.Deferred become durable together.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Store is a conda channel's storage.
type Store interface {
	// Stat returns an object's description, with metadata.
	Stat(ctx context.Context, key string) (Object, error)
	// Get opens an object for reading.
	Get(ctx context.Context, key string) (io.ReadCloser, Object, error)
	// ReadRange reads length bytes at offset (fewer at the end of the object).
	ReadRange(ctx context.Context, key string, offset, length int64) ([]byte, error)
	// GetRange opens length bytes at offset (length -1: to the end) as a stream. The
	// Object describes the whole object (its full Size).
	GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, Object, error)
	// Put writes an object from body, which holds size bytes (-1: unknown, small objects
	// only). A lost condition returns ErrPreconditionFailed and leaves the object as it was.
	Put(ctx context.Context, key string, body io.Reader, size int64, opts PutOptions) (Object, error)
	// PutFile uploads a local file, in parts when it is large.
	PutFile(ctx context.Context, key, path string, opts PutOptions) (Object, error)
	// Delete removes an object; with ifMatch set, only if its ETag is that one. Deleting a
	// missing object is not an error.
	Delete(ctx context.Context, key, ifMatch string) error
	// List calls fn for every object whose key starts with prefix, in key order.
	List(ctx context.Context, prefix string, fn func(Object) error) error
	// String names the channel for messages (s3://bucket/prefix or the folder).
	String() string
}

// Subdirs conda clients look for. A channel's own subdirs are found by listing; these
// are the ones condachan creates or accepts.
var KnownSubdirs = []string{
	"noarch",
	"linux-64", "linux-aarch64", "linux-ppc64le", "linux-s390x", "linux-32", "linux-armv7l",
	"linux-armv6l", "linux-ppc64", "linux-riscv64",
	"osx-64", "osx-arm64",
	"win-64", "win-arm64", "win-32",
	"freebsd-64", "emscripten-wasm32", "wasi-wasm32", "zos-z",
}

// IsSubdir reports whether name is a conda subdir.
func IsSubdir(name string) bool {
	for _, s := range KnownSubdirs {
		if s == name {
			return true
		}
	}
	return false
}

// InternalPrefix holds condachan's own objects (lease, index state, staged sources).
// It is never indexed and never served.
const InternalPrefix = ".condachan/"

// StagedSourcesPrefix is where `condachan submit --stage-source` puts upstream archives
// for build jobs: <StagedSourcesPrefix><sha256>/<file name>. Content-addressed, so an
// archive is uploaded once however many jobs use it, and a build finds a recipe source by
// the sha256 the recipe gives for it.
const StagedSourcesPrefix = InternalPrefix + "sources/"

// StagedSourceKey is the key of a staged archive.
func StagedSourceKey(sha256, fileName string) string {
	return StagedSourcesPrefix + strings.ToLower(sha256) + "/" + fileName
}

// StagedMirrorPrefix is where `condachan submit --mirror` puts a bundle made by
// `condachan mirror pack` for the mirror job, which streams it from there:
// <StagedMirrorPrefix><sha256>/<file name>, uploaded once however often it is submitted.
const StagedMirrorPrefix = InternalPrefix + "mirror/"

// StagedMirrorKey is the key of a staged mirror bundle.
func StagedMirrorKey(sha256, fileName string) string {
	return StagedMirrorPrefix + strings.ToLower(sha256) + "/" + fileName
}

// IsInternal reports whether a key belongs to condachan's internal area.
func IsInternal(key string) bool {
	return strings.HasPrefix(key, InternalPrefix) || key == strings.TrimSuffix(InternalPrefix, "/")
}

// ReadAll reads a whole (small) object with its description.
func ReadAll(ctx context.Context, s Store, key string) ([]byte, Object, error) {
	rc, obj, err := s.Get(ctx, key)
	if err != nil {
		return nil, obj, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, obj, err
	}
	return data, obj, nil
}
