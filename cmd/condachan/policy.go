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

// policyOutput is what `condachan policy` prints.
type policyOutput struct {
	Channel string `json:"channel"`
	Access  string `json:"access"`
	// IdentityPolicy goes on the queue role (aws iam put-role-policy).
	IdentityPolicy iampolicy.Document `json:"identity_policy"`
	// BucketPolicy, with --bucket-policy, is merged into the bucket's policy.
	BucketPolicy *iampolicy.Document `json:"bucket_policy,omitempty"`
	Notes        []string            `json:"notes"`
}

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
				return usageError{err}
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
			return printJSON(stdout, newPolicyOutput(pol))
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

// newPolicyOutput is the printed form of a policy: the notes get the hints about this
// CLI's commands and flags.
func newPolicyOutput(pol *iampolicy.Policy) policyOutput {
	out := policyOutput{
		Channel:        pol.Channel,
		Access:         string(pol.Access),
		IdentityPolicy: pol.IdentityPolicy,
		BucketPolicy:   pol.BucketPolicy,
		Notes:          []string{"identity_policy goes on the queue role: aws iam put-role-policy --role-name ROLE --policy-name condachan --policy-document \"$(condachan policy ... | jq .identity_policy)\""},
	}
	for _, n := range pol.Notes {
		text := n.Text
		switch n.Topic {
		case iampolicy.TopicListBucketLimit:
			text += " `condachan doctor --channel " + pol.Channel + "` on a worker with this role checks it."
		case iampolicy.TopicRegion:
			text = strings.TrimSuffix(text, ".") + " (pass --region or set AWS_REGION to skip the lookup)."
		case iampolicy.TopicResourceAccount:
			text = strings.TrimSuffix(text, ".") + "; pass --expected-bucket-owner " + pol.Account + " to condachan for the same check on each request."
		}
		out.Notes = append(out.Notes, text)
	}
	return out
}
