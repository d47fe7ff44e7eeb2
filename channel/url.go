package channel

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// Location is a parsed channel URL.
type Location struct {
	// S3 channels: Bucket and Prefix (no leading or trailing slash, may be empty).
	Bucket string
	Prefix string
	// Local channels: an absolute folder path.
	Dir string
}

// IsS3 reports whether the channel is on S3.
func (l Location) IsS3() bool { return l.Bucket != "" }

func (l Location) String() string {
	if l.IsS3() {
		if l.Prefix == "" {
			return "s3://" + l.Bucket
		}
		return "s3://" + l.Bucket + "/" + l.Prefix
	}
	return l.Dir
}

// ParseLocation accepts s3://bucket/prefix, file:///abs/dir, and plain paths (relative
// ones are made absolute). Windows paths with drive letters and backslashes work as plain
// paths and as file:///C:/dir.
func ParseLocation(raw string) (Location, error) {
	if raw == "" {
		return Location{}, fmt.Errorf("empty channel URL: use s3://bucket/prefix, file:///dir or a folder path")
	}
	lower := strings.ToLower(raw)
	switch {
	case strings.HasPrefix(lower, "s3://"):
		rest := raw[len("s3://"):]
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return Location{}, fmt.Errorf("channel %q: no bucket name (expected s3://bucket/prefix)", raw)
		}
		if err := checkBucket(bucket); err != nil {
			return Location{}, fmt.Errorf("channel %q: %w", raw, err)
		}
		prefix = strings.Trim(prefix, "/")
		for _, c := range strings.Split(prefix, "/") {
			if c == "." || c == ".." || (c == "" && prefix != "") {
				return Location{}, fmt.Errorf("channel %q: the prefix may not have empty, . or .. parts", raw)
			}
		}
		return Location{Bucket: bucket, Prefix: prefix}, nil
	case strings.HasPrefix(lower, "file://"):
		u, err := url.Parse(raw)
		if err != nil {
			return Location{}, fmt.Errorf("channel %q: %w", raw, err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return Location{}, fmt.Errorf("channel %q: file URLs must be file:///absolute/path (no host)", raw)
		}
		p := u.Path
		// file:///C:/dir parses with the path "/C:/dir".
		if len(p) >= 3 && p[0] == '/' && p[2] == ':' {
			p = p[1:]
		}
		return localLocation(filepath.FromSlash(p))
	case strings.Contains(raw, "://"):
		scheme, _, _ := strings.Cut(raw, "://")
		return Location{}, fmt.Errorf("channel %q: unsupported scheme %s:// (use s3://, file:// or a folder path; serve a channel over HTTP with `condachan serve`)", raw, scheme)
	}
	return localLocation(raw)
}

func localLocation(p string) (Location, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return Location{}, fmt.Errorf("channel %q: %w", p, err)
	}
	return Location{Dir: abs}, nil
}

// checkBucket applies the S3 bucket naming rules that matter for URLs.
func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters", b)
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return fmt.Errorf("bucket name %q may only hold lower-case letters, digits, '-' and '.'", b)
		}
	}
	return nil
}

// Options configure how a channel is opened; only S3 channels use them.
type Options struct {
	S3 S3Options
}

// Open returns the Store for a channel URL.
func Open(ctx context.Context, raw string, opts Options) (Store, error) {
	loc, err := ParseLocation(raw)
	if err != nil {
		return nil, err
	}
	if loc.IsS3() {
		return NewS3(ctx, loc.Bucket, loc.Prefix, opts.S3)
	}
	return NewLocal(loc.Dir)
}
