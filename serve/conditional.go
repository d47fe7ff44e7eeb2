package serve

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The preconditions and ranges of RFC 9110 (sections 13 and 14), for one representation
// with a strong ETag and a Last-Modified date.

// quoteETag makes a store's version tag an HTTP entity tag: the store's ETag as it is
// when it is already quoted (S3 and the local store both quote), quoted otherwise.
func quoteETag(etag string) string {
	if etag == "" {
		return ""
	}
	if strings.HasPrefix(etag, `"`) && strings.HasSuffix(etag, `"`) && len(etag) >= 2 {
		return etag
	}
	if strings.HasPrefix(etag, `W/"`) {
		return etag
	}
	return `"` + strings.ReplaceAll(etag, `"`, "") + `"`
}

// etagMatch reports whether an If-Match / If-None-Match list names etag. weak selects
// the weak comparison (If-None-Match), which ignores a W/ prefix.
func etagMatch(list, etag string, weak bool) bool {
	if etag == "" {
		return false
	}
	if weak {
		etag = strings.TrimPrefix(etag, "W/")
	} else if strings.HasPrefix(etag, "W/") {
		return false
	}
	for list = strings.TrimSpace(list); list != ""; {
		if list[0] == ',' {
			list = strings.TrimSpace(list[1:])
			continue
		}
		if list[0] == '*' {
			return true
		}
		tag := list
		isWeak := false
		if strings.HasPrefix(tag, "W/") {
			isWeak = true
			tag = tag[2:]
		}
		if len(tag) < 2 || tag[0] != '"' {
			return false // malformed: no match
		}
		end := strings.IndexByte(tag[1:], '"')
		if end < 0 {
			return false
		}
		tag, list = tag[:end+2], strings.TrimSpace(tag[end+2:])
		if (weak || !isWeak) && tag == etag {
			return true
		}
	}
	return false
}

// notModifiedSince reports whether an If-Modified-Since / If-Unmodified-Since date is at
// or after the object's modification time (HTTP dates have one-second precision).
func notModifiedSince(header string, modified time.Time) (bool, bool) {
	if header == "" || modified.IsZero() {
		return false, false
	}
	t, err := http.ParseTime(header)
	if err != nil {
		return false, false
	}
	return !modified.Truncate(time.Second).After(t), true
}

// precondition evaluates the request's preconditions (RFC 9110 13.2.2) for a GET or
// HEAD. It returns 0 to go on, 304 Not Modified or 412 Precondition Failed.
func precondition(r *http.Request, etag string, modified time.Time) int {
	if im := r.Header.Get("If-Match"); im != "" {
		if !etagMatch(im, etag, false) {
			return http.StatusPreconditionFailed
		}
	} else if ok, valid := notModifiedSince(r.Header.Get("If-Unmodified-Since"), modified); valid && !ok {
		return http.StatusPreconditionFailed
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if etagMatch(inm, etag, true) {
			return http.StatusNotModified
		}
	} else if ok, valid := notModifiedSince(r.Header.Get("If-Modified-Since"), modified); valid && ok {
		return http.StatusNotModified
	}
	return 0
}

// hasPreconditions reports whether a request carries validators that need the object's
// ETag or date before the response can be chosen.
func hasPreconditions(r *http.Request) bool {
	h := r.Header
	return h.Get("If-Match") != "" || h.Get("If-None-Match") != "" || h.Get("If-Modified-Since") != "" ||
		h.Get("If-Unmodified-Since") != "" || h.Get("If-Range") != ""
}

// byteRange is one parsed "bytes=" range before it is resolved against a size.
type byteRange struct {
	start, end int64 // end -1: to the end; start -1: suffix of length end
}

// parseRange parses a Range header. ok is false when the header is absent, malformed, not
// in bytes, or holds several ranges: the whole representation is sent then (RFC 9110
// 14.2 lets a server ignore Range).
func parseRange(h string) (byteRange, bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found {
		return byteRange{}, false
	}
	spec = strings.TrimSpace(spec)
	if strings.Contains(spec, ",") {
		return byteRange{}, false
	}
	first, last, found := strings.Cut(spec, "-")
	if !found {
		return byteRange{}, false
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" {
		n, err := parseDigits(last)
		if err != nil {
			return byteRange{}, false
		}
		return byteRange{start: -1, end: n}, true
	}
	a, err := parseDigits(first)
	if err != nil {
		return byteRange{}, false
	}
	if last == "" {
		return byteRange{start: a, end: -1}, true
	}
	b, err := parseDigits(last)
	if err != nil || b < a {
		return byteRange{}, false
	}
	return byteRange{start: a, end: b}, true
}

func parseDigits(s string) (int64, error) {
	if s == "" || len(s) > 18 {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// resolve turns the range into an offset and a length within size bytes; ok is false
// when the range is unsatisfiable (416).
func (br byteRange) resolve(size int64) (off, n int64, ok bool) {
	if br.start < 0 { // suffix: the last end bytes
		if br.end == 0 || size == 0 {
			return 0, 0, false
		}
		n = min(br.end, size)
		return size - n, n, true
	}
	if br.start >= size {
		return 0, 0, false
	}
	end := size - 1
	if br.end >= 0 && br.end < end {
		end = br.end
	}
	return br.start, end - br.start + 1, true
}

// ifRangeHolds evaluates If-Range: the range applies only when the validator names the
// current representation (a strong ETag, or exactly its Last-Modified date).
func ifRangeHolds(r *http.Request, etag string, modified time.Time) bool {
	ir := r.Header.Get("If-Range")
	if ir == "" {
		return true
	}
	if strings.HasPrefix(ir, `"`) {
		return !strings.HasPrefix(etag, "W/") && ir == etag
	}
	t, err := http.ParseTime(ir)
	return err == nil && !modified.IsZero() && modified.Truncate(time.Second).Equal(t)
}
