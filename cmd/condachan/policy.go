package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/iampolicy"
)

func newPolicyCommand(stdout io.Writer) *cobra.Command {
	var channelURL, access, account string
	var bucketPolicy bool
	cmd := &cobra.Command{
		Use:   "policy --channel s3://bucket/prefix --access read|write [--account ID] [--bucket-policy]",
		Short: "Print the least-privilege IAM policy for a queue role that reads or publishes a channel",
		Long: `Print, as JSON, the IAM policy statements a role needs to use an S3 channel, limited to
the channel's prefix:

  read   for the production (render) queue role: s3:GetObject on <prefix>/*, s3:ListBucket
         on the bucket for keys under <prefix>/ only.
  write  for the package build queue role: read, plus s3:PutObject, s3:DeleteObject and
         s3:AbortMultipartUpload on <prefix>/*, and s3:GetBucketLocation and
         s3:ListBucketMultipartUploads on the bucket (index runs abort the multipart
         uploads of publishers that were killed; IAM cannot limit that listing to a prefix).

--account ID adds an s3:ResourceAccount condition to every statement, so the role cannot
use a bucket of the same name owned by another account. --bucket-policy adds a bucket
policy that refuses unconditional writes of the keys condachan always writes with
If-None-Match or If-Match (repodata, shards, channeldata, index pages, .condachan/) and
unconditional deletes of
the lease. The identity policy is under "identity_policy" (jq .identity_policy).`,
		Example: `  condachan policy --channel s3://studio-bucket/Conda/Default --access read
  condachan policy --channel s3://studio-bucket/Conda/Default --access write --account 111122223333 --bucket-policy
  condachan policy --channel s3://studio-bucket/Conda --access write | jq .identity_policy > build-queue-policy.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if channelURL == "" {
				return usageError{errors.New("--channel s3://bucket/prefix is required")}
			}
			loc, err := channel.ParseLocation(channelURL)
			if err != nil {
				return err
			}
			if !loc.IsS3() {
				return usageError{fmt.Errorf("--channel %s is a folder: IAM policies are for S3 channels (s3://bucket/prefix)", channelURL)}
			}
			pol, err := iampolicy.Generate(iampolicy.Request{
				Bucket: loc.Bucket, Prefix: loc.Prefix, Access: iampolicy.Access(access),
				Account: account, BucketPolicy: bucketPolicy,
			})
			if err != nil {
				return policyFlagError(err, channelURL)
			}
			addPolicyHints(pol)
			return printJSON(stdout, pol)
		},
	}
	cmd.Flags().StringVar(&channelURL, "channel", "", "the channel: s3://bucket/prefix")
	cmd.Flags().StringVar(&access, "access", "", "read (production queue role) or write (package build queue role)")
	cmd.Flags().StringVar(&account, "account", "", "AWS account id that owns the bucket (adds an s3:ResourceAccount condition)")
	cmd.Flags().BoolVar(&bucketPolicy, "bucket-policy", false, "also print a bucket policy that requires conditional writes on the channel's index and lease")
	return cmd
}

// policyFlagError turns an *iampolicy.InvalidRequestError into a usage error that names
// the flag at fault.
func policyFlagError(err error, channelURL string) error {
	var inv *iampolicy.InvalidRequestError
	if !errors.As(err, &inv) {
		return err
	}
	var flag string
	switch inv.Field {
	case iampolicy.FieldBucket, iampolicy.FieldPrefix:
		return usageError{fmt.Errorf("--channel %s: %w", channelURL, err)}
	case iampolicy.FieldAccess:
		flag = "--access"
	case iampolicy.FieldAccount:
		flag = "--account"
	default:
		return usageError{err}
	}
	if inv.Value == "" {
		return usageError{fmt.Errorf("%s is required: %s", flag, inv.Reason)}
	}
	return usageError{fmt.Errorf("%s %q: %s", flag, inv.Value, inv.Reason)}
}

// addPolicyHints adds to the policy's notes how to use it with this CLI's commands and
// flags.
func addPolicyHints(pol *iampolicy.Policy) {
	for i, n := range pol.Notes {
		switch n.Topic {
		case iampolicy.TopicListBucketLimit:
			n.Text += " `condachan doctor --channel " + pol.Channel + "` on a worker with this role checks it."
		case iampolicy.TopicRegion:
			n.Text = strings.TrimSuffix(n.Text, ".") + " (pass --region or set AWS_REGION to skip the lookup)."
		case iampolicy.TopicResourceAccount:
			n.Text = strings.TrimSuffix(n.Text, ".") + "; pass --expected-bucket-owner " + pol.Account + " to condachan for the same check on each request."
		}
		pol.Notes[i] = n
	}
	howTo := iampolicy.Note{Text: "identity_policy goes on the queue role: aws iam put-role-policy --role-name ROLE --policy-name condachan --policy-document \"$(condachan policy ... | jq .identity_policy)\""}
	pol.Notes = append([]iampolicy.Note{howTo}, pol.Notes...)
}
