package channel

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/condachan/condachan/input"
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

// Scheme is the URL scheme of the channel's backend: "s3", or "file" for a local folder.
func (l Location) Scheme() string {
	if l.IsS3() {
		return "s3"
	}
	return "file"
}

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
// ones are made absolute). On Windows, paths with drive letters and backslashes work as
// plain paths, and file:///C:/dir and file://server/share/dir (a UNC share) as URLs.
// Its errors match input.ErrInvalid.
func ParseLocation(raw string) (Location, error) {
	loc, err := parseLocation(raw, runtime.GOOS == "windows")
	return loc, input.Mark(err)
}

func parseLocation(raw string, windows bool) (Location, error) {
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
		if strings.Contains(prefix, "\\") {
			return Location{}, fmt.Errorf("channel %q: the prefix holds a backslash; S3 keys use / (s3://bucket/Conda/Default)", raw)
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
		p, err := fileURLPath(raw, u, windows)
		if err != nil {
			return Location{}, err
		}
		return localLocation(p)
	case windows && isDriveLetter(raw[0]) && strings.HasPrefix(raw[1:], "://"):
		return localLocation(raw) // C://dir: a drive letter, not a URL scheme
	case strings.Contains(raw, "://"):
		scheme, _, _ := strings.Cut(raw, "://")
		return Location{}, fmt.Errorf("channel %q: unsupported scheme %s:// (use s3://, file:// or a folder path; serve a channel over HTTP with `condachan serve`)", raw, scheme)
	}
	return localLocation(raw)
}

// fileURLPath is the local path of a file: URL, with the separators of the system
// (backslashes when windows). On Windows, file:///C:/dir is C:\dir, and
// file://server/share/dir and file:////server/share/dir are the UNC path
// \\server\share\dir; elsewhere a file URL has no host.
func fileURLPath(raw string, u *url.URL, windows bool) (string, error) {
	host, p := u.Host, u.Path
	if host == "localhost" {
		host = ""
	}
	if !windows {
		if host != "" {
			return "", fmt.Errorf("channel %q: file URLs must be file:///absolute/path (no host)", raw)
		}
		return p, nil
	}
	switch {
	case len(host) == 2 && isDriveLetter(host[0]) && host[1] == ':':
		p = host + p // file://C:/dir, a common slip for file:///C:/dir
	case host != "":
		if p == "" || p == "/" {
			return "", fmt.Errorf("channel %q: a UNC file URL needs a share: file://server/share/dir", raw)
		}
		p = "//" + host + p
	case len(p) >= 3 && p[0] == '/' && isDriveLetter(p[1]) && p[2] == ':':
		// file:///C:/dir parses with the path "/C:/dir".
		p = p[1:]
	}
	if len(p) == 2 && p[1] == ':' {
		p += "/" // file:///C: is the drive's root, not its current folder
	}
	return strings.ReplaceAll(p, "/", `\`), nil
}

func isDriveLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

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

// Options configure how a channel is opened; only backends use them (local folders take
// none).
type Options struct {
	// Backend holds options of backends, at most one value per scheme: an
	// s3store.Options (package channel/s3) for s3:// channels. A backend finds its own
	// with For, and uses its defaults without.
	Backend []BackendOptions
}

// Open returns the Store for a channel URL. A local channel folder that does not exist
// yet is created: use it where writing creates a channel (publish); OpenExisting is for
// the rest.
func Open(ctx context.Context, raw string, opts Options) (Store, error) {
	loc, err := ParseLocation(raw)
	if err != nil {
		return nil, err
	}
	if loc.IsS3() {
		return openBackend(ctx, loc, opts)
	}
	return NewLocal(loc.Dir)
}

// OpenExisting is Open for commands that read or maintain a channel (serve, index, lock):
// a local channel folder must exist already, so that a mistyped path is refused (a
// *NoChannelError) instead of becoming a new empty channel. S3 channels open as with Open.
func OpenExisting(ctx context.Context, raw string, opts Options) (Store, error) {
	loc, err := ParseLocation(raw)
	if err != nil {
		return nil, err
	}
	if loc.IsS3() {
		return openBackend(ctx, loc, opts)
	}
	if err := CheckLocalChannel(loc.Dir); err != nil {
		return nil, err
	}
	return NewLocal(loc.Dir)
}

func openBackend(ctx context.Context, loc Location, opts Options) (Store, error) {
	b, err := backendFor(loc)
	if err != nil {
		return nil, err
	}
	return b.Open(ctx, loc, opts)
}

// NoChannelError is a local channel folder that does not exist, or is not a folder.
type NoChannelError struct {
	Dir string
	// NotFolder is set when Dir exists but is a file.
	NotFolder bool
}

func (e *NoChannelError) Error() string {
	if e.NotFolder {
		return fmt.Sprintf("no channel at %s: it is a file, not a folder; pass the channel folder (or file:///dir)", e.Dir)
	}
	return fmt.Sprintf("no channel at %s: check the path, or publish a package to create it", e.Dir)
}

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*NoChannelError) Is(target error) bool { return target == input.ErrInvalid }

// CheckLocalChannel returns a *NoChannelError unless dir is an existing folder, and the
// error of os.Stat when it cannot be looked at.
func CheckLocalChannel(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &NoChannelError{Dir: dir}
	case err != nil:
		return fmt.Errorf("channel folder %s: %w", dir, err)
	case !fi.IsDir():
		return &NoChannelError{Dir: dir, NotFolder: true}
	}
	return nil
}
