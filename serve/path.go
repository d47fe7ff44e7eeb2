package serve

import (
	"net/http"
	"strings"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
)

// kind is what a request path names.
type kind int

const (
	kindRootIndex     kind = iota + 1 // "/": the channel's index page
	kindSubdirIndex                   // "/<subdir>/": a subdir's index page
	kindSubdirNoSlash                 // "/<subdir>": redirected to "/<subdir>/"
	kindIndexFile                     // repodata, channeldata, shards, index.html: small, hot, cached
	kindPackage                       // .conda and .tar.bz2: immutable, streamed
)

// route is a validated request path: a kind and the channel key it maps to.
type route struct {
	kind   kind
	out    index.Output // for kindIndexFile
	key    string       // channel key (no leading slash); "" for the index kinds
	subdir string       // for kindSubdirIndex and kindSubdirNoSlash
}

// The channel files served besides packages are index.Outputs: what condachan's index
// writes and what other indexers put in channels. Nothing else in a subdir is served.

// isPackageName reports whether a file name is a conda package's.
func isPackageName(name string) bool {
	return !strings.HasPrefix(name, ".") && (strings.HasSuffix(name, ".conda") && len(name) > len(".conda") ||
		strings.HasSuffix(name, ".tar.bz2") && len(name) > len(".tar.bz2"))
}

const maxPathLen = 1024

// parsePath validates an escaped request path (as sent, before percent-decoding) and maps
// it to a route. It answers 400 for a malformed path: a bad or needless escape of '/',
// '\', NUL or any byte outside the characters conda file names use, empty, "." or ".."
// segments, dot-files and dot-folders (.condachan/, .cache/, temp files of writes in
// progress); and 404 for a well-formed path the channel does not serve (unknown subdirs
// and files, anything deeper than <subdir>/<file> but <subdir>/shards/<sha256>.msgpack.zst).
// Only index.Outputs at the root, the known subdirs and, inside them, packages and
// index.Outputs are ever mapped to a key, so no key
// outside the channel or under .condachan/ can come out of it.
func parsePath(escaped string) (route, int) {
	if len(escaped) == 0 || escaped[0] != '/' || len(escaped) > maxPathLen {
		return route{}, http.StatusBadRequest
	}
	p, ok := unescapePath(escaped)
	if !ok {
		return route{}, http.StatusBadRequest
	}
	if p == "/" {
		return route{kind: kindRootIndex}, 0
	}
	trailing := strings.HasSuffix(p, "/")
	segs := strings.Split(strings.TrimSuffix(p[1:], "/"), "/")
	for _, s := range segs {
		if s == "" || s[0] == '.' || len(s) > 255 {
			return route{}, http.StatusBadRequest
		}
	}
	switch {
	case len(segs) == 1 && channel.IsSubdir(segs[0]):
		if trailing {
			return route{kind: kindSubdirIndex, subdir: segs[0]}, 0
		}
		return route{kind: kindSubdirNoSlash, subdir: segs[0]}, 0
	case len(segs) == 1 && !trailing:
		if out, ok := index.LookupOutput(segs[0], true); ok {
			return route{kind: kindIndexFile, key: segs[0], out: out}, 0
		}
	case len(segs) >= 2 && !trailing && channel.IsSubdir(segs[0]):
		name := strings.Join(segs[1:], "/")
		key := segs[0] + "/" + name
		if out, ok := index.LookupOutput(name, false); ok {
			return route{kind: kindIndexFile, key: key, subdir: segs[0], out: out}, 0
		}
		if len(segs) == 2 && isPackageName(name) {
			return route{kind: kindPackage, key: key, subdir: segs[0]}, 0
		}
	}
	return route{}, http.StatusNotFound
}

// nameByte reports whether c may appear in a path segment: the characters of conda
// package names, versions and build strings (letters, digits, . _ - + ! and a few more
// that are harmless in a URL path and on every file system).
func nameByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '.', '_', '-', '+', '!', '~', '=', ',', '@':
		return true
	}
	return false
}

// unescapePath percent-decodes a path, accepting only '/' and nameByte characters, raw or
// escaped (so %2F, %5C, %00, %25, control characters and non-ASCII bytes are refused).
func unescapePath(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		for i := 0; i < len(s); i++ {
			if s[i] != '/' && !nameByte(s[i]) {
				return "", false
			}
		}
		return s, true
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return "", false
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			c = hi<<4 | lo
			if !nameByte(c) {
				return "", false
			}
			i += 2
		case c != '/' && !nameByte(c):
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
