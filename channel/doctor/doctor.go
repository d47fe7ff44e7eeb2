// Package doctor checks, from this machine, everything a conda channel needs to work
// (Diagnose), and reports every finding as a Check in a Report, which never fails as a
// whole. It holds the checks every channel gets (the channel URL, who holds the lease,
// what interrupted writes left behind) and those of a local folder (writable, file
// locks, conditional writes); a storage backend adds its own checks by registering them
// for its URL scheme (RegisterBackend; channel/s3 does for s3://: credentials, region,
// endpoint, reachability, permissions, conditional requests). The findings name the
// settings they ask to change through a channel.Namer, so that a front end words them
// with its own names (the CLI: its flags). Report.WriteTable prints a report for people;
// a Report marshals to JSON for scripts.
package doctor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/condachan/condachan/channel"
)

// Options configure Diagnose.
type Options struct {
	// Options are those the channel would be opened with (the S3 backend's among them).
	Options channel.Options
	// Timeout bounds getting credentials and reaching the endpoint, each (default: the
	// backend's connect timeout, else 5s); each later request may take three times as
	// long.
	Timeout time.Duration
	// ReadOnly leaves out the checks that write (for a read-only role, such as a render
	// queue's): the get check reads noarch/repodata.json instead of a probe.
	ReadOnly bool
}

// Names of the checks this package reports; a backend reports its own (channel/s3:
// credentials, region, endpoint, reachable, list, put, ...).
const (
	checkChannel   = "channel"
	checkLease     = "lease"
	checkLeftovers = "leftovers"

	checkFolder    = "folder"
	checkWritable  = "writable"
	checkFileLock  = "file-lock"
	checkCondLocal = "conditional-writes"
	checkS3        = "s3"
)

// ProbePrefix holds the probe keys Diagnose writes (and removes).
const ProbePrefix = channel.InternalPrefix + "doctor/"

// ProbeKey returns a fresh random key under ProbePrefix, for a backend's write checks.
func ProbeKey() string { return ProbePrefix + nonce() }

func nonce() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Diagnose checks, from this machine, everything the channel raw (an s3:// URL, a file://
// URL or a folder) needs to work. For a folder: that it is writable and that file locks
// work. A backend's channel (s3://) is checked by the function the backend registered
// (RegisterBackend; channel/s3: credentials, region, endpoint, reachability, the
// permissions condachan uses, on a probe key under ProbePrefix, and whether the endpoint
// enforces conditional requests). For both: who holds the lease and what interrupted
// writes left behind (temp files, unfinished multipart uploads) for over an hour, which
// it reports and never removes (`condachan index` does, see channel.SweepStale). It never
// fails as a whole: every finding is a Check in the Report, and the Report is OK when no
// check failed.
func Diagnose(ctx context.Context, raw string, opts Options) *Report {
	r := &Report{Channel: raw, OK: true}
	loc, err := channel.ParseLocation(raw)
	if err != nil {
		r.add(Check{Name: checkChannel, Status: CheckFail, Detail: err.Error()}.WithFix(func(n channel.Namer) string {
			return "pass " + n.Setting(channel.SettingChannel) + " s3://bucket/prefix, file:///dir or a folder path"
		}))
		return r
	}
	r.Channel = loc.String()
	if loc.IsS3() {
		diagnoseBackend(ctx, r, loc, opts)
		return r
	}
	r.Backend = "local"
	diagnoseLocal(ctx, r, loc, opts)
	return r
}

// diagnoseBackend runs the checks a backend registered for the channel at loc.
func diagnoseBackend(ctx context.Context, r *Report, loc channel.Location, opts Options) {
	r.Backend = loc.Scheme()
	if err := channel.CheckBackend(loc); err != nil {
		r.add(Check{Name: checkChannel, Status: CheckFail, Detail: err.Error()})
		return
	}
	diagnose := backendFor(loc.Scheme())
	if diagnose == nil {
		r.add(Check{Name: checkChannel, Status: CheckSkip, Detail: "the " + loc.Scheme() + ":// backend has no checks"})
		return
	}
	diagnose(ctx, r, loc, opts)
}
