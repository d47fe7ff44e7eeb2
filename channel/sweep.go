package channel

import (
	"context"
	"time"
)

// Sweeper is a Store that can find and remove what interrupted writes left behind: the
// temp files of a folder channel (Local.Put writes beside the destination, then renames)
// and the unfinished multipart uploads of an S3 channel. A writer that is killed
// (SIGKILL, a worker that vanishes) cannot clean up after itself, and nothing else would:
// temp files are hidden from List, and S3 keeps, and bills for, the parts of an upload
// until it is aborted. Callers discover it with a type assertion on the Store.
//
// A live write looks just like a dead one, so only leftovers older than olderThan are
// touched: the caller picks an age that no live write reaches (SweepStale does).
type Sweeper interface {
	// Leftovers lists the leftovers older than olderThan, by key, and removes nothing.
	Leftovers(ctx context.Context, olderThan time.Duration) ([]Leftover, error)
	// Sweep removes the leftovers older than olderThan and returns those it removed. One
	// that went away meanwhile (its write finished, another sweep got it) is neither
	// returned nor an error. On an error, what was removed before it is still returned.
	Sweep(ctx context.Context, olderThan time.Duration) ([]Leftover, error)
}

// LeftoverKind says what an interrupted write left.
type LeftoverKind string

const (
	LeftoverTempFile LeftoverKind = "temp file"
	LeftoverUpload   LeftoverKind = "multipart upload"
)

// Leftover is what one interrupted write left behind.
type Leftover struct {
	Kind LeftoverKind
	// Key is relative to the channel root: the temp file's own key
	// ("linux-64/.blender-4.1.1-0.conda.tmp-123"), or the key an upload was writing.
	Key string
	// UploadID identifies a multipart upload ("" for a temp file).
	UploadID string
	// Since is what the age is measured from: a temp file's last modification (a live
	// write keeps touching it), an upload's initiation (by the server's clock).
	Since time.Time
	// Size is what a temp file holds; 0 for an upload (its parts are not listed).
	Size int64
}

// Ages past which SweepStale, and so every index run, removes a leftover.
const (
	// TempFileSweepAge is not the lease TTL: packages are uploaded before the lease is
	// taken, so no lease bounds how long a package's temp file may live, and a live
	// write only stops touching its temp file while it stalls (an fsync of gigabytes on
	// a slow or network disk can take minutes). Removing a live temp file fails that
	// upload at its rename; keeping a dead one an hour costs only its disk space.
	TempFileSweepAge = time.Hour
	// UploadSweepAge leaves a day to a multipart upload, which is measured from its start:
	// a large package over a slow link can take hours.
	UploadSweepAge = 24 * time.Hour
)

// sweepAge is how old a leftover of a kind must be before SweepStale removes it; the
// longest age for a kind it does not know.
func sweepAge(k LeftoverKind) time.Duration {
	switch k {
	case LeftoverTempFile:
		return TempFileSweepAge
	case LeftoverUpload:
		return UploadSweepAge
	}
	return max(TempFileSweepAge, UploadSweepAge)
}

// SweepStale removes the leftovers of interrupted writes that are old enough that no live
// write can own them (temp files older than TempFileSweepAge, multipart uploads older
// than UploadSweepAge) and returns what it removed. A Store that is not a Sweeper has
// nothing to sweep.
//
// A Sweeper takes one age, and a store could in principle hold leftovers of both kinds:
// the store is asked for those past the shorter age first, and swept with the longest
// age among the kinds it holds, so no leftover is removed before its own age. A store
// without leftovers costs one listing.
func SweepStale(ctx context.Context, s Store) ([]Leftover, error) {
	sw, ok := s.(Sweeper)
	if !ok {
		return nil, nil
	}
	found, err := sw.Leftovers(ctx, min(TempFileSweepAge, UploadSweepAge))
	if err != nil {
		return nil, err
	}
	var age time.Duration
	due := false
	now := time.Now()
	for _, lo := range found {
		age = max(age, sweepAge(lo.Kind))
		due = due || lo.Due(now)
	}
	if !due {
		return nil, nil
	}
	return sw.Sweep(ctx, age)
}

// Due reports whether SweepStale removes lo at now: whether it is at least its kind's
// sweep age old (TempFileSweepAge, UploadSweepAge).
func (lo Leftover) Due(now time.Time) bool {
	return olderThan(now, lo.Since, sweepAge(lo.Kind))
}

// olderThan reports whether since lies at least age before now. A time in the future
// (another machine's clock ahead of ours) is never old.
func olderThan(now, since time.Time, age time.Duration) bool {
	return now.Sub(since) >= age
}
