package s3store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/doctor"
)

// The doctor of S3 channels (doctor.Diagnose with an s3:// URL): the credentials in
// use (and whether getting them calls STS), region and endpoint, that the bucket answers
// within the timeout, the permissions condachan uses (on a probe key under
// doctor.ProbePrefix, removed afterwards), whether the endpoint really enforces
// If-None-Match, If-Match and conditional DELETE, the lease and the multipart uploads
// interrupted publishers left.

// Names of the checks, in the order they are reported.
const (
	checkChannel     = "channel"
	checkCredentials = "credentials"
	checkRegion      = "region"
	checkEndpoint    = "endpoint"
	checkReachable   = "reachable"
	checkList        = "list"
	checkNotFound    = "not-found"
	checkPut         = "put"
	checkGet         = "get"
	checkIfNoneMatch = "if-none-match"
	checkIfMatch     = "if-match"
	checkCondDelete  = "conditional-delete"
	checkDelete      = "delete"
	checkLease       = "lease"
	checkLeftovers   = "leftovers"
)

func nonce() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// diagnoseOptions are doctor.Options with the S3 options picked out.
type diagnoseOptions struct {
	S3       Options
	Timeout  time.Duration
	ReadOnly bool
}

type s3Doctor struct {
	r       *doctor.Report
	st      *Store
	timeout time.Duration // connect and credentials
	opTime  time.Duration // one request of the later checks
}

// diagnose is the doctor.BackendFunc of S3 channels (registered in backend.go).
func diagnose(ctx context.Context, r *doctor.Report, loc channel.Location, dopts doctor.Options) {
	o := optionsIn(dopts.Options)
	opts := diagnoseOptions{S3: o, Timeout: dopts.Timeout, ReadOnly: dopts.ReadOnly}
	if opts.Timeout <= 0 {
		opts.Timeout = opts.S3.ConnectTimeout
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.S3.ConnectTimeout <= 0 {
		opts.S3.ConnectTimeout = opts.Timeout
	}
	r.Add(doctor.Check{Name: checkChannel, Status: doctor.CheckPass, Detail: fmt.Sprintf("S3 bucket %s, prefix %q", loc.Bucket, loc.Prefix)})
	later := []string{checkReachable, checkList, checkNotFound, checkPut, checkGet, checkIfNoneMatch, checkIfMatch, checkCondDelete, checkDelete, checkLease, checkLeftovers}

	profile := profileName(opts.S3.Profile)
	shared := loadProfile(ctx, profile)
	region, regionFrom := regionSource(opts.S3, profile, shared)

	octx, cancel := context.WithTimeout(ctx, opts.Timeout)
	st, err := New(octx, loc.Bucket, loc.Prefix, opts.S3)
	cancel()
	if err != nil {
		if strings.HasPrefix(err.Error(), "AWS configuration:") {
			r.Add(doctor.Check{Name: checkCredentials, Status: doctor.CheckFail, Detail: err.Error()}.WithFix(func(n channel.Namer) string {
				return "check " + n.Setting(channel.SettingProfile) + " / AWS_PROFILE and the files ~/.aws/config and ~/.aws/credentials (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)"
			}))
			r.Skip("skipped: the AWS configuration could not be loaded", append([]string{checkRegion, checkEndpoint}, later...)...)
			return
		}
		// Only the bucket's region is looked up over the network while opening.
		r.Add(doctor.Check{Name: checkCredentials, Status: doctor.CheckSkip, Detail: "skipped: the region must be known first"})
		r.Add(doctor.Check{Name: checkRegion, Status: doctor.CheckFail}.WithDetail(func(n channel.Namer) string {
			return fmt.Sprintf("no region configured, and asking S3 for the bucket's region failed within %s: %s", opts.Timeout, channel.ErrorIn(err, n))
		}).WithFix(func(n channel.Namer) string {
			return "pass " + n.Setting(channel.SettingRegion) + " (or set AWS_REGION); in a VPC without internet access, add an S3 gateway endpoint (com.amazonaws.<region>.s3) to the route table of the workers' subnet, " +
				"or create an S3 interface endpoint and pass " + n.Setting(channel.SettingEndpoint) + " https://bucket.vpce-<id>.s3.<region>.vpce.amazonaws.com"
		}))
		r.Skip("skipped: no region", append([]string{checkEndpoint}, later...)...)
		return
	}
	if region == "" {
		region = st.Client().Options().Region
	}
	d := &s3Doctor{r: r, st: st, timeout: opts.Timeout, opTime: 3 * opts.Timeout}
	regionCheck := doctor.Check{Name: checkRegion, Status: doctor.CheckPass}.WithDetail(func(n channel.Namer) string {
		return fmt.Sprintf("%s (%s)", region, regionFrom(n))
	})

	if !d.credentials(ctx, profile, shared, region) {
		r.Add(regionCheck)
		r.Add(d.endpointCheck(region))
		r.Skip("skipped: no usable credentials", later...)
		return
	}
	r.Add(regionCheck)
	r.Add(d.endpointCheck(region))
	if !d.reachable(ctx, region) {
		r.Skip("skipped: the bucket did not answer", later[1:]...)
		return
	}
	if !d.list(ctx) {
		r.Skip("skipped: the endpoint refused the credentials", later[2:]...)
		return
	}
	if opts.ReadOnly {
		d.notFound(ctx, doctor.ProbePrefix+"missing-"+nonce())
		r.SkipAsked(channel.SettingReadOnly, checkPut)
		d.getIndex(ctx)
		r.SkipAsked(channel.SettingReadOnly, checkIfNoneMatch, checkIfMatch, checkCondDelete, checkDelete)
	} else {
		d.probe(ctx)
	}
	r.Add(doctor.LeaseCheck(ctx, st, d.opTime))
	r.Add(d.leftovers(ctx, opts.ReadOnly))
}

// leftovers reports the multipart uploads interrupted publishers left. Listing them needs
// s3:ListBucketMultipartUploads, which a read-only role does not have.
func (d *s3Doctor) leftovers(ctx context.Context, readOnly bool) doctor.Check {
	c, err := doctor.LeftoversCheck(ctx, d.st, d.opTime, "multipart uploads under "+d.st.uri(""))
	switch {
	case err == nil:
		return c
	case isDenied(err) && readOnly:
		return doctor.Check{Name: checkLeftovers, Status: doctor.CheckSkip, Detail: "skipped: listing multipart uploads was denied, as expected of a read-only role (it needs s3:ListBucketMultipartUploads)"}
	case isDenied(err):
		fix := d.permissionFix("s3:ListBucketMultipartUploads")
		return doctor.Check{Name: checkLeftovers, Status: doctor.CheckWarn, Detail: fmt.Sprintf("cannot look for multipart uploads left by interrupted publishers: %v", err)}.WithFix(func(n channel.Namer) string {
			return fix(n) + "; without it `condachan index` cannot abort them either (an S3 lifecycle rule with AbortIncompleteMultipartUpload can)"
		})
	}
	return doctor.Check{Name: checkLeftovers, Status: doctor.CheckWarn}.WithDetail(func(n channel.Namer) string {
		return "cannot look for multipart uploads left by interrupted publishers: " + channel.ErrorIn(err, n)
	})
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func bucketRegion(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get("X-Amz-Bucket-Region")
	}
	return ""
}

// permissionFix names the permission a denied request needs, and where to find the
// policy statements.
func (d *s3Doctor) permissionFix(action string) func(channel.Namer) string {
	p, bucket, ch := d.st.prefix, d.st.Bucket(), d.r.Channel
	switch action {
	case "s3:ListBucket":
		cond := ""
		if p != "" {
			cond = fmt.Sprintf(" (s3:prefix %s*)", p)
		}
		return func(n channel.Namer) string {
			return fmt.Sprintf("allow s3:ListBucket on arn:aws:s3:::%s%s for this role; %s prints the statements", bucket, cond, n.Policy(ch, "read|write"))
		}
	case "s3:ListBucketMultipartUploads":
		return func(n channel.Namer) string {
			return fmt.Sprintf("allow s3:ListBucketMultipartUploads on arn:aws:s3:::%s for this role (IAM cannot limit it to a prefix); %s prints the statements", bucket, n.Policy(ch, "write"))
		}
	}
	return func(n channel.Namer) string {
		return fmt.Sprintf("allow %s on arn:aws:s3:::%s/%s* for this role; %s prints the statements", action, bucket, p, n.Policy(ch, "write"))
	}
}

// credentialsRefused reports an error that is about the credentials, not a permission.
func credentialsRefused(err error) bool {
	switch apiCode(err) {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired",
		"XAdminUserNotFound": // versitygw's word for an unknown access key
		return true
	}
	return false
}

// deniedCheck explains a refused request: refused credentials, a bucket owned by another
// account than the expected bucket owner, or a missing permission.
func (d *s3Doctor) deniedCheck(name, action string, err error, detail string) doctor.Check {
	c := doctor.Check{Name: name, Status: doctor.CheckFail, Detail: detail}
	switch {
	case credentialsRefused(err):
		c.Fix = "the endpoint refused the credentials (" + apiCode(err) + "): check AWS_PROFILE / the access keys, refresh them, and for an S3-compatible server use keys it knows"
	default:
		fix := d.permissionFix(action)
		owner := d.st.ExpectedOwner()
		c = c.WithFix(func(n channel.Namer) string {
			if owner == nil {
				return fix(n)
			}
			return fix(n) + "; or the bucket is not owned by account " + *owner + " (" + n.Setting(channel.SettingExpectedOwner) + ")"
		})
	}
	return c
}

func isDenied(err error) bool {
	code := apiCode(err)
	return httpStatus(err) == http.StatusForbidden || code == "AccessDenied" || code == "Forbidden"
}

func isNotImplemented(err error) bool {
	return httpStatus(err) == http.StatusNotImplemented || apiCode(err) == "NotImplemented"
}

func (d *s3Doctor) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.opTime)
}

// list asks for one key under .condachan/: what every index run and build-number
// reservation does. It returns false when the endpoint refused the credentials: nothing
// else can work then.
func (d *s3Doctor) list(ctx context.Context) bool {
	lctx, cancel := d.op(ctx)
	defer cancel()
	_, err := d.st.Client().ListObjectsV2(lctx, &s3.ListObjectsV2Input{
		Bucket: aws.String(d.st.Bucket()), Prefix: aws.String(d.st.FullKey(channel.InternalPrefix)), MaxKeys: aws.Int32(1), ExpectedBucketOwner: d.st.ExpectedOwner(),
	})
	switch {
	case credentialsRefused(err):
		d.r.Add(d.deniedCheck(checkList, "s3:ListBucket", err, fmt.Sprintf("listing s3://%s/%s was refused: %v", d.st.Bucket(), d.st.FullKey(channel.InternalPrefix), err)))
		return false
	case err == nil:
		d.r.Add(doctor.Check{Name: checkList, Status: doctor.CheckPass, Detail: fmt.Sprintf("listed s3://%s/%s", d.st.Bucket(), d.st.FullKey(channel.InternalPrefix))})
	case isDenied(err):
		d.r.Add(d.deniedCheck(checkList, "s3:ListBucket", err, fmt.Sprintf("listing s3://%s/%s was refused: %v", d.st.Bucket(), d.st.FullKey(channel.InternalPrefix), err)))
	default:
		werr := d.st.wrap("list", channel.InternalPrefix+"*", err)
		d.r.Add(doctor.Check{Name: checkList, Status: doctor.CheckFail}.WithDetail(func(n channel.Namer) string { return channel.ErrorIn(werr, n) }))
	}
	return true
}

// notFound reads a key that does not exist: S3 answers 404 only to a caller allowed to
// list the bucket, 403 otherwise, and condachan must tell a missing lock.json or
// repodata.json from a refusal. A 403 that a listing of the key shows to be a missing key
// is fine for condachan (its store does that listing), not for clients reading the
// bucket directly.
func (d *s3Doctor) notFound(ctx context.Context, key string) {
	nctx, cancel := d.op(ctx)
	defer cancel()
	_, rawErr := d.st.Client().HeadObject(nctx, &s3.HeadObjectInput{Bucket: aws.String(d.st.Bucket()), Key: aws.String(d.st.FullKey(key)), ExpectedBucketOwner: d.st.ExpectedOwner()})
	_, err := d.st.Stat(nctx, key)
	switch {
	case errors.Is(err, channel.ErrNotFound) && !isDenied(d.st.wrap("stat", key, rawErr)):
		d.r.Add(doctor.Check{Name: checkNotFound, Status: doctor.CheckPass, Detail: "a missing key answers 404 Not Found"})
	case errors.Is(err, channel.ErrNotFound):
		d.r.Add(doctor.Check{Name: checkNotFound, Status: doctor.CheckWarn,
			Detail: "a missing key answers 403 Access Denied (this role may list only the channel's prefix); condachan tells it from a refusal by listing the key, but clients that read the bucket directly (conda's s3:// support) take it for an error",
			Fix:    fmt.Sprintf("give such clients `condachan serve`, or allow them s3:ListBucket on arn:aws:s3:::%s without the s3:prefix condition", d.st.Bucket())})
	case err == nil:
		d.r.Add(doctor.Check{Name: checkNotFound, Status: doctor.CheckWarn, Detail: fmt.Sprintf("%s exists, though its name is random", d.st.uri(key))})
	case isDenied(err):
		d.r.Add(doctor.Check{Name: checkNotFound, Status: doctor.CheckFail,
			Detail: "a missing key answers 403 Access Denied, and listing the key is refused too, so condachan would take a channel's missing lock.json or repodata.json for a permission error",
			Fix:    fmt.Sprintf("allow s3:ListBucket on arn:aws:s3:::%s for this role, at least for the channel's prefix (see `condachan policy`)", d.st.Bucket())})
	default:
		d.r.Add(errorCheck(checkNotFound, err))
	}
}

// getIndex reads noarch/repodata.json, for read-only roles.
func (d *s3Doctor) getIndex(ctx context.Context) {
	gctx, cancel := d.op(ctx)
	defer cancel()
	rc, obj, err := d.st.Get(gctx, "noarch/repodata.json")
	switch {
	case err == nil:
		rc.Close()
		d.r.Add(doctor.Check{Name: checkGet, Status: doctor.CheckPass, Detail: fmt.Sprintf("read %s (%d bytes)", d.st.uri("noarch/repodata.json"), obj.Size)})
	case errors.Is(err, channel.ErrNotFound):
		d.r.Add(doctor.Check{Name: checkGet, Status: doctor.CheckWarn, Detail: fmt.Sprintf("%s does not exist: nothing was published yet, or the channel was never indexed", d.st.uri("noarch/repodata.json")),
			Fix: "publish a package, or run `condachan index` with a role that can write"})
	case isDenied(err) || credentialsRefused(err):
		d.r.Add(d.deniedCheck(checkGet, "s3:GetObject", err, err.Error()))
	default:
		d.r.Add(errorCheck(checkGet, err))
	}
}

// errorCheck is a failed check whose detail is err, with the settings it names worded as
// the report's reader names them.
func errorCheck(name string, err error) doctor.Check {
	return doctor.Check{Name: name, Status: doctor.CheckFail}.WithDetail(func(n channel.Namer) string { return channel.ErrorIn(err, n) })
}
