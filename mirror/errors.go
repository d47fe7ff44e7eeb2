package mirror

import (
	"fmt"
	"strings"

	"github.com/condachan/condachan/mirror/lockfile"
)

// HashMismatchError is a package whose bytes are not the ones its lock names.
type HashMismatchError struct {
	Package lockfile.Package
	From    string // the URL, bundle or file the bytes came from
	Algo    string // sha256, md5 or size
	Want    string
	Got     string
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("%s/%s (%s) from %s: %s is %s, the lock says %s; the upstream file changed or the lock is stale: make the lock again on the connected machine",
		e.Package.Subdir, e.Package.Filename, e.Package.Origin, e.From, e.Algo, e.Got, e.Want)
}

// DownloadError is a package that could not be fetched from its URL.
type DownloadError struct {
	Package  lockfile.Package
	URL      string
	Status   int    // HTTP status, 0 when the request did not get one
	Got      int64  // bytes received before the failure
	Attempts int    // requests made
	Err      error  // the last failure
	Hint     string // what to do
}

func (e *DownloadError) Error() string {
	what := fmt.Sprint(e.Err)
	if e.Status != 0 {
		what = fmt.Sprintf("HTTP %d", e.Status)
	}
	msg := fmt.Sprintf("download %s/%s (%s) from %s: %s", e.Package.Subdir, e.Package.Filename, e.Package.Origin, e.URL, what)
	if e.Got > 0 {
		msg += fmt.Sprintf(" after %d bytes", e.Got)
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" (%d attempts)", e.Attempts)
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

func (e *DownloadError) Unwrap() error { return e.Err }

// MissingError is a package that is not where the packages were to come from (a folder
// or a bundle).
type MissingError struct {
	Package lockfile.Package
	Looked  []string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%s/%s (%s) is not in %s: pack the bundle again from the same locks, or fetch it from its URL",
		e.Package.Subdir, e.Package.Filename, e.Package.Origin, strings.Join(e.Looked, " or "))
}

// MetadataError is a package whose own info/index.json does not say what its lock and
// file name say: conda would not find it where the lock puts it.
type MetadataError struct {
	Package lockfile.Package
	Field   string
	Lock    string
	Inside  string
}

func (e *MetadataError) Error() string {
	return fmt.Sprintf("%s/%s (%s): its info/index.json says %s %q where the lock says %q; it is not the package the lock names",
		e.Package.Subdir, e.Package.Filename, e.Package.Origin, e.Field, e.Inside, e.Lock)
}

// ConflictingLocksError is one file that two locks give different hashes.
type ConflictingLocksError struct {
	Key          string
	First, Other lockfile.Package
}

func (e *ConflictingLocksError) Error() string {
	return fmt.Sprintf("%s has different hashes in %s and %s: mirror one of the locks at a time", e.Key, e.First.Origin, e.Other.Origin)
}

// RolledBackError wraps the failure that stopped a mirror run after it had uploaded some
// packages: they were removed again (under the channel lease, before any index run could
// see them), so nothing of the run was published.
type RolledBackError struct {
	Err       error
	Removed   int
	Leftovers []string // uploads that could not be removed (the store failed), or were kept
	// LeaseLost: the run lost the channel lease, so it removed nothing (another holder
	// may have indexed its uploads).
	LeaseLost bool
}

func (e *RolledBackError) Error() string {
	if e.LeaseLost {
		return fmt.Sprintf("%v\nthe run lost the channel lease, so it left its %d upload(s) in place (another index run may list them): run mirror again to complete the lock", e.Err, len(e.Leftovers))
	}
	if len(e.Leftovers) > 0 {
		return fmt.Sprintf("%v\nnothing was indexed, but %d uploaded package(s) could not be removed: %s; run mirror again once the cause is fixed (it completes them) or remove them",
			e.Err, len(e.Leftovers), strings.Join(e.Leftovers, ", "))
	}
	return fmt.Sprintf("%v\nnothing of this run was published (%d package(s) uploaded before the failure were removed); run it again once the cause is fixed: what was fetched is kept", e.Err, e.Removed)
}

func (e *RolledBackError) Unwrap() error { return e.Err }
