package publish

import (
	"context"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/internal/progress"
)

// Reindex runs an index of the channel (idx says which subdirs and how) under the
// channel lease, taken and released with opts (its Lease and Log; its Progress reports
// the index run). idx.Lease and idx.Progress are set here.
func Reindex(ctx context.Context, store channel.Store, idx index.Options, opts Options) (*index.Result, error) {
	if opts.Progress == nil {
		opts.Progress = progress.Nop{}
	}
	// The wait for the lease is logged, not shown as progress: the run is what is shown.
	lease, err := acquire(ctx, store, Options{Lease: opts.Lease, Log: opts.Log, Progress: progress.Nop{}})
	if err != nil {
		return nil, err
	}
	idx.Lease, idx.Progress = lease, opts.Progress
	res, err := index.Run(ctx, store, idx)
	if rerr := lease.Release(context.WithoutCancel(ctx)); err == nil && rerr != nil {
		err = rerr
	}
	return res, err
}
