package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/doctor"
	s3store "github.com/condachan/condachan/channel/s3"
)

func newDoctorCommand(stdout, stderr io.Writer) *cobra.Command {
	var cf channelFlags
	var asJSON, readOnly bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "doctor --channel URL",
		Short: "Check that this machine can use a channel: credentials, network, permissions, conditional writes, lease",
		Long: `Check, from this machine, everything a channel needs to work.

For an S3 channel: which credential source is in use and whether getting credentials calls
STS; the region and endpoint; whether the bucket answers (within --timeout, with the fix when
it does not, such as the VPC endpoint to add); the list, get, put and delete permissions on a
probe key under <channel>/.condachan/doctor/ (removed afterwards); whether the endpoint really
enforces If-None-Match, If-Match and conditional DELETE, which the channel lease is built on;
and who holds the lease. For a folder: that it is writable and that file locks work. For
both: what interrupted publishers left behind for over an hour (temp files in a folder,
unfinished multipart uploads on S3); doctor only reports them, the next index run removes
them.

Exit code 0 when no check failed (warnings allowed), 1 when one did. --read-only leaves out
the checks that write, for a read-only role such as a render queue's.`,
		Example: `  condachan doctor --channel s3://studio-bucket/Conda/Default
  condachan doctor --channel s3://studio-bucket/Conda/Default --read-only --json
  condachan doctor --channel ./conda-channel`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			loc, err := cf.location()
			if err != nil {
				return err
			}
			if !loc.IsS3() {
				// A missing folder is a mistyped path more often than a channel to come.
				var nc *channel.NoChannelError
				if err := channel.CheckLocalChannel(loc.Dir); errors.As(err, &nc) {
					return fmt.Errorf("--channel: %w", err)
				}
			}
			if timeout <= 0 {
				return usageError{fmt.Errorf("--timeout must be positive, got %s", timeout)}
			}
			s3o := cf.s3Options()
			s3o.ConnectTimeout = timeout
			opts := doctor.Options{Options: s3store.ChannelOptions(s3o), Timeout: timeout, ReadOnly: readOnly}
			// The findings name settings as flags, in the table and in --json alike.
			rep := doctor.Diagnose(cmd.Context(), cf.url, opts).Words(cliNames{})
			if !asJSON {
				rep.WriteTable(stdout)
			} else if err := printJSON(stdout, rep); err != nil {
				return err
			}
			return rep.Err()
		},
	}
	cf.add(cmd.Flags(), false)
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long getting credentials and connecting to the endpoint may take")
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "leave out the checks that write (for a read-only role)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	_ = stderr
	return cmd
}
