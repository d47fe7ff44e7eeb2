package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/input"
	"github.com/condachan/condachan/serve"
)

func newServeCommand(stdout, stderr io.Writer) *cobra.Command {
	var cf channelFlags
	var opts serve.Options
	var cfg serve.ServerConfig
	var authFile string
	var accessLog bool
	var cacheMiB int64
	cmd := &cobra.Command{
		Use:   "serve --channel URL [--addr HOST:PORT]",
		Short: "Serve a channel read-only over HTTP, for conda, mamba and pixi",
		Long: `Serve a channel (S3 or a local folder) read-only over plain HTTP, so that conda, mamba
and pixi read it with no S3 setup of their own.

GET and HEAD of every channel file, with ETag and Last-Modified, 304 answers to
conditional requests and 206 answers to byte ranges. The shard index, repodata.json and
.zst, run_exports.json, channeldata.json and the index pages are kept in memory and
checked against the store every --revalidate, so a new index reaches clients within
seconds and any number of replicas can run behind a load balancer. Shards (named by
their sha256) are served as immutable, like packages. Packages are streamed, never buffered whole
(or, with --redirect, sent as a 302 to a presigned S3 URL). Nothing under .condachan/
is ever served.

/healthz answers "ok" without auth; /metrics is in the Prometheus text format.
SIGTERM or SIGINT shuts the server down gracefully.`,
		Example: `  condachan serve --channel s3://studio-bucket/Conda/Default --addr 0.0.0.0:8080
  condachan serve --channel ./channel --auth-file /etc/condachan/auth --tls-cert cert.pem --tls-key key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
				return usageError{errors.New("--tls-cert and --tls-key go together")}
			}
			if cfg.TLSCert != "" {
				// Before listening and announcing https://: a bad file is found now.
				if err := serve.CheckKeyPair(cfg.TLSCert, cfg.TLSKey); err != nil {
					return err
				}
			}
			if err := serve.CheckPresignTTL(opts.PresignTTL); err != nil {
				return err
			}
			if err := errors.Join(needs(cmd, "presign-ttl", "--redirect", opts.Redirect), needs(cmd, "public-metrics", "--auth-file", authFile != ""),
				positive("cache-size", cacheMiB), positive("shutdown-timeout", cfg.ShutdownTimeout),
				notNegative("revalidate", opts.Revalidate), notNegative("repodata-max-age", opts.IndexMaxAge)); err != nil {
				return err
			}
			store, err := cf.openExisting(ctx)
			if err != nil {
				return err
			}
			if opts.Redirect {
				if err := serve.CheckRedirect(store); err != nil {
					return err
				}
			}
			h, err := newServeHandler(store, opts, authFile, accessLog, cacheMiB, stderr)
			if err != nil {
				return err
			}
			cfg.ErrorLog = stderr
			ln, err := serve.Listen(cfg)
			if err != nil {
				return err
			}
			switch err := serve.CheckChannel(ctx, store); {
			case errors.Is(err, input.ErrInvalid): // a bucket that does not exist
				ln.Close()
				return err
			case errors.Is(err, serve.ErrNoRepodata):
				fmt.Fprintf(stderr, "warning: %s has no noarch/repodata.json, which conda clients need: run `condachan index --channel %s`\n", store, store)
			case err != nil:
				fmt.Fprintf(stderr, "warning: cannot read the channel yet: %v\n", withFlagHints(err))
			}
			scheme := "http"
			if cfg.TLSCert != "" {
				scheme = "https"
			}
			fmt.Fprintf(stderr, "condachan serve: %s on %s://%s/\n", store, scheme, ln.Addr())
			err = serve.Serve(ctx, ln, h, cfg)
			if err == nil {
				fmt.Fprintln(stderr, "condachan serve: stopped")
			}
			return err
		},
	}
	cf.add(cmd.Flags(), false)
	fl := cmd.Flags()
	fl.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "address to listen on (0.0.0.0:8080 for every interface)")
	fl.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate (PEM; with --tls-key the server speaks HTTPS)")
	fl.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key (PEM)")
	fl.StringVar(&authFile, "auth-file", "", "require credentials listed in `FILE`: lines \"bearer TOKEN\" and \"basic USER:PASSWORD\"")
	fl.BoolVar(&opts.Redirect, "redirect", false, "answer package downloads with a 302 to a presigned S3 URL (S3 channels)")
	fl.DurationVar(&opts.PresignTTL, "presign-ttl", 5*time.Minute, "how long a presigned URL of --redirect stays valid (at most 168h, S3's limit)")
	fl.DurationVar(&opts.IndexMaxAge, "repodata-max-age", 30*time.Second, "Cache-Control max-age of repodata, channeldata and index pages (0: clients revalidate every time)")
	fl.DurationVar(&opts.Revalidate, "revalidate", 2*time.Second, "how often cached repodata is checked against the store (0: on every request)")
	fl.Int64Var(&cacheMiB, "cache-size", 256, "memory for cached repodata, in MiB")
	fl.BoolVar(&accessLog, "access-log", true, "log one line per request to stderr")
	fl.BoolVar(&opts.PublicMetrics, "public-metrics", false, "serve /metrics without auth when --auth-file is set")
	fl.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM, how long requests in flight may take to finish")
	return cmd
}

// newServeHandler is the handler of the flags: 0 for --repodata-max-age or --revalidate
// is every time, the cache is sized in MiB, and the access log goes to stderr.
func newServeHandler(store channel.Store, opts serve.Options, authFile string, accessLog bool, cacheMiB int64, stderr io.Writer) (*serve.Handler, error) {
	if opts.IndexMaxAge == 0 {
		opts.IndexMaxAge = -1 // "no-cache": revalidate every time
	}
	if opts.Revalidate == 0 {
		opts.Revalidate = -1
	}
	opts.CacheBytes, opts.ErrorLog = cacheMiB<<20, stderr
	if accessLog {
		opts.AccessLog = stderr
	}
	if authFile != "" {
		var err error
		if opts.Auth, err = serve.LoadAuthFile(authFile); err != nil {
			return nil, err
		}
	}
	return serve.New(store, opts)
}

// notNegative refuses a duration flag below 0 (0 has a meaning of its own: every time).
func notNegative(flag string, d time.Duration) error {
	if d >= 0 {
		return nil
	}
	return usageError{fmt.Errorf("--%s %s: give 0 or more", flag, d)}
}
