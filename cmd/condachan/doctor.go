package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/channel"
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
			if cf.url == "" {
				return usageError{errors.New("--channel is required (s3://bucket/prefix, file:///dir or a folder path)")}
			}
			loc, err := channel.ParseLocation(cf.url)
			if err != nil {
				return usageError{err}
			}
			if !loc.IsS3() {
				// A missing folder is a mistyped path more often than a channel to come.
				var nc *channel.NoChannelError
				if err := channel.CheckLocalChannel(loc.Dir); errors.As(err, &nc) {
					return usageError{fmt.Errorf("--channel: %w", err)}
				}
			}
			if timeout <= 0 {
				return usageError{fmt.Errorf("--timeout must be positive, got %s", timeout)}
			}
			s3o := cf.s3Options()
			s3o.ConnectTimeout = timeout
			opts := channel.DiagnoseOptions{Options: s3store.ChannelOptions(s3o), Timeout: timeout, ReadOnly: readOnly}
			// The findings name settings as flags, in the table and in --json alike.
			rep := channel.Diagnose(cmd.Context(), cf.url, opts).Words(cliNames{})
			if asJSON {
				if err := printJSON(stdout, rep); err != nil {
					return err
				}
			} else {
				printDoctorTable(stdout, rep)
			}
			if failed := rep.Failed(); len(failed) > 0 {
				names := make([]string, len(failed))
				for i, c := range failed {
					names[i] = c.Name
				}
				return fmt.Errorf("doctor: %d of %d checks failed (%s)", len(failed), len(rep.Checks), strings.Join(names, ", "))
			}
			return nil
		},
	}
	cf.add(cmd.Flags(), false)
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long getting credentials and connecting to the endpoint may take")
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "leave out the checks that write (for a read-only role)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	_ = stderr
	return cmd
}

// statusWord is what the table shows for a status: plain words, which every terminal
// (Windows consoles included) shows the same.
func statusWord(s channel.CheckStatus) string {
	switch s {
	case channel.CheckPass:
		return "PASS"
	case channel.CheckWarn:
		return "WARN"
	case channel.CheckFail:
		return "FAIL"
	}
	return "SKIP"
}

// printDoctorTable prints the report as aligned columns: status, check, detail, with the
// fix on the next line under the detail.
func printDoctorTable(w io.Writer, rep *channel.Report) {
	fmt.Fprintf(w, "condachan doctor: %s\n\n", rep.Channel)
	width := len("CHECK")
	for _, c := range rep.Checks {
		width = max(width, utf8.RuneCountInString(c.Name))
	}
	indent := strings.Repeat(" ", 6+width+2)
	fmt.Fprintf(w, "%-4s  %-*s  %s\n", "", width, "CHECK", "DETAIL")
	counts := map[channel.CheckStatus]int{}
	for _, c := range rep.Checks {
		counts[c.Status]++
		fmt.Fprintf(w, "%-4s  %-*s  %s\n", statusWord(c.Status), width, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "%sfix: %s\n", indent, c.Fix)
		}
	}
	fmt.Fprintln(w)
	summary := fmt.Sprintf("%d ok, %d warning(s), %d failure(s), %d skipped", counts[channel.CheckPass], counts[channel.CheckWarn], counts[channel.CheckFail], counts[channel.CheckSkip])
	if rep.OK {
		fmt.Fprintf(w, "Result: the channel is usable from here (%s)\n", summary)
	} else {
		fmt.Fprintf(w, "Result: problems found (%s)\n", summary)
	}
}
