package channel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// CheckStatus is the outcome of one check.
type CheckStatus string

const (
	CheckPass CheckStatus = "pass"
	CheckWarn CheckStatus = "warn" // works, but worth knowing
	CheckFail CheckStatus = "fail" // condachan will fail, or cannot keep its guarantees
	CheckSkip CheckStatus = "skip" // not run: it does not apply, or an earlier check failed
)

// Check is one finding of Diagnose. Name is a stable identifier (scripts match on it).
type Check struct {
	Name   string      `json:"name"`
	Status CheckStatus `json:"status"`
	Detail string      `json:"detail"`
	Fix    string      `json:"fix,omitempty"`
}

// Report is what Diagnose found.
type Report struct {
	Channel string `json:"channel"`
	// Backend is "s3" or "local".
	Backend string  `json:"backend"`
	Checks  []Check `json:"checks"`
	// OK is true when no check failed (warnings allowed).
	OK bool `json:"ok"`
}

// Failed returns the checks that failed.
func (r *Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == CheckFail {
			out = append(out, c)
		}
	}
	return out
}

// Check returns the check with that name.
func (r *Report) Check(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

func (r *Report) add(c Check) {
	r.Checks = append(r.Checks, c)
	if c.Status == CheckFail {
		r.OK = false
	}
}

func (r *Report) skip(reason string, names ...string) {
	for _, n := range names {
		r.add(Check{Name: n, Status: CheckSkip, Detail: reason})
	}
}

// DiagnoseOptions configure Diagnose.
type DiagnoseOptions struct {
	S3 S3Options
	// Timeout bounds getting credentials and reaching the endpoint, each (default:
	// S3.ConnectTimeout, else 5s); each later S3 request may take three times as long.
	Timeout time.Duration
	// ReadOnly leaves out the checks that write (for a read-only role, such as a render
	// queue's): the get check reads noarch/repodata.json instead of a probe.
	ReadOnly bool
}

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

	checkFolder    = "folder"
	checkWritable  = "writable"
	checkFileLock  = "file-lock"
	checkCondLocal = "conditional-writes"
	checkS3        = "s3"
)

// doctorPrefix holds the probe keys.
const doctorPrefix = InternalPrefix + "doctor/"

// Diagnose checks, from this machine, everything the channel raw (an s3:// URL, a file://
// URL or a folder) needs to work: for S3 the credentials in use (and whether getting them
// calls STS), region and endpoint, that the bucket answers within the timeout, the
// permissions condachan uses (on a probe key under .condachan/doctor/, removed
// afterwards), whether the endpoint really enforces If-None-Match, If-Match and
// conditional DELETE, and the lease; for a folder, that it is writable and that file
// locks work; for both, what interrupted writes left behind (temp files, unfinished
// multipart uploads) for over an hour, which it reports and never removes (`condachan
// index` does, see SweepStale). It never fails as a whole: every finding is a Check in the Report, and the
// Report is OK when no check failed.
func Diagnose(ctx context.Context, raw string, opts DiagnoseOptions) *Report {
	r := &Report{Channel: raw, OK: true}
	if opts.Timeout <= 0 {
		opts.Timeout = opts.S3.ConnectTimeout
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.S3.ConnectTimeout <= 0 {
		opts.S3.ConnectTimeout = opts.Timeout
	}
	loc, err := ParseLocation(raw)
	if err != nil {
		r.add(Check{Name: checkChannel, Status: CheckFail, Detail: err.Error(), Fix: "pass --channel s3://bucket/prefix, file:///dir or a folder path"})
		return r
	}
	r.Channel = loc.String()
	if loc.IsS3() {
		r.Backend = "s3"
		diagnoseS3(ctx, r, loc, opts)
	} else {
		r.Backend = "local"
		diagnoseLocal(ctx, r, loc, opts)
	}
	return r
}

// ---- S3 ----

type s3Doctor struct {
	r       *Report
	st      *S3
	timeout time.Duration // connect and credentials
	opTime  time.Duration // one request of the later checks
}

func diagnoseS3(ctx context.Context, r *Report, loc Location, opts DiagnoseOptions) {
	r.add(Check{Name: checkChannel, Status: CheckPass, Detail: fmt.Sprintf("S3 bucket %s, prefix %q", loc.Bucket, loc.Prefix)})
	later := []string{checkReachable, checkList, checkNotFound, checkPut, checkGet, checkIfNoneMatch, checkIfMatch, checkCondDelete, checkDelete, checkLease, checkLeftovers}

	profile := profileName(opts.S3.Profile)
	shared := loadProfile(ctx, profile)
	region, regionFrom := regionSource(opts.S3, profile, shared)

	octx, cancel := context.WithTimeout(ctx, opts.Timeout)
	st, err := NewS3(octx, loc.Bucket, loc.Prefix, opts.S3)
	cancel()
	if err != nil {
		if strings.HasPrefix(err.Error(), "AWS configuration:") {
			r.add(Check{Name: checkCredentials, Status: CheckFail, Detail: err.Error(),
				Fix: "check --profile / AWS_PROFILE and the files ~/.aws/config and ~/.aws/credentials (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE)"})
			r.skip("skipped: the AWS configuration could not be loaded", append([]string{checkRegion, checkEndpoint}, later...)...)
			return
		}
		// Only the bucket's region is looked up over the network while opening.
		r.add(Check{Name: checkCredentials, Status: CheckSkip, Detail: "skipped: the region must be known first"})
		r.add(Check{Name: checkRegion, Status: CheckFail,
			Detail: fmt.Sprintf("no region configured, and asking S3 for the bucket's region failed within %s: %v", opts.Timeout, err),
			Fix: "pass --region (or set AWS_REGION); in a VPC without internet access, add an S3 gateway endpoint (com.amazonaws.<region>.s3) to the route table of the workers' subnet, " +
				"or create an S3 interface endpoint and pass --endpoint-url https://bucket.vpce-<id>.s3.<region>.vpce.amazonaws.com"})
		r.skip("skipped: no region", append([]string{checkEndpoint}, later...)...)
		return
	}
	if region == "" {
		region = st.Client().Options().Region
	}
	d := &s3Doctor{r: r, st: st, timeout: opts.Timeout, opTime: 3 * opts.Timeout}

	if !d.credentials(ctx, profile, shared, region) {
		r.add(Check{Name: checkRegion, Status: CheckPass, Detail: fmt.Sprintf("%s (%s)", region, regionFrom)})
		r.add(d.endpointCheck(region))
		r.skip("skipped: no usable credentials", later...)
		return
	}
	r.add(Check{Name: checkRegion, Status: CheckPass, Detail: fmt.Sprintf("%s (%s)", region, regionFrom)})
	r.add(d.endpointCheck(region))
	if !d.reachable(ctx, region) {
		r.skip("skipped: the bucket did not answer", later[1:]...)
		return
	}
	if !d.list(ctx) {
		r.skip("skipped: the endpoint refused the credentials", later[2:]...)
		return
	}
	if opts.ReadOnly {
		d.notFound(ctx, doctorPrefix+"missing-"+newNonce())
		reason := "skipped: --read-only"
		r.add(Check{Name: checkPut, Status: CheckSkip, Detail: reason})
		d.getIndex(ctx)
		r.skip(reason, checkIfNoneMatch, checkIfMatch, checkCondDelete, checkDelete)
	} else {
		d.probe(ctx)
	}
	r.add(leaseCheck(ctx, st, d.opTime))
	r.add(d.leftovers(ctx, opts.ReadOnly))
}

// leftovers reports the multipart uploads interrupted publishers left. Listing them needs
// s3:ListBucketMultipartUploads, which a read-only role does not have.
func (d *s3Doctor) leftovers(ctx context.Context, readOnly bool) Check {
	c, err := leftoversCheck(ctx, d.st, d.opTime, "multipart uploads under "+d.st.uri(""))
	switch {
	case err == nil:
		return c
	case isDenied(err) && readOnly:
		return Check{Name: checkLeftovers, Status: CheckSkip, Detail: "skipped: listing multipart uploads was denied, as expected of a read-only role (it needs s3:ListBucketMultipartUploads)"}
	case isDenied(err):
		return Check{Name: checkLeftovers, Status: CheckWarn, Detail: fmt.Sprintf("cannot look for multipart uploads left by interrupted publishers: %v", err),
			Fix: d.permissionFix("s3:ListBucketMultipartUploads") + "; without it `condachan index` cannot abort them either (an S3 lifecycle rule with AbortIncompleteMultipartUpload can)"}
	}
	return Check{Name: checkLeftovers, Status: CheckWarn, Detail: fmt.Sprintf("cannot look for multipart uploads left by interrupted publishers: %v", err)}
}

// profileName is the shared-config profile in use.
func profileName(flag string) string {
	if flag != "" {
		return flag
	}
	if p := firstEnv("AWS_PROFILE", "AWS_DEFAULT_PROFILE"); p != "" {
		return p
	}
	return "default"
}

// profileInfo is what the shared config says about a profile, for people.
type profileInfo struct {
	found bool
	cfg   sharedProfile
}

// sharedProfile holds the fields of a shared-config profile that matter here.
type sharedProfile struct {
	Region, RoleARN, SourceProfile, CredentialSource, WebIdentityTokenFile, CredentialProcess string
	SSO                                                                                       bool
}

// regionSource says where the region comes from, as the SDK resolves it.
func regionSource(o S3Options, profile string, p profileInfo) (region, from string) {
	switch {
	case o.Region != "":
		return o.Region, "from --region"
	case os.Getenv("AWS_REGION") != "":
		return os.Getenv("AWS_REGION"), "from AWS_REGION"
	case os.Getenv("AWS_DEFAULT_REGION") != "":
		return os.Getenv("AWS_DEFAULT_REGION"), "from AWS_DEFAULT_REGION"
	case p.found && p.cfg.Region != "":
		return p.cfg.Region, "from profile " + profile
	case customEndpoint(o) != "":
		return "", "none configured; us-east-1 is used with a custom endpoint"
	}
	return "", "none configured; asked S3 where the bucket is"
}

func customEndpoint(o S3Options) string {
	if o.EndpointURL != "" {
		return o.EndpointURL
	}
	return firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
}

// credentials reports the credential source, whether it involves STS, and whether
// credentials could be had within the timeout.
func (d *s3Doctor) credentials(ctx context.Context, profile string, p profileInfo, region string) bool {
	provider := d.st.Client().Options().Credentials
	if provider == nil {
		d.r.add(Check{Name: checkCredentials, Status: CheckFail, Detail: "no credentials provider is configured", Fix: credentialsFix})
		return false
	}
	var sources []aws.CredentialSource
	if ps, ok := provider.(aws.CredentialProviderSource); ok {
		sources = ps.ProviderSources()
	}
	ci := describeSources(sources)
	cctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	start := time.Now()
	creds, err := provider.Retrieve(cctx)
	took := time.Since(start)
	if err == nil && !creds.HasKeys() {
		err = errors.New("the provider returned no access key")
	}
	detail := credentialDetail(ci, creds, profile, p)
	if ci.sts {
		detail += "; getting them calls STS (" + stsEndpoint(region) + ")"
	} else if ci.remote != "" {
		detail += "; getting them calls " + ci.remote + " (no STS)"
	} else {
		detail += "; no STS call"
	}
	if err != nil {
		if errors.Is(cctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s (%w)", d.timeout, err)
		}
		fix := credentialsFix
		if ci.sts {
			fix = "this chain calls STS: in a VPC without internet access add an STS interface endpoint (com.amazonaws." + region + ".sts, with private DNS), or use credentials that need no STS (a Deadline Cloud queue role's credential_process, an instance or container role)"
		} else if ci.remote != "" {
			fix = "getting these credentials needs " + ci.remote + ": make it reachable, refresh the session (aws sso login / aws login), or use other credentials"
		}
		d.r.add(Check{Name: checkCredentials, Status: CheckFail, Detail: fmt.Sprintf("%s; getting them failed after %s: %v", detail, took.Round(time.Millisecond), err), Fix: fix})
		return false
	}
	if creds.AccountID != "" {
		detail += "; account " + creds.AccountID
	}
	if creds.CanExpire && !creds.Expires.IsZero() {
		// The SDK gets new ones from the same source before they run out.
		detail += fmt.Sprintf("; temporary, expire in %s (renewed from the same source)", time.Until(creds.Expires).Round(time.Minute))
	}
	d.r.add(Check{Name: checkCredentials, Status: CheckPass, Detail: detail})
	return true
}

const credentialsFix = "set AWS_PROFILE (a profile may use credential_process, as Deadline Cloud workers do for the queue role), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with an instance or container role"

// stsEndpoint is where the SDK sends STS requests: the regional endpoint, unless
// AWS_ENDPOINT_URL_STS says otherwise.
func stsEndpoint(region string) string {
	if e := os.Getenv("AWS_ENDPOINT_URL_STS"); e != "" {
		return e
	}
	if region == "" {
		return "sts.amazonaws.com"
	}
	return "sts." + region + ".amazonaws.com"
}

// chainInfo describes a credential chain.
type chainInfo struct {
	chain       string // the sources, outermost first
	sts         bool   // getting credentials calls STS
	remote      string // another service called to get them, if any
	fromProfile bool   // the shared-config profile is part of the chain
}

// describeSources names a credential chain for people and says whether it calls STS, or
// another remote service, to get credentials.
func describeSources(sources []aws.CredentialSource) chainInfo {
	var ci chainInfo
	var names []string
	seen := map[string]bool{}
	for _, s := range sources {
		var name string
		switch s {
		case aws.CredentialSourceCode:
			name = "set by the caller"
		case aws.CredentialSourceEnvVars:
			name = "environment variables (AWS_ACCESS_KEY_ID)"
		case aws.CredentialSourceEnvVarsSTSWebIDToken:
			name, ci.sts = "environment variables AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE", true
		case aws.CredentialSourceSTSAssumeRole:
			name, ci.sts = "STS AssumeRole", true
		case aws.CredentialSourceSTSAssumeRoleSaml:
			name, ci.sts = "STS AssumeRoleWithSAML", true
		case aws.CredentialSourceSTSAssumeRoleWebID:
			name, ci.sts = "STS AssumeRoleWithWebIdentity", true
		case aws.CredentialSourceSTSFederationToken:
			name, ci.sts = "STS GetFederationToken", true
		case aws.CredentialSourceSTSSessionToken:
			name, ci.sts = "STS GetSessionToken", true
		case aws.CredentialSourceProfile:
			name, ci.fromProfile = "static keys in the profile", true
		case aws.CredentialSourceProfileSourceProfile:
			name, ci.fromProfile = "source_profile", true
		case aws.CredentialSourceProfileNamedProvider:
			name, ci.fromProfile = "credential_source", true
		case aws.CredentialSourceProfileSTSWebIDToken:
			name, ci.sts, ci.fromProfile = "web_identity_token_file in the profile", true, true
		case aws.CredentialSourceProfileSSO, aws.CredentialSourceSSO, aws.CredentialSourceProfileSSOLegacy, aws.CredentialSourceSSOLegacy:
			name, ci.remote, ci.fromProfile = "IAM Identity Center (SSO)", "the IAM Identity Center portal (portal.sso.<region>.amazonaws.com)", true
		case aws.CredentialSourceProfileProcess, aws.CredentialSourceProcess:
			name, ci.fromProfile = "credential_process", true
		case aws.CredentialSourceHTTP:
			name = "container credentials endpoint (ECS task role, EKS Pod Identity)"
		case aws.CredentialSourceIMDS:
			name = "EC2 instance role (instance metadata)"
		case aws.CredentialSourceProfileLogin, aws.CredentialSourceLogin:
			name, ci.remote, ci.fromProfile = "aws login session", "the AWS sign-in service", true
		default:
			continue
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	ci.chain = strings.Join(names, " -> ")
	return ci
}

// credentialDetail says where the credentials come from.
func credentialDetail(ci chainInfo, creds aws.Credentials, profile string, p profileInfo) string {
	var parts []string
	if ci.chain != "" {
		parts = append(parts, ci.chain)
	}
	if creds.Source != "" {
		parts = append(parts, "provider "+creds.Source)
	}
	if p.found && (ci.fromProfile || ci.chain == "") {
		desc := "profile " + profile
		var what []string
		if p.cfg.RoleARN != "" {
			what = append(what, "role_arn "+p.cfg.RoleARN)
		}
		if p.cfg.SourceProfile != "" {
			what = append(what, "source_profile "+p.cfg.SourceProfile)
		}
		if p.cfg.CredentialSource != "" {
			what = append(what, "credential_source "+p.cfg.CredentialSource)
		}
		if p.cfg.WebIdentityTokenFile != "" {
			what = append(what, "web_identity_token_file")
		}
		if p.cfg.CredentialProcess != "" {
			what = append(what, "credential_process "+programName(p.cfg.CredentialProcess))
		}
		if p.cfg.SSO {
			what = append(what, "sso")
		}
		if len(what) > 0 {
			desc += " (" + strings.Join(what, ", ") + ")"
		}
		parts = append(parts, desc)
	}
	if len(parts) == 0 {
		return "credentials from an unnamed provider"
	}
	return strings.Join(parts, ", ")
}

// programName is the program of a credential_process command line, without its
// arguments (which may hold secrets).
func programName(cmd string) string {
	cmd = strings.TrimSpace(cmd)
	if strings.HasPrefix(cmd, `"`) {
		if end := strings.Index(cmd[1:], `"`); end >= 0 {
			return cmd[1 : end+1]
		}
	}
	if i := strings.IndexAny(cmd, " \t"); i >= 0 {
		return cmd[:i]
	}
	return cmd
}

// endpointCheck reports the endpoint and addressing in use.
func (d *s3Doctor) endpointCheck(region string) Check {
	o := d.st.opts
	endpoint := d.st.Endpoint()
	if be := d.st.Client().Options().BaseEndpoint; be != nil && *be != "" {
		endpoint = *be
	}
	var from string
	switch {
	case o.EndpointURL != "":
		from = "custom, from --endpoint-url"
	case os.Getenv("AWS_ENDPOINT_URL_S3") != "":
		from = "custom, from AWS_ENDPOINT_URL_S3"
	case os.Getenv("AWS_ENDPOINT_URL") != "":
		from = "custom, from AWS_ENDPOINT_URL"
	case d.st.Client().Options().BaseEndpoint != nil:
		from = "custom, from the profile's endpoint_url"
	default:
		from = "AWS S3 in " + region
	}
	style := d.addressing()
	detail := fmt.Sprintf("%s (%s; %s)", endpoint, from, style)
	if p := proxyFor(endpoint); p != "" {
		detail += "; through the proxy " + p
	}
	if u, err := url.Parse(endpoint); err == nil && u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return Check{Name: checkEndpoint, Status: CheckWarn, Detail: detail + "; plain HTTP: requests and packages are not encrypted in transit",
			Fix: "use an https:// endpoint unless the network path is trusted"}
	}
	return Check{Name: checkEndpoint, Status: CheckPass, Detail: detail}
}

// errNotSent stops the request addressing builds.
var errNotSent = errors.New("condachan doctor: request built to look at its address, not sent")

// addressing says how requests address the bucket: what the SDK does, which is not
// always what --s3-path-style asks for: it uses path-style by itself for an endpoint
// given as an IP address and for bucket names that cannot be host names (dots over
// HTTPS). It builds a request (with placeholder credentials, so that none are fetched)
// and stops it once its URL is resolved, before it is signed or sent.
func (d *s3Doctor) addressing() string {
	pathStyle := d.st.opts.PathStyle
	configured := func(ps bool) string {
		if ps {
			return "path-style addressing"
		}
		return "virtual-hosted addressing"
	}
	var sent *url.URL
	stop := middleware.FinalizeMiddlewareFunc("condachanAddressing", func(ctx context.Context, in middleware.FinalizeInput, _ middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if req, ok := in.Request.(*smithyhttp.Request); ok && req.URL != nil {
			u := *req.URL
			sent = &u
		}
		return middleware.FinalizeOutput{}, middleware.Metadata{}, errNotSent
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := d.st.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(d.st.Bucket()), Key: aws.String(d.st.FullKey(doctorPrefix + "addressing"))}, func(o *s3.Options) {
		o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "unused", SecretAccessKey: "unused", Source: "condachan doctor"}, nil
		})
		o.RetryMaxAttempts = 1
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Insert(stop, "ResolveEndpointV2", middleware.After)
		})
	})
	if sent == nil || !errors.Is(err, errNotSent) {
		return configured(pathStyle) // the SDK's stack changed: say what was asked for
	}
	bucket := d.st.Bucket()
	switch {
	case strings.HasPrefix(sent.Hostname(), bucket+"."):
		if pathStyle {
			return "virtual-hosted addressing, although path-style was asked for"
		}
		return "virtual-hosted addressing"
	case sent.Path == "/"+bucket || strings.HasPrefix(sent.Path, "/"+bucket+"/") ||
		sent.RawPath == "/"+bucket || strings.HasPrefix(sent.RawPath, "/"+bucket+"/"):
		if !pathStyle {
			return "path-style addressing (the SDK's choice for this endpoint or bucket name; --s3-path-style not set)"
		}
		return "path-style addressing"
	}
	return configured(pathStyle)
}

func proxyFor(endpoint string) string {
	req, err := http.NewRequest(http.MethodGet, endpoint, nil)
	if err != nil {
		return ""
	}
	u, err := http.ProxyFromEnvironment(req)
	if err != nil || u == nil {
		return ""
	}
	u.User = nil // never print proxy credentials
	return u.String()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// reachable sends one HeadBucket, without retries, within the timeout. Any HTTP answer
// means the network path works; 403 is expected from a role whose s3:ListBucket is
// restricted to the channel's prefix.
func (d *s3Doctor) reachable(ctx context.Context, region string) bool {
	rctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	// Whether a TCP connection was made tells a network that drops the packets from an
	// endpoint that connects and then says nothing. The error alone cannot: when the
	// timeout expires during the dial, the transport may return the context's error
	// instead of the dial's.
	var connected atomic.Bool
	rctx = httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{
		ConnectDone: func(_, _ string, err error) {
			if err == nil {
				connected.Store(true)
			}
		},
		GotConn: func(httptrace.GotConnInfo) { connected.Store(true) },
	})
	start := time.Now()
	_, err := d.st.Client().HeadBucket(rctx, &s3.HeadBucketInput{Bucket: aws.String(d.st.Bucket()), ExpectedBucketOwner: d.st.ExpectedOwner()},
		func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	took := time.Since(start).Round(time.Millisecond)
	endpoint := d.endpointURL()
	if err == nil {
		d.r.add(Check{Name: checkReachable, Status: CheckPass, Detail: fmt.Sprintf("bucket %s answered at %s in %s", d.st.Bucket(), endpoint, took)})
		return true
	}
	status := httpStatus(err)
	if status == 0 {
		d.r.add(d.unreachable(err, rctx.Err(), endpoint, region, took, connected.Load()))
		return false
	}
	if status == http.StatusNotFound {
		// A HEAD answer has no body, so no error code: some servers answer 404 for refused
		// credentials too. A listing tells NoSuchBucket from the rest.
		lctx, cancel := context.WithTimeout(ctx, d.timeout)
		_, lerr := d.st.Client().ListObjectsV2(lctx, &s3.ListObjectsV2Input{Bucket: aws.String(d.st.Bucket()), Prefix: aws.String(d.st.FullKey(InternalPrefix)), MaxKeys: aws.Int32(1), ExpectedBucketOwner: d.st.ExpectedOwner()},
			func(o *s3.Options) { o.RetryMaxAttempts = 1 })
		cancel()
		if code := apiCode(lerr); lerr == nil || (code != "NoSuchBucket" && code != "NotFound" && code != "") {
			d.r.add(Check{Name: checkReachable, Status: CheckPass, Detail: fmt.Sprintf("%s answered in %s (HeadBucket: 404; the permission checks follow)", endpoint, took)})
			return true
		}
	}
	switch {
	case status == http.StatusNotFound:
		d.r.add(Check{Name: checkReachable, Status: CheckFail, Detail: fmt.Sprintf("%s answered 404 Not Found for bucket %s: it does not exist there (or the endpoint is not an S3 server)", endpoint, d.st.Bucket()),
			Fix: "check the bucket name in --channel, and --endpoint-url / --region"})
		return false
	case status == http.StatusMovedPermanently || apiCode(err) == "PermanentRedirect" || apiCode(err) == "AuthorizationHeaderMalformed":
		where := bucketRegion(err)
		fix := "pass the bucket's region with --region (or set AWS_REGION)"
		if where != "" {
			fix = "pass --region " + where + " (or set AWS_REGION=" + where + ")"
		}
		d.r.add(Check{Name: checkReachable, Status: CheckFail, Detail: fmt.Sprintf("bucket %s is in another region than %s (%s)", d.st.Bucket(), region, orUnknown(where)), Fix: fix})
		return false
	case status == http.StatusForbidden:
		d.r.add(Check{Name: checkReachable, Status: CheckPass, Detail: fmt.Sprintf("%s answered in %s (HeadBucket was denied, as expected when s3:ListBucket is limited to the channel's prefix; the permission checks follow)", endpoint, took)})
		return true
	case status == http.StatusBadRequest && apiCode(err) == "IncorrectEndpoint":
		d.r.add(Check{Name: checkReachable, Status: CheckFail, Detail: fmt.Sprintf("%s: %v", endpoint, err), Fix: "pass the bucket's region with --region"})
		return false
	}
	d.r.add(Check{Name: checkReachable, Status: CheckWarn, Detail: fmt.Sprintf("%s answered HeadBucket with HTTP %d in %s: %v", endpoint, status, took, err)})
	return true
}

func orUnknown(s string) string {
	if s == "" {
		return "region unknown"
	}
	return s
}

func (d *s3Doctor) endpointURL() string {
	if be := d.st.Client().Options().BaseEndpoint; be != nil && *be != "" {
		return *be
	}
	return d.st.Endpoint()
}

// unreachable explains a request that got no HTTP answer; connected tells whether a TCP
// connection to the endpoint (or the proxy) was made.
func (d *s3Doctor) unreachable(err, ctxErr error, endpoint, region string, took time.Duration, connected bool) Check {
	custom := d.st.Client().Options().BaseEndpoint != nil
	var dnsErr *net.DNSError
	var what string
	switch {
	case errors.As(err, &dnsErr):
		what = fmt.Sprintf("cannot resolve the S3 endpoint %s (%v)", endpoint, dnsErr)
	case (ctxErr != nil || isTimeout(err)) && (isDialError(err) || !connected):
		what = fmt.Sprintf("no answer from the S3 endpoint %s within %s: no network route to it, or a firewall drops the packets", endpoint, d.timeout)
	case ctxErr != nil || isTimeout(err):
		// Connected, then silence: a firewall would not have let the connection through.
		what = fmt.Sprintf("the S3 endpoint %s accepted the connection but sent no HTTP answer within %s: the wrong port or protocol (http or https), a proxy in the way, or a hung server", endpoint, d.timeout)
	case strings.Contains(err.Error(), "connection refused"):
		what = fmt.Sprintf("the S3 endpoint %s refused the connection: nothing listens there", endpoint)
	default:
		what = fmt.Sprintf("cannot reach the S3 endpoint %s: %v", endpoint, rootCause(err))
	}
	var fix string
	if custom {
		fix = "check --endpoint-url / AWS_ENDPOINT_URL_S3 (host, port, http or https) and that the server runs; for a VPC interface endpoint, its security group must allow HTTPS from this worker, and bucket addressing may need --s3-path-style"
	} else {
		fix = fmt.Sprintf("in a VPC without internet access, add an S3 gateway endpoint (com.amazonaws.%s.s3) to the route table of the workers' subnet, or create an S3 interface endpoint and pass --endpoint-url https://bucket.vpce-<id>.s3.%s.vpce.amazonaws.com; check --region too (the bucket's region, %s, decides the endpoint)", region, region, region)
	}
	if p := proxyFor(endpoint); p != "" {
		fix += "; requests go through the proxy " + p + " (HTTPS_PROXY): add the endpoint to NO_PROXY if the proxy cannot reach it"
	}
	return Check{Name: checkReachable, Status: CheckFail, Detail: fmt.Sprintf("%s (after %s)", what, took), Fix: fix}
}

// isDialError reports whether err happened while connecting (no TCP connection was
// made), as opposed to while waiting for an answer on an open one.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isTimeout(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "i/o timeout")
}

// rootCause is the innermost error, which names the network problem without the SDK's
// wrapping.
func rootCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	return err
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

// permissionFix names the permission a denied request needs.
func (d *s3Doctor) permissionFix(action string) string {
	p := d.st.prefix
	switch action {
	case "s3:ListBucket":
		cond := ""
		if p != "" {
			cond = fmt.Sprintf(" (s3:prefix %s*)", p)
		}
		return fmt.Sprintf("allow s3:ListBucket on arn:aws:s3:::%s%s for this role; `condachan policy --channel %s --access read|write` prints the statements", d.st.Bucket(), cond, d.r.Channel)
	case "s3:ListBucketMultipartUploads":
		return fmt.Sprintf("allow s3:ListBucketMultipartUploads on arn:aws:s3:::%s for this role (IAM cannot limit it to a prefix); `condachan policy --channel %s --access write` prints the statements", d.st.Bucket(), d.r.Channel)
	}
	return fmt.Sprintf("allow %s on arn:aws:s3:::%s/%s* for this role; `condachan policy --channel %s --access write` prints the statements", action, d.st.Bucket(), p, d.r.Channel)
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
// account than --expected-bucket-owner, or a missing permission.
func (d *s3Doctor) deniedCheck(name, action string, err error, detail string) Check {
	c := Check{Name: name, Status: CheckFail, Detail: detail}
	switch {
	case credentialsRefused(err):
		c.Fix = "the endpoint refused the credentials (" + apiCode(err) + "): check AWS_PROFILE / the access keys, refresh them, and for an S3-compatible server use keys it knows"
	default:
		c.Fix = d.permissionFix(action)
		if o := d.st.ExpectedOwner(); o != nil {
			c.Fix += "; or the bucket is not owned by account " + *o + " (--expected-bucket-owner)"
		}
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
		Bucket: aws.String(d.st.Bucket()), Prefix: aws.String(d.st.FullKey(InternalPrefix)), MaxKeys: aws.Int32(1), ExpectedBucketOwner: d.st.ExpectedOwner(),
	})
	switch {
	case credentialsRefused(err):
		d.r.add(d.deniedCheck(checkList, "s3:ListBucket", err, fmt.Sprintf("listing s3://%s/%s was refused: %v", d.st.Bucket(), d.st.FullKey(InternalPrefix), err)))
		return false
	case err == nil:
		d.r.add(Check{Name: checkList, Status: CheckPass, Detail: fmt.Sprintf("listed s3://%s/%s", d.st.Bucket(), d.st.FullKey(InternalPrefix))})
	case isDenied(err):
		d.r.add(d.deniedCheck(checkList, "s3:ListBucket", err, fmt.Sprintf("listing s3://%s/%s was refused: %v", d.st.Bucket(), d.st.FullKey(InternalPrefix), err)))
	default:
		d.r.add(Check{Name: checkList, Status: CheckFail, Detail: d.st.wrap("list", InternalPrefix+"*", err).Error()})
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
	case errors.Is(err, ErrNotFound) && !isDenied(d.st.wrap("stat", key, rawErr)):
		d.r.add(Check{Name: checkNotFound, Status: CheckPass, Detail: "a missing key answers 404 Not Found"})
	case errors.Is(err, ErrNotFound):
		d.r.add(Check{Name: checkNotFound, Status: CheckWarn,
			Detail: "a missing key answers 403 Access Denied (this role may list only the channel's prefix); condachan tells it from a refusal by listing the key, but clients that read the bucket directly (conda's s3:// support) take it for an error",
			Fix:    fmt.Sprintf("give such clients `condachan serve`, or allow them s3:ListBucket on arn:aws:s3:::%s without the s3:prefix condition", d.st.Bucket())})
	case err == nil:
		d.r.add(Check{Name: checkNotFound, Status: CheckWarn, Detail: fmt.Sprintf("%s exists, though its name is random", d.st.uri(key))})
	case isDenied(err):
		d.r.add(Check{Name: checkNotFound, Status: CheckFail,
			Detail: "a missing key answers 403 Access Denied, and listing the key is refused too, so condachan would take a channel's missing lock.json or repodata.json for a permission error",
			Fix:    fmt.Sprintf("allow s3:ListBucket on arn:aws:s3:::%s for this role, at least for the channel's prefix (see `condachan policy`)", d.st.Bucket())})
	default:
		d.r.add(Check{Name: checkNotFound, Status: CheckFail, Detail: err.Error()})
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
		d.r.add(Check{Name: checkGet, Status: CheckPass, Detail: fmt.Sprintf("read %s (%d bytes)", d.st.uri("noarch/repodata.json"), obj.Size)})
	case errors.Is(err, ErrNotFound):
		d.r.add(Check{Name: checkGet, Status: CheckWarn, Detail: fmt.Sprintf("%s does not exist: nothing was published yet, or the channel was never indexed", d.st.uri("noarch/repodata.json")),
			Fix: "publish a package, or run `condachan index` with a role that can write"})
	case isDenied(err) || credentialsRefused(err):
		d.r.add(d.deniedCheck(checkGet, "s3:GetObject", err, err.Error()))
	default:
		d.r.add(Check{Name: checkGet, Status: CheckFail, Detail: err.Error()})
	}
}

// condachanDoes says what condachan does on an endpoint that ignores conditional requests:
// nothing can stand in for them.
const condachanDoes = "condachan builds the channel lease and the repodata fence on these conditions and has no fallback: on this endpoint it cannot guarantee the lease"

const condFix = "use AWS S3, or an S3-compatible server that implements conditional requests (versitygw does; recent MinIO implements them on PUT but not on DELETE); until then publish from one machine at a time"

// probe runs the write checks on a fresh key under .condachan/doctor/ and removes it.
func (d *s3Doctor) probe(ctx context.Context) {
	key := doctorPrefix + newNonce()
	d.notFound(ctx, key)
	body := func(n int) []byte {
		return []byte(fmt.Sprintf("{\"condachan_doctor\": %q, \"write\": %d}\n", key, n))
	}
	put := func(n int, o PutOptions) (Object, error) {
		pctx, cancel := d.op(ctx)
		defer cancel()
		o.ContentType, o.CacheControl = "application/json", "no-store"
		data := body(n)
		return d.st.Put(pctx, key, bytes.NewReader(data), int64(len(data)), o)
	}
	stat := func() (Object, error) {
		sctx, cancel := d.op(ctx)
		defer cancel()
		return d.st.Stat(sctx, key)
	}
	read := func() ([]byte, error) {
		gctx, cancel := d.op(ctx)
		defer cancel()
		data, _, err := ReadAll(gctx, d.st, key)
		return data, err
	}
	del := func(ifMatch string) error {
		dctx, cancel := d.op(ctx)
		defer cancel()
		return d.st.Delete(dctx, key, ifMatch)
	}
	created := false
	defer func() {
		if created {
			// Whatever happened, leave nothing behind (a fresh context: ctx may be done).
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opTime)
			defer cancel()
			d.st.Delete(cctx, key, "")
		}
	}()
	uri := d.st.uri(key)

	// put: create-if-absent, as every upload does.
	v1, err := put(1, PutOptions{IfAbsent: true})
	if err != nil {
		c := Check{Name: checkPut, Status: CheckFail, Detail: fmt.Sprintf("PUT If-None-Match: * of %s: %v", uri, err)}
		switch {
		case isDenied(err) || credentialsRefused(err):
			c = d.deniedCheck(checkPut, "s3:PutObject", err, c.Detail)
			if !credentialsRefused(err) {
				c.Fix += " (a production queue's read-only role is expected to fail here: run with --read-only)"
			}
		case isNotImplemented(err):
			c.Detail = fmt.Sprintf("the endpoint does not implement conditional PUT (If-None-Match: *): %v; %s", err, condachanDoes)
			c.Fix = condFix
		}
		d.r.add(c)
		d.r.skip("skipped: the probe could not be written", checkGet, checkIfNoneMatch, checkIfMatch, checkCondDelete, checkDelete)
		return
	}
	created = true
	if v1.ETag == "" {
		if o, err := stat(); err == nil {
			v1 = o
		}
	}
	d.r.add(Check{Name: checkPut, Status: CheckPass, Detail: fmt.Sprintf("created %s with If-None-Match: *", uri)})

	// get: read it back.
	if data, err := read(); err != nil {
		c := Check{Name: checkGet, Status: CheckFail, Detail: err.Error()}
		if isDenied(err) {
			c.Fix = d.permissionFix("s3:GetObject")
		}
		d.r.add(c)
	} else if !bytes.Equal(data, body(1)) {
		d.r.add(Check{Name: checkGet, Status: CheckFail, Detail: fmt.Sprintf("read back %d bytes that differ from the %d written", len(data), len(body(1)))})
	} else {
		d.r.add(Check{Name: checkGet, Status: CheckPass, Detail: "read the probe back"})
	}

	// if-none-match: a second create must lose.
	cur := v1
	ifNoneMatchOK := false
	v2, err := put(2, PutOptions{IfAbsent: true})
	switch {
	case errors.Is(err, ErrPreconditionFailed):
		ifNoneMatchOK = true
		d.r.add(Check{Name: checkIfNoneMatch, Status: CheckPass, Detail: "a second PUT If-None-Match: * of the probe was refused with 412 Precondition Failed"})
	case err == nil:
		cur = v2
		d.r.add(Check{Name: checkIfNoneMatch, Status: CheckFail,
			Detail: "the endpoint ignores If-None-Match: it replaced an existing object on PUT If-None-Match: *, so two publishers can both acquire the lease, a published package can be overwritten and index updates can be lost; " + condachanDoes,
			Fix:    condFix})
	default:
		d.r.add(conditionError(checkIfNoneMatch, "PUT If-None-Match: *", err))
	}

	// if-match: a compare-and-swap with the current ETag wins, with a stale one loses.
	ifMatchOK, stale := false, ""
	v3, err := put(3, PutOptions{IfMatch: cur.ETag})
	switch {
	case errors.Is(err, ErrPreconditionFailed):
		d.r.add(Check{Name: checkIfMatch, Status: CheckFail, Detail: fmt.Sprintf("PUT If-Match with the object's current ETag %s was refused: the endpoint's ETags do not match its own conditions; %s", cur.ETag, condachanDoes), Fix: condFix})
	case err != nil:
		d.r.add(conditionError(checkIfMatch, "PUT If-Match", err))
	default:
		stale, cur = cur.ETag, v3
		v4, err := put(4, PutOptions{IfMatch: stale})
		switch {
		case errors.Is(err, ErrPreconditionFailed):
			if data, rerr := read(); rerr == nil && !bytes.Equal(data, body(3)) {
				d.r.add(Check{Name: checkIfMatch, Status: CheckFail, Detail: "PUT If-Match with a stale ETag answered 412 but changed the object; " + condachanDoes, Fix: condFix})
			} else {
				ifMatchOK = true
				d.r.add(Check{Name: checkIfMatch, Status: CheckPass, Detail: "PUT If-Match with the current ETag replaced the probe; with a stale ETag it was refused with 412 and the object kept"})
			}
		case err == nil:
			cur = v4
			d.r.add(Check{Name: checkIfMatch, Status: CheckFail,
				Detail: "the endpoint ignores If-Match on PUT: it replaced the object although the ETag given was stale, so a publisher that lost the lease can overwrite a newer repodata.json and two waiters can take over an expired lease at once; " + condachanDoes,
				Fix:    condFix})
		default:
			d.r.add(conditionError(checkIfMatch, "PUT If-Match (stale ETag)", err))
		}
	}

	// conditional-delete: a stale ETag must not delete; the current one must.
	if stale == "" {
		d.r.skip("skipped: no stale ETag to try (the if-match check failed)", checkCondDelete)
	} else {
		d.conditionalDelete(stale, cur.ETag, ifMatchOK && ifNoneMatchOK, del, stat)
	}

	// delete: whatever is left goes, unconditionally, and must be gone.
	d.deleteProbe(key, del, stat)
	created = false
}

// conditionalDelete checks that DELETE If-Match with a stale ETag is refused and leaves
// the object, and that the current ETag deletes it.
func (d *s3Doctor) conditionalDelete(stale, current string, fenceWorks bool, del func(string) error, stat func() (Object, error)) {
	err := del(stale)
	after, serr := stat()
	switch {
	case errors.Is(err, ErrPreconditionFailed) && serr == nil:
		if err := del(current); err != nil {
			d.r.add(conditionError(checkCondDelete, "DELETE If-Match (current ETag)", err))
			return
		}
		if _, serr := stat(); !errors.Is(serr, ErrNotFound) {
			d.r.add(Check{Name: checkCondDelete, Status: CheckFail, Detail: "DELETE If-Match with the current ETag answered success but the object is still there", Fix: condFix})
			return
		}
		d.r.add(Check{Name: checkCondDelete, Status: CheckPass, Detail: "DELETE If-Match with a stale ETag was refused with 412 and the object kept; with the current ETag it was deleted"})
	case err == nil && errors.Is(serr, ErrNotFound):
		detail := "the endpoint ignores If-Match on DELETE: it deleted the object although the ETag given was stale, so releasing or breaking a lease can delete a successor's lease and let a third publisher in while the successor still works; " + condachanDoes
		if fenceWorks {
			detail += ". The repodata fence (If-Match on PUT) works here, so no index update is lost: a publisher that finds its lease gone fails with 'lease lost' and must be run again"
		} else {
			detail += ", and index updates can be lost"
		}
		d.r.add(Check{Name: checkCondDelete, Status: CheckFail, Detail: detail, Fix: condFix})
	case err == nil && serr == nil:
		d.r.add(Check{Name: checkCondDelete, Status: CheckFail, Detail: fmt.Sprintf("DELETE If-Match with a stale ETag answered success but the object is still there (ETag %s)", after.ETag), Fix: condFix})
	case err != nil && isDenied(err):
		d.r.add(Check{Name: checkCondDelete, Status: CheckFail, Detail: err.Error(), Fix: d.permissionFix("s3:DeleteObject") + " (a conditional DELETE also needs s3:GetObject)"})
	case err != nil:
		d.r.add(conditionError(checkCondDelete, "DELETE If-Match (stale ETag)", err))
	default:
		d.r.add(Check{Name: checkCondDelete, Status: CheckFail, Detail: fmt.Sprintf("could not look at the probe after the conditional DELETE: %v", serr)})
	}
}

func (d *s3Doctor) deleteProbe(key string, del func(string) error, stat func() (Object, error)) {
	if err := del(""); err != nil {
		c := Check{Name: checkDelete, Status: CheckFail, Detail: fmt.Sprintf("could not delete the probe %s: %v", d.st.uri(key), err)}
		if isDenied(err) {
			c.Fix = d.permissionFix("s3:DeleteObject") + "; then delete the probe by hand"
		}
		d.r.add(c)
		return
	}
	if _, err := stat(); !errors.Is(err, ErrNotFound) {
		d.r.add(Check{Name: checkDelete, Status: CheckFail, Detail: fmt.Sprintf("DELETE of %s answered success but the object is still there (%v)", d.st.uri(key), err)})
		return
	}
	d.r.add(Check{Name: checkDelete, Status: CheckPass, Detail: "deleted the probe"})
}

// conditionError reports a conditional request that failed in an unexpected way.
func conditionError(name, what string, err error) Check {
	switch {
	case isNotImplemented(err):
		return Check{Name: name, Status: CheckFail, Detail: fmt.Sprintf("the endpoint does not implement %s: %v; %s", what, err, condachanDoes), Fix: condFix}
	case isDenied(err):
		return Check{Name: name, Status: CheckFail, Detail: fmt.Sprintf("%s was denied: %v", what, err), Fix: "allow s3:PutObject, s3:GetObject and s3:DeleteObject on the channel's prefix (`condachan policy --access write`); a bucket policy that requires conditional writes must still allow these"}
	}
	return Check{Name: name, Status: CheckFail, Detail: fmt.Sprintf("%s failed: %v", what, err)}
}

// leaseCheck reports who holds the channel lease.
func leaseCheck(ctx context.Context, store Store, timeout time.Duration) Check {
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rec, obj, err := ReadLease(lctx, store)
	switch {
	case errors.Is(err, ErrNotFound):
		return Check{Name: checkLease, Status: CheckPass, Detail: "free: nobody holds the channel lease"}
	case err != nil && obj.ETag != "":
		return Check{Name: checkLease, Status: CheckWarn, Detail: fmt.Sprintf("held, but lock.json is unreadable (%v); ETag %s", err, obj.ETag),
			Fix: "a waiting publisher takes it over after the TTL; `condachan lock break` removes it at once"}
	case err != nil:
		return Check{Name: checkLease, Status: CheckFail, Detail: fmt.Sprintf("cannot read the lease: %v", err)}
	}
	age := time.Since(obj.Modified)
	holder := fmt.Sprintf("%s pid %d", rec.Owner.Host, rec.Owner.PID)
	if rec.Owner.JobID != "" {
		holder += " (Deadline job " + rec.Owner.JobID + ")"
	}
	detail := fmt.Sprintf("held by %s, generation %d, TTL %s, last written %s ago by this machine's clock", holder, rec.Generation, rec.TTL(), age.Round(time.Second))
	// A waiter takes over after TTL + grace (TTL/2 by default) without a heartbeat.
	if ttl := rec.TTL(); ttl > 0 && age > ttl+ttl/2 {
		return Check{Name: checkLease, Status: CheckWarn, Detail: detail + ": no heartbeat for longer than its TTL, the holder has probably died",
			Fix: "the next publisher takes it over by itself; `condachan lock break` removes it at once"}
	}
	return Check{Name: checkLease, Status: CheckPass, Detail: detail}
}

// ---- local folders ----

func diagnoseLocal(ctx context.Context, r *Report, loc Location, opts DiagnoseOptions) {
	r.add(Check{Name: checkChannel, Status: CheckPass, Detail: "local folder " + loc.Dir})
	rest := []string{checkWritable, checkFileLock, checkCondLocal}
	fi, err := os.Stat(loc.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.add(Check{Name: checkFolder, Status: CheckWarn, Detail: loc.Dir + " does not exist yet: the first publish creates it"})
		r.skip("skipped: the folder does not exist", rest...)
	case err != nil:
		r.add(Check{Name: checkFolder, Status: CheckFail, Detail: err.Error()})
		r.skip("skipped: the folder cannot be read", rest...)
	case !fi.IsDir():
		r.add(Check{Name: checkFolder, Status: CheckFail, Detail: loc.Dir + " is not a folder", Fix: "pass the channel folder (or file:///dir) as --channel"})
		r.skip("skipped: not a folder", rest...)
	default:
		r.add(Check{Name: checkFolder, Status: CheckPass, Detail: loc.Dir + " exists"})
		st := &Local{root: loc.Dir}
		if opts.ReadOnly {
			r.skip("skipped: --read-only", rest...)
		} else if localWritable(ctx, r, st) {
			r.add(localFileLock(st))
			r.add(localConditional(ctx, st))
		} else {
			r.skip("skipped: the folder is not writable", checkFileLock, checkCondLocal)
		}
	}
	r.add(Check{Name: checkS3, Status: CheckSkip, Detail: "a folder channel: the S3 checks (credentials, region, endpoint, permissions, conditional requests) do not apply"})
	if fi != nil && fi.IsDir() {
		st := &Local{root: loc.Dir}
		r.add(leaseCheck(ctx, st, time.Minute))
		c, err := leftoversCheck(ctx, st, time.Minute, "temp files in "+loc.Dir)
		if err != nil {
			c = Check{Name: checkLeftovers, Status: CheckWarn, Detail: err.Error()}
		}
		r.add(c)
	} else {
		r.skip("skipped: no channel folder", checkLease, checkLeftovers)
	}
}

// localWritable writes, reads and deletes a probe file.
func localWritable(ctx context.Context, r *Report, st *Local) bool {
	key := doctorPrefix + newNonce()
	data := []byte("condachan doctor probe\n")
	defer cleanupLocalProbe(st)
	if _, err := st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), PutOptions{IfAbsent: true}); err != nil {
		r.add(Check{Name: checkWritable, Status: CheckFail, Detail: err.Error(), Fix: "the user running condachan needs write access to " + st.root + " (files are written next to their final name and renamed into place)"})
		return false
	}
	got, _, err := ReadAll(ctx, st, key)
	if err == nil && !bytes.Equal(got, data) {
		err = errors.New("read back different bytes")
	}
	if derr := st.Delete(ctx, key, ""); err == nil {
		err = derr
	}
	if err != nil {
		r.add(Check{Name: checkWritable, Status: CheckFail, Detail: err.Error()})
		return false
	}
	r.add(Check{Name: checkWritable, Status: CheckPass, Detail: "created, read and deleted a probe file under " + filepath.Join(st.root, filepath.FromSlash(doctorPrefix))})
	return true
}

func cleanupLocalProbe(st *Local) {
	os.Remove(filepath.Join(st.root, filepath.FromSlash(strings.TrimSuffix(doctorPrefix, "/"))))
}

// localFileLock checks that the store lock is exclusive: a second handle must not get it
// while the first holds it, and must once it is released.
func localFileLock(st *Local) Check {
	p := filepath.Join(st.root, filepath.FromSlash(storeLockKey))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return Check{Name: checkFileLock, Status: CheckFail, Detail: err.Error()}
	}
	open := func() (*os.File, error) { return os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644) }
	f1, err := open()
	if err != nil {
		return Check{Name: checkFileLock, Status: CheckFail, Detail: err.Error()}
	}
	defer f1.Close()
	f2, err := open()
	if err != nil {
		return Check{Name: checkFileLock, Status: CheckFail, Detail: err.Error()}
	}
	defer f2.Close()
	unsupported := func(err error) Check {
		return Check{Name: checkFileLock, Status: CheckFail, Detail: fmt.Sprintf("cannot lock %s: %v", p, err),
			Fix: "conditional writes in this folder need working file locks: put the channel on a local disk or a file system with locking (NFS with lockd, SMB), or use an S3 channel"}
	}
	// A publisher may hold the lock for a moment: try for a while.
	var ok bool
	for i := 0; i < 500 && !ok; i++ {
		if ok, err = tryLockFile(f1); err != nil {
			return unsupported(err)
		}
		if !ok {
			time.Sleep(2 * time.Millisecond)
		}
	}
	if !ok {
		return Check{Name: checkFileLock, Status: CheckWarn, Detail: p + " stayed locked for a second: a publisher is busy, or a lock is stuck"}
	}
	second, err := tryLockFile(f2)
	if err != nil {
		unlockFile(f1)
		return unsupported(err)
	}
	if second {
		unlockFile(f2)
		unlockFile(f1)
		return Check{Name: checkFileLock, Status: CheckWarn,
			Detail: "two handles of one process both got the exclusive lock on " + p + ": this file system's locks are per process (as on NFS) or do nothing",
			Fix:    "on NFS with lockd this is expected and publishers on different machines still exclude each other; on a file system without locking, publish from one machine at a time or use an S3 channel"}
	}
	if err := unlockFile(f1); err != nil {
		return unsupported(err)
	}
	again, err := tryLockFile(f2)
	if err != nil || !again {
		return Check{Name: checkFileLock, Status: CheckFail, Detail: fmt.Sprintf("the lock on %s was not released (%v)", p, err), Fix: "check the file system's locking"}
	}
	unlockFile(f2)
	return Check{Name: checkFileLock, Status: CheckPass, Detail: "the store lock " + p + " is exclusive and released"}
}

// localConditional checks create-if-absent, compare-and-swap and conditional delete on
// the folder, as the lease uses them.
func localConditional(ctx context.Context, st *Local) Check {
	key := doctorPrefix + newNonce()
	defer cleanupLocalProbe(st)
	defer st.Delete(context.WithoutCancel(ctx), key, "")
	put := func(s string, o PutOptions) (Object, error) {
		return st.Put(ctx, key, strings.NewReader(s), int64(len(s)), o)
	}
	fail := func(format string, a ...any) Check {
		return Check{Name: checkCondLocal, Status: CheckFail, Detail: fmt.Sprintf(format, a...), Fix: "the folder's file system does not keep rename and lock semantics; use a local disk or an S3 channel"}
	}
	v1, err := put("1", PutOptions{IfAbsent: true})
	if err != nil {
		return fail("create-if-absent: %v", err)
	}
	if _, err := put("2", PutOptions{IfAbsent: true}); !errors.Is(err, ErrPreconditionFailed) {
		return fail("a second create-if-absent was not refused (%v)", err)
	}
	v3, err := put("33", PutOptions{IfMatch: v1.ETag})
	if err != nil {
		return fail("compare-and-swap with the current version: %v", err)
	}
	if _, err := put("444", PutOptions{IfMatch: v1.ETag}); !errors.Is(err, ErrPreconditionFailed) {
		return fail("compare-and-swap with a stale version was not refused (%v)", err)
	}
	if err := st.Delete(ctx, key, v1.ETag); !errors.Is(err, ErrPreconditionFailed) {
		return fail("a conditional delete with a stale version was not refused (%v)", err)
	}
	if _, err := st.Stat(ctx, key); err != nil {
		return fail("the object is gone after a refused conditional delete (%v)", err)
	}
	if err := st.Delete(ctx, key, v3.ETag); err != nil {
		return fail("conditional delete with the current version: %v", err)
	}
	if _, err := st.Stat(ctx, key); !errors.Is(err, ErrNotFound) {
		return fail("the object is still there after a conditional delete (%v)", err)
	}
	return Check{Name: checkCondLocal, Status: CheckPass, Detail: "create-if-absent, compare-and-swap and conditional delete behave as the lease needs"}
}

// loadProfile reads the shared-config profile in use, for the credentials and region
// checks (never an error: a missing or broken profile is reported when the SDK loads it).
func loadProfile(ctx context.Context, profile string) profileInfo {
	sc, err := config.LoadSharedConfigProfile(ctx, profile, func(o *config.LoadSharedConfigOptions) {
		if f := os.Getenv("AWS_CONFIG_FILE"); f != "" {
			o.ConfigFiles = []string{f}
		}
		if f := os.Getenv("AWS_SHARED_CREDENTIALS_FILE"); f != "" {
			o.CredentialsFiles = []string{f}
		}
	})
	if err != nil {
		return profileInfo{}
	}
	return profileInfo{found: true, cfg: sharedProfile{
		Region: sc.Region, RoleARN: sc.RoleARN, SourceProfile: sc.SourceProfileName, CredentialSource: sc.CredentialSource,
		WebIdentityTokenFile: sc.WebIdentityTokenFile, CredentialProcess: sc.CredentialProcess,
		SSO: sc.SSOSessionName != "" || sc.SSOStartURL != "",
	}}
}

// MarshalJSON keeps the report's field order and omits nothing.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	checks := r.Checks
	if checks == nil {
		checks = []Check{}
	}
	p := plain(*r)
	p.Checks = checks
	return json.Marshal(p)
}

// leftoverReportAge is how old a leftover of an interrupted write must be before doctor
// reports it: younger ones are most likely writes still under way.
const leftoverReportAge = time.Hour

// leftoversCheck reports, and never removes, what interrupted writes left behind for
// longer than leftoverReportAge; where names what was looked at, for the detail. An
// error is the listing's.
func leftoversCheck(ctx context.Context, sw Sweeper, timeout time.Duration, where string) (Check, error) {
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	found, err := sw.Leftovers(lctx, leftoverReportAge)
	if err != nil {
		return Check{}, err
	}
	if len(found) == 0 {
		return Check{Name: checkLeftovers, Status: CheckPass, Detail: fmt.Sprintf("no interrupted writes older than %s: looked at the %s", fmtAge(leftoverReportAge), where)}, nil
	}
	now := time.Now()
	const shown = 10
	var items []string
	due, uploads := 0, false
	for i, lo := range found {
		if olderThan(now, lo.Since, sweepAge(lo.Kind)) {
			due++
		}
		uploads = uploads || lo.Kind == LeftoverUpload
		if i >= shown {
			continue
		}
		switch lo.Kind {
		case LeftoverTempFile:
			items = append(items, fmt.Sprintf("%s (temp file, %s, last written %s ago)", lo.Key, fmtSize(lo.Size), fmtAge(now.Sub(lo.Since))))
		default:
			items = append(items, fmt.Sprintf("%s (%s %s, started %s ago)", lo.Key, lo.Kind, lo.UploadID, fmtAge(now.Sub(lo.Since))))
		}
	}
	if len(found) > shown {
		items = append(items, fmt.Sprintf("and %d more", len(found)-shown))
	}
	detail := fmt.Sprintf("%d interrupted write(s) left behind for over %s: %s", len(found), fmtAge(leftoverReportAge), strings.Join(items, ", "))
	ages := fmt.Sprintf("temp files older than %s, multipart uploads older than %s", fmtAge(TempFileSweepAge), fmtAge(UploadSweepAge))
	var fix string
	switch {
	case due == len(found):
		fix = "the next `condachan index` removes them (" + ages + "); none of them is a finished package or index file"
	case due == 0:
		fix = fmt.Sprintf("the first `condachan index` after they are old enough removes them (%s): younger uploads may still be running", ages)
	default:
		fix = fmt.Sprintf("the next `condachan index` removes %d of them (%s); the other %d may still be running and go once old enough", due, ages, len(found)-due)
	}
	if uploads {
		fix += "; an S3 lifecycle rule with AbortIncompleteMultipartUpload (DaysAfterInitiation 1) aborts forgotten uploads without condachan"
	}
	return Check{Name: checkLeftovers, Status: CheckWarn, Detail: detail, Fix: fix}, nil
}

// fmtAge shows a duration the way people say it: 45m, 5h, 3d.
func fmtAge(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// fmtSize shows a byte count with a binary unit.
func fmtSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
