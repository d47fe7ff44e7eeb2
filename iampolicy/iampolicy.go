// Package iampolicy writes the least-privilege AWS IAM policies for using an S3 channel:
// the identity policy of a queue role that reads the channel (the production queue) or
// publishes to it (the package build queue), and, optionally, a bucket policy that
// refuses unconditional writes of the objects condachan only ever writes with
// If-None-Match or If-Match.
//
// Generate returns the documents and notes on them as plain data; it does no I/O and
// calls no AWS API. The notes explain the grants to a person applying them; they name no
// command-line flags, so a front end adds its own hints (see Note.Topic). Invalid
// requests are refused with an *InvalidRequestError.
package iampolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/input"
)

// Version is the IAM policy language version of every document.
const Version = "2012-10-17"

// Access is what a role does with the channel.
type Access string

const (
	// Read is for the production (render) queue role: get objects, list the channel.
	Read Access = "read"
	// Write is for the package build queue role: read, plus publish and index.
	Write Access = "write"
)

// Request is what a policy is for.
type Request struct {
	// Bucket and Prefix are the S3 channel, as channel.ParseLocation returns them: Prefix
	// has no slash at either end and no empty, . or .. parts, and is "" for a channel at
	// the root of the bucket.
	Bucket, Prefix string
	Access         Access
	// Account, 12 digits, adds an s3:ResourceAccount condition to every statement, so the
	// role cannot use a bucket of the same name owned by another account. "" for none.
	Account string
	// BucketPolicy asks for the bucket policy that requires conditional writes.
	BucketPolicy bool
}

// Policy is what Generate returns.
type Policy struct {
	// Channel is the channel's URL, s3://bucket/prefix (s3://bucket at the root).
	Channel string
	Access  Access
	// Account is the account every statement is limited to (Request.Account), or "".
	Account string
	// IdentityPolicy goes on the queue role.
	IdentityPolicy Document
	// BucketPolicy, when asked for, is to be merged into the bucket's policy; nil if not.
	BucketPolicy *Document
	// Notes explain the grants, in the order to show them.
	Notes []Note
}

// MarshalJSON writes the policy as condachan prints it: the channel, the access, the
// identity policy (identity_policy), the bucket policy when asked for (bucket_policy)
// and the notes' texts (notes). HTML characters are kept as they are.
func (p *Policy) MarshalJSON() ([]byte, error) {
	notes := make([]string, len(p.Notes))
	for i, n := range p.Notes {
		notes[i] = n.Text
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // shell commands in notes keep their & and >
	err := enc.Encode(struct {
		Channel        string    `json:"channel"`
		Access         Access    `json:"access"`
		IdentityPolicy Document  `json:"identity_policy"`
		BucketPolicy   *Document `json:"bucket_policy,omitempty"`
		Notes          []string  `json:"notes"`
	}{p.Channel, p.Access, p.IdentityPolicy, p.BucketPolicy, notes})
	return bytes.TrimRight(b.Bytes(), "\n"), err
}

// Document is an IAM policy document; it marshals to JSON with the fields in the order AWS
// shows them. Condition maps marshal with sorted keys, so the JSON is stable.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a Document.
type Statement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Principal any                       `json:"Principal,omitempty"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// Topic says what a Note is about, so that a front end can add its own hints to it (the
// options of its commands that relate to it).
type Topic string

const (
	// TopicListBucketLimit: s3:ListBucket is limited to the channel's keys, and what that
	// means for reads of missing keys. A front end can add how to check the role.
	TopicListBucketLimit Topic = "list-bucket-limit"
	// TopicRegion: condachan needs no s3:GetBucketLocation to find the bucket's region.
	// A front end can add how to give the region and skip the lookup.
	TopicRegion Topic = "region"
	// TopicConditionalWrites (write): conditional writes and deletes need no extra action.
	TopicConditionalWrites Topic = "conditional-writes"
	// TopicMultipartUploads (write): multipart uploads, and why uploads are listed
	// bucket-wide.
	TopicMultipartUploads Topic = "multipart-uploads"
	// TopicGetBucketLocation (write): why s3:GetBucketLocation is granted anyway.
	TopicGetBucketLocation Topic = "get-bucket-location"
	// TopicResourceAccount (with an account): the s3:ResourceAccount condition. A front
	// end can add how to make condachan check the bucket owner on each request too.
	TopicResourceAccount Topic = "resource-account"
	// TopicKMS: the KMS permissions SSE-KMS with a customer managed key needs.
	TopicKMS Topic = "kms"
	// TopicBucketPolicy (with the bucket policy): what the bucket policy refuses.
	TopicBucketPolicy Topic = "bucket-policy"
)

// Note is one explanation of a Policy. Text is one or more full sentences and ends with a
// period.
type Note struct {
	Topic Topic
	Text  string
}

// Field names the Request field an InvalidRequestError is about.
type Field string

const (
	FieldBucket  Field = "bucket"
	FieldPrefix  Field = "prefix"
	FieldAccess  Field = "access"
	FieldAccount Field = "account"
)

// InvalidRequestError is a Request that Generate refuses.
type InvalidRequestError struct {
	Field Field
	// Value is the value refused; "" when a required field is missing.
	Value string
	// Reason says what is wrong or what is expected. When Value is "" it follows
	// "<field> is required: ".
	Reason string
}

func (e *InvalidRequestError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s is required: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("%s %q: %s", e.Field, e.Value, e.Reason)
}

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*InvalidRequestError) Is(target error) bool { return target == input.ErrInvalid }

// Validate returns an *InvalidRequestError if Generate would refuse req.
func (req Request) Validate() error {
	switch {
	case req.Bucket == "":
		return &InvalidRequestError{Field: FieldBucket, Reason: "the S3 bucket of the channel"}
	case strings.Trim(req.Bucket, "abcdefghijklmnopqrstuvwxyz0123456789-.") != "":
		return &InvalidRequestError{Field: FieldBucket, Value: req.Bucket, Reason: "an S3 bucket name holds only lower-case letters, digits, '-' and '.'"}
	}
	if req.Prefix != "" {
		for _, part := range strings.Split(req.Prefix, "/") {
			if part == "" || part == "." || part == ".." {
				return &InvalidRequestError{Field: FieldPrefix, Value: req.Prefix, Reason: "a channel prefix has no slash at either end and no empty, . or .. parts"}
			}
		}
	}
	// Wildcards and policy variables in the prefix would widen the grant.
	if strings.ContainsAny(req.Prefix, "*?") || strings.Contains(req.Prefix, "${") {
		return &InvalidRequestError{Field: FieldPrefix, Value: req.Prefix, Reason: "IAM reads *, ? and ${ as wildcards or variables: the policy would grant more than the channel"}
	}
	switch req.Access {
	case Read, Write:
	case "":
		return &InvalidRequestError{Field: FieldAccess, Reason: "read (production queue role) or write (package build queue role)"}
	default:
		return &InvalidRequestError{Field: FieldAccess, Value: string(req.Access), Reason: "use read or write"}
	}
	if req.Account != "" && (len(req.Account) != 12 || strings.Trim(req.Account, "0123456789") != "") {
		return &InvalidRequestError{Field: FieldAccount, Value: req.Account, Reason: "an AWS account id is 12 digits"}
	}
	return nil
}

// Generate writes the policies for a request, and notes on them.
func Generate(req Request) (*Policy, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	write := req.Access == Write
	bucketARN := "arn:aws:s3:::" + req.Bucket
	keys := req.Prefix + "/" // the channel's keys start with this
	if req.Prefix == "" {
		keys = ""
	}
	objects := bucketARN + "/" + keys + "*"

	list := Statement{Sid: "CondachanListChannel", Effect: "Allow", Action: []string{"s3:ListBucket"}, Resource: []string{bucketARN}}
	if req.Prefix != "" {
		// Listing is allowed only for keys under the channel: condachan lists with prefixes
		// such as "<prefix>/" and "<prefix>/linux-64/".
		list.Condition = map[string]map[string]any{"StringLike": {"s3:prefix": []string{keys, keys + "*"}}}
	}
	read := Statement{Sid: "CondachanReadChannel", Effect: "Allow", Action: []string{"s3:GetObject"}, Resource: []string{objects}}
	statements := []Statement{list, read}
	if write {
		statements = append(statements,
			Statement{Sid: "CondachanWriteChannel", Effect: "Allow",
				// PutObject covers PutObject, CreateMultipartUpload, UploadPart and
				// CompleteMultipartUpload, with or without If-None-Match / If-Match.
				Action:   []string{"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"},
				Resource: []string{objects}},
			Statement{Sid: "CondachanBucketRegion", Effect: "Allow", Action: []string{"s3:GetBucketLocation"}, Resource: []string{bucketARN}},
			// Index runs list the unfinished multipart uploads under the channel to abort
			// those of killed publishers. The action has no s3:prefix condition key (only
			// s3:ListBucket has), so a condition on it would deny every listing: it is
			// granted on the bucket, and condachan asks only for the channel's prefix.
			Statement{Sid: "CondachanListUploads", Effect: "Allow", Action: []string{"s3:ListBucketMultipartUploads"}, Resource: []string{bucketARN}},
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
	loc := channel.Location{Bucket: req.Bucket, Prefix: req.Prefix}
	p := &Policy{
		Channel:        loc.String(),
		Access:         req.Access,
		Account:        req.Account,
		IdentityPolicy: Document{Version: Version, Statement: statements},
	}
	note := func(t Topic, text string) { p.Notes = append(p.Notes, Note{Topic: t, Text: text}) }
	note(TopicListBucketLimit, "s3:ListBucket is limited to keys under the channel. With that limit S3 answers a read of a missing key (a first lock.json, a subdir without repodata.json yet) with 403 instead of 404; condachan tells the two apart by listing exactly that key, which this policy allows. Clients that read the bucket directly (conda's s3:// support) do not: give them `condachan serve`, or allow them s3:ListBucket without the condition.")
	note(TopicRegion, "condachan finds the bucket's region from the x-amz-bucket-region header of HeadBucket, which S3 sends even when it refuses the request, so it needs no s3:GetBucketLocation.")
	if write {
		note(TopicConditionalWrites, "Conditional writes need no extra action: PutObject and CompleteMultipartUpload with If-None-Match or If-Match fall under s3:PutObject; a DeleteObject with If-Match (lease release, lock break) needs s3:DeleteObject and s3:GetObject.")
		note(TopicMultipartUploads, "Packages over 64 MiB go up in parts (CreateMultipartUpload, UploadPart, CompleteMultipartUpload: s3:PutObject); a failed upload is aborted (s3:AbortMultipartUpload). A publisher that is killed cannot abort its own upload, and S3 keeps (and bills) its parts until someone does: index runs list the uploads under the channel (s3:ListBucketMultipartUploads) and abort those older than a day. IAM cannot limit s3:ListBucketMultipartUploads to a prefix, so it is granted on the bucket: it shows the keys and upload ids of every unfinished upload in the bucket, never object contents, and aborting stays limited to the channel's keys. condachan never lists parts, so s3:ListMultipartUploadParts is not granted.")
		note(TopicGetBucketLocation, "s3:GetBucketLocation reveals only the bucket's region; it is granted for other tools on the build workers (AWS CLI, SDKs) that ask for it.")
	}
	if req.Account != "" {
		note(TopicResourceAccount, "s3:ResourceAccount limits every statement to the bucket owned by account "+req.Account+".")
	}
	note(TopicKMS, "With SSE-KMS and a customer managed key, the role also needs kms:Decrypt (read) and kms:GenerateDataKey (write) on that key.")
	if req.BucketPolicy {
		p.BucketPolicy = conditionalWritesBucketPolicy(bucketARN, keys)
		note(TopicBucketPolicy, "bucket_policy denies everyone, administrators included, a PutObject or CompleteMultipartUpload without If-None-Match or If-Match on the files condachan's index writes (repodata, shards, run_exports.json, patch instructions, channeldata.json, index pages) and "+keys+channel.InternalPrefix+"*, which condachan always writes conditionally, and a DeleteObject without If-Match on the lease "+keys+channel.LockKey+". Merge its statements into the bucket's policy (aws s3api get-bucket-policy / put-bucket-policy). CopyObject onto these keys is refused too.")
	}
	return p, nil
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
func conditionalWritesBucketPolicy(bucketARN, keys string) *Document {
	return &Document{Version: Version, Statement: []Statement{
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
			Resource:  []string{bucketARN + "/" + keys + channel.LockKey},
			Condition: map[string]map[string]any{"Null": {"s3:if-match": "true"}},
		},
	}}
}
