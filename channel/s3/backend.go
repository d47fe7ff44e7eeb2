package s3store

import (
	"context"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/doctor"
)

func init() {
	channel.RegisterBackend(channel.Backend{Scheme: Scheme, Open: open})
	doctor.RegisterBackend(Scheme, diagnose)
}

// Scheme is the URL scheme of S3 channels.
const Scheme = "s3"

// Scheme makes Options a channel.BackendOptions: pass them to channel.Open in
// channel.Options.Backend.
func (Options) Scheme() string { return Scheme }

// ChannelOptions are channel.Options holding o, for channel.Open and friends.
func ChannelOptions(o Options) channel.Options {
	return channel.Options{Backend: []channel.BackendOptions{o}}
}

// optionsIn returns the S3 options among o (a value or a pointer), or the defaults.
func optionsIn(o channel.Options) Options {
	switch v := o.For(Scheme).(type) {
	case Options:
		return v
	case *Options:
		if v != nil {
			return *v
		}
	}
	return Options{}
}

func open(ctx context.Context, loc channel.Location, o channel.Options) (channel.Store, error) {
	return New(ctx, loc.Bucket, loc.Prefix, optionsIn(o))
}

// What a Store is and can do; callers find the abilities by type assertion on the
// channel.Store.
var (
	_ channel.Store          = (*Store)(nil)
	_ channel.Presigner      = (*Store)(nil)
	_ channel.SignedGetter   = (*Store)(nil)
	_ channel.RequestCounter = (*Store)(nil)
	_ channel.ObjectLocator  = (*Store)(nil)
	_ channel.Sweeper        = (*Store)(nil)
)
