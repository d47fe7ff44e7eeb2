package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/internal/progress"
	"github.com/condachan/condachan/mirror"
	"github.com/condachan/condachan/mirror/lockfile"
)

// lockFlags choose the locks and the packages in them.
type lockFlags struct {
	locks        []string
	environments []string
	platforms    []string
	cache        string
	jobs         int
}

func (f *lockFlags) add(fl *pflag.FlagSet) {
	fl.StringArrayVar(&f.locks, "lock", nil, "lock file: conda explicit (conda list --explicit --md5, conda-lock --kind explicit), pixi.lock or conda-lock.yml (repeatable)")
	fl.StringArrayVar(&f.environments, "environment", nil, "pixi.lock environment to take (repeatable; default: all)")
	fl.StringArrayVar(&f.platforms, "platform", nil, "platform to take, e.g. linux-64 (repeatable; default: all in the lock; noarch always)")
	fl.StringVar(&f.cache, "cache", "", "where verified downloads wait until published (default: "+mirror.DefaultCache()+")")
	fl.IntVar(&f.jobs, "jobs", 8, "packages fetched and uploaded at once")
}

func (f *lockFlags) prepare(ctx context.Context, from string, ch *channelFlags) (*mirror.Plan, error) {
	if f.jobs < 1 {
		return nil, usageError{fmt.Errorf("--jobs %d: give 1 or more packages at once", f.jobs)}
	}
	plan, err := mirror.Prepare(ctx, mirror.Request{Locks: f.locks, From: from, Cache: f.cache,
		Select: lockfile.Options{Environments: f.environments, Platforms: f.platforms}, Channel: ch.options()})
	if errors.Is(err, mirror.ErrNoLocks) {
		return nil, usageError{fmt.Errorf("--lock is required (or --from a bundle made by mirror pack, which holds its locks)")}
	}
	return plan, err
}

func newMirrorCommand(stdout, stderr io.Writer) *cobra.Command {
	var cf changeFlags
	var lf lockFlags
	var from string
	cmd := &cobra.Command{
		Use:   "mirror --lock FILE... --channel URL",
		Short: "Copy exactly the packages of lock files into a channel (for networks without internet)",
		Long: `Copy every conda package a lock names into <channel>/<subdir>/<file> and index the
channel, so that jobs can install the locked environment from the channel alone.

Each package comes from its URL in the lock (HTTPS; HTTPS_PROXY, HTTP_PROXY and NO_PROXY
are honoured), from --from DIR (<dir>/<subdir>/<file> or <dir>/<file>), or from --from
BUNDLE made by 'condachan mirror pack' on a connected machine. Its sha256 (and md5 when
the lock gives one) is checked while it streams. Uploads are create-if-absent: the same
bytes already in the channel are kept, other bytes under the same name are refused. The
channel's records are read from the packages themselves.

A run publishes all of its locks or nothing: it holds the channel lease while it
transfers and indexes, and when a package fails (a hash mismatch, a 404, a cut
connection) it removes what it uploaded before anyone could index it. Downloads stay in
--cache until published, so a re-run fetches only what is missing.`,
		Example: `  conda list --explicit --md5 > render-env.txt        # on a connected machine
  condachan mirror --lock render-env.txt --channel s3://studio-bucket/Conda/Default
  condachan mirror --lock pixi.lock --environment render --platform linux-64 --channel ./channel
  condachan mirror --from render-env.bundle --channel s3://studio-bucket/Conda/Default`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mode, err := cf.progressMode()
			if err != nil {
				return err
			}
			plan, err := lf.prepare(cmd.Context(), from, &cf.channelFlags)
			if err != nil {
				return err
			}
			defer plan.Close()
			store, err := cf.open(cmd.Context())
			if err != nil {
				return err
			}
			rep := progress.New(mode, stdout, stderr)
			defer rep.Finish()
			opts := cf.publishOptions("mirror", rep, stderr)
			res, err := mirror.Mirror(cmd.Context(), store, plan.Packages, plan.Source, mirror.Options{Concurrency: lf.jobs, Lease: opts.Lease, Progress: rep, Log: opts.Log})
			rep.Finish()
			if err != nil {
				channel.Abandon(store)
				return err
			}
			return cf.print(stdout, stderr, res.Index, res, func() {
				fmt.Fprintf(stdout, "%d package(s) in %s: %d uploaded, %d already there\n", len(res.Packages), res.Channel, res.Uploaded, len(res.Packages)-res.Uploaded)
			})
		},
	}
	cf.add(cmd.Flags())
	lf.add(cmd.Flags())
	cmd.Flags().StringVar(&from, "from", "", "take the packages from this folder, bundle file or s3://bucket/key of a bundle instead of their URLs")
	cmd.AddCommand(newMirrorPackCommand(stdout, stderr))
	return cmd
}

func newMirrorPackCommand(stdout, stderr io.Writer) *cobra.Command {
	var lf lockFlags
	var out, from, progressFlag string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "pack --lock FILE... -o BUNDLE",
		Short: "Fetch and verify the packages of lock files into one bundle to carry across an air gap",
		Long: `Fetch every package the locks name, check its hashes, and write them with the locks
into one archive (an uncompressed tar: packages are compressed already). On the other
side, 'condachan mirror --from BUNDLE --channel URL' publishes it.

An interrupted or failed pack leaves BUNDLE.partial; running the same command again keeps
what it holds and fetches only what is missing. BUNDLE itself appears only when complete.`,
		Example: `  condachan mirror pack --lock pixi.lock --platform linux-64 -o render-env.bundle`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mode, err := progress.ParseMode(progressFlag)
			if err != nil {
				return usageError{err}
			}
			if out == "" {
				return usageError{fmt.Errorf("-o/--output is required: the bundle file to write")}
			}
			plan, err := lf.prepare(cmd.Context(), from, &channelFlags{})
			if err != nil {
				return err
			}
			defer plan.Close()
			rep := progress.New(mode, stdout, stderr)
			defer rep.Finish()
			res, err := mirror.Pack(cmd.Context(), out, plan.LockFiles, plan.Packages, plan.Source, mirror.Options{Concurrency: lf.jobs, Progress: rep})
			rep.Finish()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(stdout, res)
			}
			fmt.Fprintf(stdout, "%s: %d package(s), %d fetched, %d already in the partial bundle\n", res.Bundle, res.Packages, res.Added, res.Kept)
			return nil
		},
	}
	lf.add(cmd.Flags())
	cmd.Flags().StringVarP(&out, "output", "o", "", "the bundle file to write")
	cmd.Flags().StringVar(&from, "from", "", "take the packages from this folder instead of their URLs")
	cmd.Flags().StringVar(&progressFlag, "progress", "auto", "auto, bar, openjd or none")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
