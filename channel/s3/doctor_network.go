package s3store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/doctor"
)

// endpointCheck reports the endpoint and addressing in use.
func (d *s3Doctor) endpointCheck(region string) doctor.Check {
	o := d.st.opts
	endpoint := d.st.Endpoint()
	if be := d.st.Client().Options().BaseEndpoint; be != nil && *be != "" {
		endpoint = *be
	}
	var from string
	switch {
	case o.EndpointURL != "":
		from = "" // the setting: named in detail
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
	proxy := proxyFor(endpoint)
	u, err := url.Parse(endpoint)
	plainHTTP := err == nil && u.Scheme == "http" && !isLoopback(u.Hostname())
	detail := func(n channel.Namer) string {
		from := from
		if from == "" {
			from = "custom, from " + n.Setting(channel.SettingEndpoint)
		}
		detail := fmt.Sprintf("%s (%s; %s)", endpoint, from, style(n))
		if proxy != "" {
			detail += "; through the proxy " + proxy
		}
		if plainHTTP {
			detail += "; plain HTTP: requests and packages are not encrypted in transit"
		}
		return detail
	}
	if plainHTTP {
		return doctor.Check{Name: checkEndpoint, Status: doctor.CheckWarn, Fix: "use an https:// endpoint unless the network path is trusted"}.WithDetail(detail)
	}
	return doctor.Check{Name: checkEndpoint, Status: doctor.CheckPass}.WithDetail(detail)
}

// errNotSent stops the request addressing builds.
var errNotSent = errors.New("condachan doctor: request built to look at its address, not sent")

// addressing says how requests address the bucket: what the SDK does, which is not
// always what the path-style option asks for: it uses path-style by itself for an endpoint
// given as an IP address and for bucket names that cannot be host names (dots over
// HTTPS). It builds a request (with placeholder credentials, so that none are fetched)
// and stops it once its URL is resolved, before it is signed or sent.
func (d *s3Doctor) addressing() func(channel.Namer) string {
	pathStyle := d.st.opts.PathStyle
	says := func(s string) func(channel.Namer) string { return func(channel.Namer) string { return s } }
	configured := func(ps bool) func(channel.Namer) string {
		if ps {
			return says("path-style addressing")
		}
		return says("virtual-hosted addressing")
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
	_, err := d.st.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(d.st.Bucket()), Key: aws.String(d.st.FullKey(doctor.ProbePrefix + "addressing"))}, func(o *s3.Options) {
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
			return says("virtual-hosted addressing, although path-style was asked for")
		}
		return says("virtual-hosted addressing")
	case sent.Path == "/"+bucket || strings.HasPrefix(sent.Path, "/"+bucket+"/") ||
		sent.RawPath == "/"+bucket || strings.HasPrefix(sent.RawPath, "/"+bucket+"/"):
		if !pathStyle {
			return func(n channel.Namer) string {
				return "path-style addressing (the SDK's choice for this endpoint or bucket name; " + n.Setting(channel.SettingPathStyle) + " not set)"
			}
		}
		return says("path-style addressing")
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
		d.r.Add(doctor.Check{Name: checkReachable, Status: doctor.CheckPass, Detail: fmt.Sprintf("bucket %s answered at %s in %s", d.st.Bucket(), endpoint, took)})
		return true
	}
	status := httpStatus(err)
	if status == 0 {
		d.r.Add(d.unreachable(err, rctx.Err(), endpoint, region, took, connected.Load()))
		return false
	}
	if status == http.StatusNotFound {
		// A HEAD answer has no body, so no error code: some servers answer 404 for refused
		// credentials too. A listing tells NoSuchBucket from the rest.
		lctx, cancel := context.WithTimeout(ctx, d.timeout)
		_, lerr := d.st.Client().ListObjectsV2(lctx, &s3.ListObjectsV2Input{Bucket: aws.String(d.st.Bucket()), Prefix: aws.String(d.st.FullKey(channel.InternalPrefix)), MaxKeys: aws.Int32(1), ExpectedBucketOwner: d.st.ExpectedOwner()},
			func(o *s3.Options) { o.RetryMaxAttempts = 1 })
		cancel()
		if code := apiCode(lerr); lerr == nil || (code != "NoSuchBucket" && code != "NotFound" && code != "") {
			d.r.Add(doctor.Check{Name: checkReachable, Status: doctor.CheckPass, Detail: fmt.Sprintf("%s answered in %s (HeadBucket: 404; the permission checks follow)", endpoint, took)})
			return true
		}
	}
	switch {
	case status == http.StatusNotFound:
		d.r.Add(doctor.Check{Name: checkReachable, Status: doctor.CheckFail, Detail: fmt.Sprintf("%s answered 404 Not Found for bucket %s: it does not exist there (or the endpoint is not an S3 server)", endpoint, d.st.Bucket())}.WithFix(func(n channel.Namer) string {
			return "check the bucket name in " + n.Setting(channel.SettingChannel) + ", and " + n.Setting(channel.SettingEndpoint) + " / " + n.Setting(channel.SettingRegion)
		}))
		return false
	case status == http.StatusMovedPermanently || apiCode(err) == "PermanentRedirect" || apiCode(err) == "AuthorizationHeaderMalformed":
		where := bucketRegion(err)
		d.r.Add(doctor.Check{Name: checkReachable, Status: doctor.CheckFail, Detail: fmt.Sprintf("bucket %s is in another region than %s (%s)", d.st.Bucket(), region, orUnknown(where))}.WithFix(func(n channel.Namer) string {
			if where == "" {
				return "pass the bucket's region with " + n.Setting(channel.SettingRegion) + " (or set AWS_REGION)"
			}
			return "pass " + n.Setting(channel.SettingRegion) + " " + where + " (or set AWS_REGION=" + where + ")"
		}))
		return false
	case status == http.StatusForbidden:
		d.r.Add(doctor.Check{Name: checkReachable, Status: doctor.CheckPass, Detail: fmt.Sprintf("%s answered in %s (HeadBucket was denied, as expected when s3:ListBucket is limited to the channel's prefix; the permission checks follow)", endpoint, took)})
		return true
	case status == http.StatusBadRequest && apiCode(err) == "IncorrectEndpoint":
		d.r.Add(doctor.Check{Name: checkReachable, Status: doctor.CheckFail, Detail: fmt.Sprintf("%s: %v", endpoint, err)}.WithFix(func(n channel.Namer) string {
			return "pass the bucket's region with " + n.Setting(channel.SettingRegion)
		}))
		return false
	}
	d.r.Add(doctor.Check{Name: checkReachable, Status: doctor.CheckWarn, Detail: fmt.Sprintf("%s answered HeadBucket with HTTP %d in %s: %v", endpoint, status, took, err)})
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
func (d *s3Doctor) unreachable(err, ctxErr error, endpoint, region string, took time.Duration, connected bool) doctor.Check {
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
	proxy := proxyFor(endpoint)
	fix := func(n channel.Namer) string {
		var fix string
		if custom {
			fix = "check " + n.Setting(channel.SettingEndpoint) + " / AWS_ENDPOINT_URL_S3 (host, port, http or https) and that the server runs; for a VPC interface endpoint, its security group must allow HTTPS from this worker, and bucket addressing may need " + n.Setting(channel.SettingPathStyle)
		} else {
			fix = fmt.Sprintf("in a VPC without internet access, add an S3 gateway endpoint (com.amazonaws.%s.s3) to the route table of the workers' subnet, or create an S3 interface endpoint and pass %s https://bucket.vpce-<id>.s3.%s.vpce.amazonaws.com; check %s too (the bucket's region, %s, decides the endpoint)",
				region, n.Setting(channel.SettingEndpoint), region, n.Setting(channel.SettingRegion), region)
		}
		if proxy != "" {
			fix += "; requests go through the proxy " + proxy + " (HTTPS_PROXY): add the endpoint to NO_PROXY if the proxy cannot reach it"
		}
		return fix
	}
	return doctor.Check{Name: checkReachable, Status: doctor.CheckFail, Detail: fmt.Sprintf("%s (after %s)", what, took)}.WithFix(fix)
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
