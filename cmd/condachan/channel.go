package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/condachan/condachan/channel"
	s3store "github.com/condachan/condachan/channel/s3" // registers s3:// channels
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/internal/progress"
	"github.com/condachan/condachan/publish"
)

// channelFlags are the flags of every command that opens a channel.
type channelFlags struct {
	url           string
	region        string
	endpointURL   string
	pathStyle     bool
	expectedOwner string
	profile       string
	leaseTTL      time.Duration
	leasePoll     time.Duration
	lease         bool // the lease flags were added
}

func (f *channelFlags) add(fl *pflag.FlagSet, lease bool) {
	fl.StringVar(&f.url, "channel", "", "channel: s3://bucket/prefix, file:///dir or a folder path")
	fl.StringVar(&f.region, "region", "", "AWS region of the bucket (default: AWS_REGION / the profile / asked from S3)")
	fl.StringVar(&f.endpointURL, "endpoint-url", "", "S3 endpoint (VPC interface endpoints, S3-compatible servers; also AWS_ENDPOINT_URL_S3)")
	fl.BoolVar(&f.pathStyle, "s3-path-style", false, "path-style bucket addressing (also CONDACHAN_S3_PATH_STYLE=true)")
	fl.StringVar(&f.expectedOwner, "expected-bucket-owner", "", "AWS account id the bucket must belong to")
	fl.StringVar(&f.profile, "profile", "", "AWS profile (default: AWS_PROFILE)")
	f.lease = lease
	if lease {
		fl.DurationVar(&f.leaseTTL, "lease-ttl", 30*time.Second, "how long the channel lease lasts without a heartbeat (heartbeats every TTL/3)")
		fl.DurationVar(&f.leasePoll, "lease-poll", time.Second, "how often a publisher waiting for the lease looks again")
	}
}

// open opens --channel, creating a local channel folder that does not exist yet: for
// publish, the way to start a channel.
func (f *channelFlags) open(ctx context.Context) (channel.Store, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	return channel.Open(ctx, f.url, f.options())
}

// openExisting opens --channel for the commands that read or maintain a channel: a
// local folder that does not exist (a mistyped path) is a usage error, never created.
func (f *channelFlags) openExisting(ctx context.Context) (channel.Store, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	st, err := channel.OpenExisting(ctx, f.url, f.options())
	var nc *channel.NoChannelError
	if errors.As(err, &nc) {
		return nil, fmt.Errorf("--channel: %w", err)
	}
	return st, err
}

func (f *channelFlags) check() error {
	if _, err := f.location(); err != nil {
		return err
	}
	return f.checkLease()
}

// checkLease refuses lease flags that cannot be honoured.
func (f *channelFlags) checkLease() error {
	if !f.lease {
		return nil
	}
	return errors.Join(positive("lease-ttl", f.leaseTTL), positive("lease-poll", f.leasePoll))
}

// needs refuses flag when it was given without what it works with (with, which is set
// or not): it would change nothing.
func needs(cmd *cobra.Command, flag, with string, set bool) error {
	if set || !cmd.Flags().Changed(flag) {
		return nil
	}
	return usageError{fmt.Errorf("--%s goes with %s: without it, it changes nothing", flag, with)}
}

// positive refuses a flag value of 0 or less, which what the flag sets cannot take.
func positive[T int | int64 | time.Duration](flag string, v T) error {
	if v > 0 {
		return nil
	}
	return usageError{fmt.Errorf("--%s %v: give more than 0", flag, v)}
}

// location parses --channel, which is required.
func (f *channelFlags) location() (channel.Location, error) {
	if f.url == "" {
		return channel.Location{}, usageError{errors.New("--channel is required (s3://bucket/prefix, file:///dir or a folder path)")}
	}
	return channel.ParseLocation(f.url)
}

// options are the channel.Options of the flags: the S3 backend's.
func (f *channelFlags) options() channel.Options {
	return s3store.ChannelOptions(f.s3Options())
}

func (f *channelFlags) s3Options() s3store.Options {
	return s3store.Options{
		Region: f.region, EndpointURL: f.endpointURL, PathStyle: f.pathStyle,
		ExpectedBucketOwner: f.expectedOwner, Profile: f.profile,
	}
}

// publishOptions are the options of a command that changes the channel under its lease:
// the lease flags, the progress reporter, and notable events logged to stderr.
func (f *channelFlags) publishOptions(command string, rep progress.Reporter, stderr io.Writer) publish.Options {
	return publish.Options{
		Lease:    channel.LeaseOptions{TTL: f.leaseTTL, Poll: f.leasePoll, Owner: channel.CurrentOwner(command)},
		Progress: rep,
		Log:      func(s string) { fmt.Fprintln(stderr, s) },
	}
}

// changeFlags are the flags of the commands that change a channel under its lease.
type changeFlags struct {
	channelFlags
	progress string
	json     bool
}

func (f *changeFlags) add(fl *pflag.FlagSet) {
	f.channelFlags.add(fl, true)
	fl.BoolVar(&f.json, "json", false, "print the result as JSON")
	fl.StringVar(&f.progress, "progress", "auto", "auto, bar, openjd or none")
}

// progressMode parses --progress; a bad value is a usage error.
func (f *changeFlags) progressMode() (progress.Mode, error) {
	mode, err := progress.ParseMode(f.progress)
	if err != nil {
		return "", usageError{err}
	}
	return mode, nil
}

// print prints what the index run ir found on stderr, then the result: v with --json,
// else what lines prints.
func (f *changeFlags) print(stdout, stderr io.Writer, ir *index.Result, v any, lines func()) error {
	reportIndex(stderr, ir)
	if f.json {
		return printJSON(stdout, v)
	}
	lines()
	return nil
}

// change is what a command that changes the channel does, for changeFlags.run.
type change struct {
	name  string                                       // the command, as the lease's owner
	check func() error                                 // checks the arguments first, if set
	open  func(context.Context) (channel.Store, error) // opens the channel
	do    func(context.Context, channel.Store, publish.Options) (changed, error)
}

// changed is what a change did: what its index run found, the result for --json, and
// the lines that say it otherwise.
type changed struct {
	index *index.Result
	json  any
	lines func(w io.Writer)
}

// run parses --progress, checks the arguments, opens the channel, does the change with
// a progress reporter, and prints what it did.
func (f *changeFlags) run(cmd *cobra.Command, stdout, stderr io.Writer, c change) error {
	mode, err := f.progressMode()
	if err != nil {
		return err
	}
	if c.check != nil {
		if err := c.check(); err != nil {
			return err
		}
	}
	store, err := c.open(cmd.Context())
	if err != nil {
		return err
	}
	rep := progress.New(mode, stdout, stderr)
	defer rep.Finish()
	res, err := c.do(cmd.Context(), store, f.publishOptions(c.name, rep, stderr))
	rep.Finish()
	if err != nil {
		channel.Abandon(store) // a channel folder this command made, if still empty
		return err
	}
	return f.print(stdout, stderr, res.index, res.json, func() { res.lines(stdout) })
}

// publishJSON and indexJSON are results with the requests the channel sent, for --json.
type publishJSON struct {
	*publish.Result
	Requests *channel.RequestCounts `json:"s3_requests,omitempty"`
}

type indexJSON struct {
	*index.Result
	Requests *channel.RequestCounts `json:"s3_requests,omitempty"`
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printJSONList prints one value as an object, several as a list.
func printJSONList[T any](w io.Writer, list []T) error {
	if len(list) == 1 {
		return printJSON(w, list[0])
	}
	return printJSON(w, list)
}

func newPublishCommand(stdout, stderr io.Writer) *cobra.Command {
	var cf changeFlags
	var force bool
	cmd := &cobra.Command{
		Use:   "publish PKG.conda... --channel URL",
		Short: "Upload packages to a channel and reindex it under the channel lease",
		Long: `Upload packages to <channel>/<subdir>/<file> and reindex the touched subdirs.

Uploads are create-if-absent: the same bytes already there are a no-op, different bytes
under the same name are refused unless --force. The index runs under the channel lease,
so any number of publishers can run at once without losing an update; publishers that
queue behind one lease share its index run.`,
		Example: `  condachan publish output/linux-64/blender-4.1.1-0.conda --channel s3://studio-bucket/Conda/Default
  condachan publish output/*/*.conda --channel ./channel`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cf.run(cmd, stdout, stderr, change{name: "publish", open: cf.open,
				// Before the channel is opened: opening a local one creates its folder.
				check: func() error { return publish.CheckFiles(args) },
				do: func(ctx context.Context, store channel.Store, opts publish.Options) (changed, error) {
					opts.Force = force
					res, err := publish.Publish(ctx, store, args, opts)
					if err != nil {
						return changed{}, err
					}
					return changed{res.Index, publishJSON{res, channel.Requests(store)}, func(w io.Writer) { printUploads(w, res) }}, nil
				}})
		},
	}
	cf.add(cmd.Flags())
	cmd.Flags().BoolVar(&force, "force", false, "replace packages that exist with different content")
	return cmd
}

func printUploads(w io.Writer, res *publish.Result) {
	for _, u := range res.Uploads {
		fmt.Fprintf(w, "%s %s/%s\n", u.Status, res.Channel, u.Key)
	}
}

// reportIndex prints what an index run found that people must know about.
func reportIndex(w io.Writer, r *index.Result) {
	for _, m := range r.Messages() {
		fmt.Fprintln(w, m)
	}
}

func newIndexCommand(stdout, stderr io.Writer) *cobra.Command {
	var cf changeFlags
	var opts index.Options
	var strict, noShards, shards bool
	cmd := &cobra.Command{
		Use:   "index --channel URL [--subdir S]... [--full] [--strict] [--no-shards]",
		Short: "Reindex a channel (after packages were copied in or removed by hand)",
		Long: `Reindex a channel: find new, replaced and deleted packages and rewrite every file
clients read (see "Channel files" in the README):

` + index.DescribeOutputs() + `
A package's metadata is read once in its life (ranged reads of its info member only);
unreadable files are reported in their own list and left out (--strict: exit 1). A
repodata.json that is not valid is not replaced without --full, which also reads every
package again. Shards are on by default; --no-shards removes the shard index of the
subdirs indexed (clients fall back to repodata.json) and is remembered until --shards.
Each record keeps the indexed_timestamp (CEP 47) of the run that first indexed it.
Patch instructions stored with ` + "`condachan patch`" + ` are applied; repodata_from_packages.json
keeps the records as the packages say.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var res *index.Result
			err := cf.run(cmd, stdout, stderr, change{name: "index", open: cf.openExisting,
				check: func() error {
					if noShards && shards {
						return usageError{errors.New("--shards and --no-shards contradict each other")}
					}
					return nil
				},
				do: func(ctx context.Context, store channel.Store, po publish.Options) (changed, error) {
					switch {
					case noShards:
						opts.Shards = index.ShardsOff
					case shards:
						opts.Shards = index.ShardsOn
					}
					var err error
					if res, err = publish.Reindex(ctx, store, opts, po); err != nil {
						return changed{}, err
					}
					return changed{res, indexJSON{res, channel.Requests(store)}, func(w io.Writer) {
						for _, sd := range res.Subdirs {
							fmt.Fprintf(w, "%s: %d packages (%d added, %d replaced, %d removed, %d unreadable)\n",
								sd.Subdir, sd.Packages, len(sd.Added), len(sd.Replaced), len(sd.Removed), len(sd.Unreadable))
						}
					}}, nil
				}})
			if n := res.Unreadable(); err == nil && strict && n > 0 {
				return &strictError{n}
			}
			return err
		},
	}
	cf.add(cmd.Flags())
	cmd.Flags().StringArrayVar(&opts.Subdirs, "subdir", nil, "subdir to index (repeatable; default: all; one the channel does not have is refused)")
	cmd.Flags().BoolVar(&opts.Full, "full", false, "read every package again and replace an invalid repodata.json")
	cmd.Flags().BoolVar(&strict, "strict", false, "exit 1 when a package is unreadable (after writing the index of the others)")
	cmd.Flags().BoolVar(&noShards, "no-shards", false, "stop writing sharded repodata (CEP 16) in the subdirs indexed, and remove their shard index; remembered")
	cmd.Flags().BoolVar(&shards, "shards", false, "write sharded repodata again after --no-shards")
	return cmd
}

// strictError is `index --strict` finding unreadable packages.
type strictError struct{ n int }

func (e *strictError) Error() string {
	return fmt.Sprintf("--strict: %d package(s) are unreadable (listed above) and were left out of the index; fix or delete them and index again", e.n)
}

func newLockCommand(stdout, stderr io.Writer, stdin io.Reader) *cobra.Command {
	lock := &cobra.Command{Use: "lock", Short: "Inspect or break the channel lease"}
	var cf channelFlags
	var asJSON bool
	status := &cobra.Command{
		Use:   "status --channel URL",
		Short: "Show who holds the channel lease, since when, and its generation",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, ls, err := cf.leaseStatus(cmd.Context())
			switch {
			case err != nil:
				return err
			case asJSON:
				return printJSON(stdout, ls)
			}
			printLeaseStatus(stdout, ls)
			return nil
		},
	}
	cf.add(status.Flags(), false)
	status.Flags().BoolVar(&asJSON, "json", false, "print as JSON")

	var bf channelFlags
	var yes bool
	brk := &cobra.Command{
		Use:   "break --channel URL [--yes]",
		Short: "Remove a lease whose holder died (after confirmation)",
		Long: `Remove the channel lease, for a holder known to be dead. Waiting publishers take over an
expired lease by themselves after its TTL; break is for not waiting. The lease shown is the
one removed: if it changes before you confirm (a heartbeat, a new holder), nothing happens.
A holder that is in fact alive cannot damage the index: its next repodata write fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, ls, err := bf.leaseStatus(cmd.Context())
			if err != nil {
				return err
			}
			if !ls.Held {
				fmt.Fprintln(stdout, "nobody holds the channel lease; nothing to break")
				return nil
			}
			rec, obj := ls.Record, ls.Object
			fmt.Fprintf(stdout, "lease held by %s pid %d, generation %d, last written %s ago\n", rec.Owner.Host, rec.Owner.PID, rec.Generation, time.Since(obj.Modified).Round(time.Second))
			if !yes {
				fmt.Fprint(stdout, "break it? [y/N] ")
				line, _ := bufio.NewReader(stdin).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return usageError{errors.New("not confirmed; nothing changed (use --yes in scripts)")}
				}
			}
			if err := channel.BreakLease(cmd.Context(), store, obj.ETag); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "lease broken")
			return nil
		},
	}
	bf.add(brk.Flags(), false)
	brk.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	lock.AddCommand(status, brk)
	return lock
}

// leaseStatus opens the channel and reads its lease.
func (f *channelFlags) leaseStatus(ctx context.Context) (channel.Store, channel.LeaseStatus, error) {
	store, err := f.openExisting(ctx)
	if err != nil {
		return nil, channel.LeaseStatus{}, err
	}
	ls, err := channel.ReadLeaseStatus(ctx, store)
	return store, ls, err
}

// printLeaseStatus says who holds the lease, since when, and its generation.
func printLeaseStatus(w io.Writer, ls channel.LeaseStatus) {
	rec, obj := ls.Record, ls.Object
	switch {
	case !ls.Held:
		fmt.Fprintln(w, "free: nobody holds the channel lease")
		return
	case ls.Unreadable != nil:
		fmt.Fprintf(w, "held, but lock.json is unreadable (%v); ETag %s, written %s\n", ls.Unreadable, obj.ETag, obj.Modified.Format(time.RFC3339))
		return
	}
	fmt.Fprintf(w, "held by %s pid %d", rec.Owner.Host, rec.Owner.PID)
	if rec.Owner.User != "" {
		fmt.Fprintf(w, " (user %s)", rec.Owner.User)
	}
	fmt.Fprintln(w)
	if rec.Owner.JobID != "" {
		fmt.Fprintf(w, "  Deadline job %s, session %s\n", rec.Owner.JobID, rec.Owner.SessionID)
	}
	fmt.Fprintf(w, "  generation %d, TTL %s\n", rec.Generation, rec.TTL())
	fmt.Fprintf(w, "  acquired %s, last heartbeat %s (by the holder's clock); stored %s ago\n",
		rec.AcquiredAt.Format(time.RFC3339), rec.RenewedAt.Format(time.RFC3339), time.Since(obj.Modified).Round(time.Second))
	fmt.Fprintf(w, "  ETag %s\n", obj.ETag)
}
