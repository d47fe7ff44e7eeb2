package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
)

// IAM policy documents, with fields in the order AWS shows them. Condition maps marshal
// with sorted keys, so the output is stable.
type policyDocument struct {
	Version   string            `json:"Version"`
	Statement []policyStatement `json:"Statement"`
}

type policyStatement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Principal any                       `json:"Principal,omitempty"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// policyOutput is what `condachan policy` prints.
type policyOutput struct {
	Channel string `json:"channel"`
	Access  string `json:"access"`
	// IdentityPolicy goes on the queue role (aws iam put-role-policy).
	IdentityPolicy policyDocument `json:"identity_policy"`
	// BucketPolicy, with --bucket-policy, is merged into the bucket's policy.
	BucketPolicy *policyDocument `json:"bucket_policy,omitempty"`
	Notes        []string        `json:"notes"`
}

// policyRequest is what the policy is for.
type policyRequest struct {
	Bucket, Prefix string // the channel; Prefix without slashes at either end, may be ""
	Write          bool
	Account        string // 12 digits, or ""
	BucketPolicy   bool
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
			req, err := parsePolicyRequest(channelURL, access, account, bucketPolicy)
			if err != nil {
				return usageError{err}
			}
			return printJSON(stdout, buildPolicy(req))
		},
	}
	cmd.Flags().StringVar(&channelURL, "channel", "", "the channel: s3://bucket/prefix")
	cmd.Flags().StringVar(&access, "access", "", "read (production queue role) or write (package build queue role)")
	cmd.Flags().StringVar(&account, "account", "", "AWS account id that owns the bucket (adds an s3:ResourceAccount condition)")
	cmd.Flags().BoolVar(&bucketPolicy, "bucket-policy", false, "also print a bucket policy that requires conditional writes on the channel's index and lease")
	return cmd
}

func parsePolicyRequest(channelURL, access, account string, bucketPolicy bool) (policyRequest, error) {
	if channelURL == "" {
		return policyRequest{}, errors.New("--channel s3://bucket/prefix is required")
	}
	loc, err := channel.ParseLocation(channelURL)
	if err != nil {
		return policyRequest{}, err
	}
	if !loc.IsS3() {
		return policyRequest{}, fmt.Errorf("--channel %s is a folder: IAM policies are for S3 channels (s3://bucket/prefix)", channelURL)
	}
	// Wildcards and policy variables in the prefix would widen the grant.
	if strings.ContainsAny(loc.Prefix, "*?") || strings.Contains(loc.Prefix, "${") {
		return policyRequest{}, fmt.Errorf("channel prefix %q holds *, ? or ${, which IAM reads as wildcards or variables: the policy would grant more than the channel", loc.Prefix)
	}
	req := policyRequest{Bucket: loc.Bucket, Prefix: loc.Prefix, BucketPolicy: bucketPolicy}
	switch access {
	case "read":
	case "write":
		req.Write = true
	case "":
		return policyRequest{}, errors.New("--access is required: read (production queue role) or write (package build queue role)")
	default:
		return policyRequest{}, fmt.Errorf("--access %q: use read or write", access)
	}
	if account != "" {
		if len(account) != 12 || strings.Trim(account, "0123456789") != "" {
			return policyRequest{}, fmt.Errorf("--account %q: an AWS account id is 12 digits", account)
		}
		req.Account = account
	}
	return req, nil
}

// buildPolicy writes the policies for a request.
func buildPolicy(req policyRequest) policyOutput {
	bucketARN := "arn:aws:s3:::" + req.Bucket
	keys := req.Prefix + "/" // the channel's keys start with this
	if req.Prefix == "" {
		keys = ""
	}
	objects := bucketARN + "/" + keys + "*"
	chanURL := "s3://" + req.Bucket
	if req.Prefix != "" {
		chanURL += "/" + req.Prefix
	}

	list := policyStatement{Sid: "CondachanListChannel", Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: []string{bucketARN}}
	if req.Prefix != "" {
		// Listing is allowed only for keys under the channel: condachan lists with prefixes
		// such as "<prefix>/" and "<prefix>/linux-64/".
		list.Condition = map[string]map[string]any{"StringLike": {"s3:prefix": []string{keys, keys + "*"}}}
	}
	read := policyStatement{Sid: "CondachanReadChannel", Effect: "Allow", Action: []string{"s3:GetObject"}, Resource: []string{objects}}
	statements := []policyStatement{list, read}
	if req.Write {
		statements = append(statements,
			policyStatement{Sid: "CondachanWriteChannel", Effect: "Allow",
				// PutObject covers PutObject, CreateMultipartUpload, UploadPart and
				// CompleteMultipartUpload, with or without If-None-Match / If-Match.
				Action:   []string{"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"},
				Resource: []string{objects}},
			policyStatement{Sid: "CondachanBucketRegion", Effect: "Allow", Action: []string{"s3:GetBucketLocation"}, Resource: []string{bucketARN}},
			// Index runs list the unfinished multipart uploads under the channel to abort
			// those of killed publishers. The action has no s3:prefix condition key (only
			// s3:ListBucket has), so a condition on it would deny every listing: it is
			// granted on the bucket, and condachan asks only for the channel's prefix.
			policyStatement{Sid: "CondachanListUploads", Effect: "Allow", Action: []string{"s3:ListBucketMultipartUploads"}, Resource: []string{bucketARN}},
		)
	}
	if req.Account != "" {
		for i := range statements {
			if statements[i].Condition == nil {
				statements[i].Condition = map[string]map[string]any{}
			}
			statements[i].Condition["StringEquals"] = map[string]any{"s3:ResourceAccount": req.Account}
		}
	}
	access := "read"
	if req.Write {
		access = "write"
	}
	out := policyOutput{
		Channel:        chanURL,
		Access:         access,
		IdentityPolicy: policyDocument{Version: "2012-10-17", Statement: statements},
	}
	out.Notes = append(out.Notes,
		"identity_policy goes on the queue role: aws iam put-role-policy --role-name ROLE --policy-name condachan --policy-document \"$(condachan policy ... | jq .identity_policy)\"",
		"s3:ListBucket is limited to keys under the channel. With that limit S3 answers a read of a missing key (a first lock.json, a subdir without repodata.json yet) with 403 instead of 404; condachan tells the two apart by listing exactly that key, which this policy allows. Clients that read the bucket directly (conda's s3:// support) do not: give them `condachan serve`, or allow them s3:ListBucket without the condition. `condachan doctor --channel "+chanURL+"` on a worker with this role checks it.",
		"condachan finds the bucket's region from the x-amz-bucket-region header of HeadBucket, which S3 sends even when it refuses the request, so it needs no s3:GetBucketLocation (pass --region or set AWS_REGION to skip the lookup).",
	)
	if req.Write {
		out.Notes = append(out.Notes,
			"Conditional writes need no extra action: PutObject and CompleteMultipartUpload with If-None-Match or If-Match fall under s3:PutObject; a DeleteObject with If-Match (lease release, lock break) needs s3:DeleteObject and s3:GetObject.",
			"Packages over 64 MiB go up in parts (CreateMultipartUpload, UploadPart, CompleteMultipartUpload: s3:PutObject); a failed upload is aborted (s3:AbortMultipartUpload). A publisher that is killed cannot abort its own upload, and S3 keeps (and bills) its parts until someone does: index runs list the uploads under the channel (s3:ListBucketMultipartUploads) and abort those older than a day. IAM cannot limit s3:ListBucketMultipartUploads to a prefix, so it is granted on the bucket: it shows the keys and upload ids of every unfinished upload in the bucket, never object contents, and aborting stays limited to the channel's keys. condachan never lists parts, so s3:ListMultipartUploadParts is not granted.",
			"s3:GetBucketLocation reveals only the bucket's region; it is granted for other tools on the build workers (AWS CLI, SDKs) that ask for it.",
		)
	}
	if req.Account != "" {
		out.Notes = append(out.Notes, "s3:ResourceAccount limits every statement to the bucket owned by account "+req.Account+"; pass --expected-bucket-owner "+req.Account+" to condachan for the same check on each request.")
	}
	out.Notes = append(out.Notes, "With SSE-KMS and a customer managed key, the role also needs kms:Decrypt (read) and kms:GenerateDataKey (write) on that key.")
	if req.BucketPolicy {
		out.BucketPolicy = conditionalWritesBucketPolicy(bucketARN, keys)
		out.Notes = append(out.Notes,
			"bucket_policy denies everyone, administrators included, a PutObject or CompleteMultipartUpload without If-None-Match or If-Match on the files condachan's index writes (repodata, shards, run_exports.json, patch instructions, channeldata.json, index pages) and "+keys+".condachan/*, which condachan always writes conditionally, and a DeleteObject without If-Match on the lease "+keys+".condachan/lock.json. Merge its statements into the bucket's policy (aws s3api get-bucket-policy / put-bucket-policy). CopyObject onto these keys is refused too.",
		)
	}
	return out
}

// conditionalResources are the ARNs of every channel file condachan writes (index.Outputs
// says which) and of its internal folder.
func conditionalResources(bucketARN, keys string) []string {
	var res []string
	for _, k := range append(index.ConditionalKeyPatterns(), channel.InternalPrefix+"*") {
		res = append(res, bucketARN+"/"+keys+k)
	}
	return res
}

// conditionalWritesBucketPolicy refuses unconditional writes of the objects condachan
// only ever writes with a condition: a script or a person copying an index by hand
// cannot then overwrite a newer one, nor remove the lease from under its holder.
func conditionalWritesBucketPolicy(bucketARN, keys string) *policyDocument {
	return &policyDocument{Version: "2012-10-17", Statement: []policyStatement{
		{
			Sid: "CondachanRequireConditionalIndexWrites", Effect: "Deny", Principal: "*",
			Action:   []string{"s3:PutObject"},
			Resource: conditionalResources(bucketARN, keys),
			Condition: map[string]map[string]any{
				// Both headers absent. s3:ObjectCreationOperation is true for PutObject,
				// CompleteMultipartUpload and CopyObject, false for CreateMultipartUpload and
				// UploadPart, which take no conditional headers.
				"Null": {"s3:if-none-match": "true", "s3:if-match": "true"},
				"Bool": {"s3:ObjectCreationOperation": "true"},
			},
		},
		{
			Sid: "CondachanRequireConditionalLeaseDelete", Effect: "Deny", Principal: "*",
			Action:    []string{"s3:DeleteObject"},
			Resource:  []string{bucketARN + "/" + keys + ".condachan/lock.json"},
			Condition: map[string]map[string]any{"Null": {"s3:if-match": "true"}},
		},
	}}
}
