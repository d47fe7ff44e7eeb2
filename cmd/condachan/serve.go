package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/serve"
)

func newServeCommand(stdout, stderr io.Writer) *cobra.Command {
	var cf channelFlags
	var (
		addr, tlsCert, tlsKey, authFile  string
		redirect, accessLog, openMetrics bool
		presignTTL, maxAge, revalidate   time.Duration
		shutdownTimeout                  time.Duration
		cacheMiB                         int64
	)
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
			if (tlsCert == "") != (tlsKey == "") {
				return usageError{errors.New("--tls-cert and --tls-key go together")}
			}
			if tlsCert != "" {
				// Before listening and announcing https://: a bad file is found now.
				if err := checkKeyPair(tlsCert, tlsKey); err != nil {
					return err
				}
			}
			if presignTTL <= 0 || presignTTL > maxPresignTTL {
				return usageError{fmt.Errorf("--presign-ttl %s: must be more than 0 and at most 168h (7 days, the longest an S3 presigned URL is valid)", presignTTL)}
			}
			store, err := cf.openExisting(ctx)
			if err != nil {
				return err
			}
			if redirect {
				if _, ok := store.(channel.Presigner); !ok {
					return usageError{fmt.Errorf("--redirect needs a channel that can presign URLs (an S3 channel); %s cannot; without --redirect the server sends packages itself", store)}
				}
			}
			opts := serve.Options{
				IndexMaxAge:   maxAge,
				Revalidate:    revalidate,
				CacheBytes:    cacheMiB << 20,
				Redirect:      redirect,
				PresignTTL:    presignTTL,
				PublicMetrics: openMetrics,
				ErrorLog:      stderr,
			}
			if maxAge == 0 {
				opts.IndexMaxAge = -1 // "no-cache": revalidate every time
			}
			if revalidate == 0 {
				opts.Revalidate = -1
			}
			if accessLog {
				opts.AccessLog = stderr
			}
			if authFile != "" {
				if opts.Auth, err = serve.LoadAuthFile(authFile); err != nil {
					return usageError{err}
				}
			}
			h, err := serve.New(store, opts)
			if err != nil {
				return usageError{err}
			}
			cfg := serve.ServerConfig{Addr: addr, TLSCert: tlsCert, TLSKey: tlsKey, ShutdownTimeout: shutdownTimeout, ErrorLog: stderr}
			ln, err := serve.Listen(cfg)
			if err != nil {
				return err
			}
			checkChannel(ctx, store, stderr)
			scheme := "http"
			if tlsCert != "" {
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
	fl.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (0.0.0.0:8080 for every interface)")
	fl.StringVar(&tlsCert, "tls-cert", "", "TLS certificate (PEM; with --tls-key the server speaks HTTPS)")
	fl.StringVar(&tlsKey, "tls-key", "", "TLS private key (PEM)")
	fl.StringVar(&authFile, "auth-file", "", "require credentials listed in `FILE`: lines \"bearer TOKEN\" and \"basic USER:PASSWORD\"")
	fl.BoolVar(&redirect, "redirect", false, "answer package downloads with a 302 to a presigned S3 URL (S3 channels)")
	fl.DurationVar(&presignTTL, "presign-ttl", 5*time.Minute, "how long a presigned URL of --redirect stays valid (at most 168h, S3's limit)")
	fl.DurationVar(&maxAge, "repodata-max-age", 30*time.Second, "Cache-Control max-age of repodata, channeldata and index pages (0: clients revalidate every time)")
	fl.DurationVar(&revalidate, "revalidate", 2*time.Second, "how often cached repodata is checked against the store (0: on every request)")
	fl.Int64Var(&cacheMiB, "cache-size", 256, "memory for cached repodata, in MiB")
	fl.BoolVar(&accessLog, "access-log", true, "log one line per request to stderr")
	fl.BoolVar(&openMetrics, "public-metrics", false, "serve /metrics without auth when --auth-file is set")
	fl.DurationVar(&shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM, how long requests in flight may take to finish")
	return cmd
}

// maxPresignTTL is the longest validity of an S3 (SigV4) presigned URL.
const maxPresignTTL = 7 * 24 * time.Hour

// checkKeyPair loads the TLS certificate and key as tls.LoadX509KeyPair does (and the
// server will), naming the flag and file at fault.
func checkKeyPair(certFile, keyFile string) error {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return usageError{fmt.Errorf("--tls-cert: %w", err)}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return usageError{fmt.Errorf("--tls-key: %w", err)}
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return usageError{fmt.Errorf("--tls-cert %s and --tls-key %s are not a usable certificate and key: %w (both must be PEM, the key the certificate's)", certFile, keyFile, err)}
	}
	return nil
}

// checkChannel warns when the channel does not look indexed; the server starts anyway
// (the channel may be indexed later, or the store be back soon).
func checkChannel(ctx context.Context, store channel.Store, w io.Writer) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := store.Stat(cctx, "noarch/repodata.json")
	switch {
	case errors.Is(err, channel.ErrNotFound):
		fmt.Fprintf(w, "warning: %s has no noarch/repodata.json, which conda clients need: run `condachan index --channel %s`\n", store, store)
	case err != nil:
		fmt.Fprintf(w, "warning: cannot read the channel yet: %v\n", withFlagHints(err))
	}
}
