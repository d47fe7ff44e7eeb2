package s3store

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/doctor"
)

func TestDescribeSources(t *testing.T) {
	cases := []struct {
		sources     []aws.CredentialSource
		sts         bool
		remote      bool
		fromProfile bool
		words       []string
	}{
		{[]aws.CredentialSource{aws.CredentialSourceEnvVars}, false, false, false, []string{"environment variables"}},
		{[]aws.CredentialSource{aws.CredentialSourceEnvVarsSTSWebIDToken, aws.CredentialSourceSTSAssumeRoleWebID}, true, false, false, []string{"AWS_WEB_IDENTITY_TOKEN_FILE", "AssumeRoleWithWebIdentity"}},
		{[]aws.CredentialSource{aws.CredentialSourceProfileSourceProfile, aws.CredentialSourceProfile, aws.CredentialSourceSTSAssumeRole}, true, false, true, []string{"source_profile", "static keys in the profile", "STS AssumeRole"}},
		{[]aws.CredentialSource{aws.CredentialSourceProfileProcess, aws.CredentialSourceProcess}, false, false, true, []string{"credential_process"}},
		{[]aws.CredentialSource{aws.CredentialSourceProfileSSO, aws.CredentialSourceSSO}, false, true, true, []string{"IAM Identity Center"}},
		{[]aws.CredentialSource{aws.CredentialSourceIMDS}, false, false, false, []string{"EC2 instance role"}},
		{[]aws.CredentialSource{aws.CredentialSourceHTTP}, false, false, false, []string{"container credentials"}},
		{[]aws.CredentialSource{aws.CredentialSourceProfileSTSWebIDToken, aws.CredentialSourceSTSAssumeRoleWebID}, true, false, true, []string{"web_identity_token_file"}},
		{nil, false, false, false, nil},
	}
	for _, c := range cases {
		ci := describeSources(c.sources)
		if ci.sts != c.sts || (ci.remote != "") != c.remote || ci.fromProfile != c.fromProfile {
			t.Errorf("%v: %+v", c.sources, ci)
		}
		for _, w := range c.words {
			if !strings.Contains(ci.chain, w) {
				t.Errorf("%v: chain %q lacks %q", c.sources, ci.chain, w)
			}
		}
		// The same name twice (SSO legacy and new) is shown once.
		if strings.Count(ci.chain, "credential_process") > 1 || strings.Count(ci.chain, "IAM Identity Center") > 1 {
			t.Errorf("repeated source in %q", ci.chain)
		}
	}
}

func TestCredentialDetail(t *testing.T) {
	p := profileInfo{found: true, cfg: sharedProfile{RoleARN: "arn:aws:iam::1:role/r", SourceProfile: "base", CredentialProcess: `"C:\Program Files\Deadline\creds.exe" --token s3cr3t`}}
	got := credentialDetail(describeSources([]aws.CredentialSource{aws.CredentialSourceProfileProcess}), aws.Credentials{Source: "ProcessProvider"}, "queue", p)
	for _, w := range []string{"credential_process", "provider ProcessProvider", "profile queue", "role_arn arn:aws:iam::1:role/r", `C:\Program Files\Deadline\creds.exe`} {
		if !strings.Contains(got, w) {
			t.Errorf("detail %q lacks %q", got, w)
		}
	}
	if strings.Contains(got, "s3cr3t") {
		t.Errorf("detail shows credential_process arguments: %q", got)
	}
	// Environment credentials: the profile is not part of the chain.
	got = credentialDetail(describeSources([]aws.CredentialSource{aws.CredentialSourceEnvVars}), aws.Credentials{Source: "EnvConfigCredentials"}, "queue", p)
	if strings.Contains(got, "profile queue") {
		t.Errorf("detail %q names a profile that is not used", got)
	}
	if got := credentialDetail(chainInfo{}, aws.Credentials{}, "default", profileInfo{}); got == "" {
		t.Error("empty detail")
	}
}

func TestProgramName(t *testing.T) {
	for in, want := range map[string]string{
		"/opt/deadline/creds --queue q-1":           "/opt/deadline/creds",
		`"C:\Program Files\x.exe" --a b`:            `C:\Program Files\x.exe`,
		"  creds  ":                                 "creds",
		`C:\tools\creds.exe`:                        `C:\tools\creds.exe`,
		"aws configure export-credentials --format": "aws",
	} {
		if got := programName(in); got != want {
			t.Errorf("programName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRegionSource(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	prof := profileInfo{found: true, cfg: sharedProfile{Region: "eu-central-1"}}
	check := func(o Options, p profileInfo, region, from string) {
		t.Helper()
		r, f := regionSource(o, "p", p)
		if r != region || !strings.Contains(f(MarkNames), from) {
			t.Errorf("regionSource = %q %q, want %q %q", r, f(MarkNames), region, from)
		}
	}
	check(Options{Region: "us-west-2"}, prof, "us-west-2", "from <region>")
	check(Options{}, prof, "eu-central-1", "profile p")
	check(Options{}, profileInfo{}, "", "asked S3")
	check(Options{EndpointURL: "http://minio:9000"}, profileInfo{}, "", "us-east-1 is used")
	t.Setenv("AWS_DEFAULT_REGION", "ap-south-1")
	check(Options{}, prof, "ap-south-1", "AWS_DEFAULT_REGION")
	t.Setenv("AWS_REGION", "sa-east-1")
	check(Options{}, prof, "sa-east-1", "AWS_REGION")
}

// The advice for an AWS endpoint that cannot be reached names the gateway endpoint to add
// (an integration test cannot reach AWS's own endpoints to see this).
func TestUnreachableAWSEndpointAdvice(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("HTTPS_PROXY", "")
	t.Setenv("https_proxy", "")
	st, err := New(context.Background(), "studio-bucket", "Conda", Options{Region: "eu-west-1", Credentials: aws.AnonymousCredentials{}})
	if err != nil {
		t.Fatal(err)
	}
	d := &s3Doctor{r: &doctor.Report{}, st: st, timeout: 2 * time.Second}
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("i/o timeout")}
	c := d.unreachable(dial, context.DeadlineExceeded, d.endpointURL(), "eu-west-1", 2*time.Second, false)
	for _, w := range []string{"https://s3.eu-west-1.amazonaws.com", "within 2s", "S3 gateway endpoint (com.amazonaws.eu-west-1.s3)", "route table", "<endpoint-url> https://bucket.vpce-", "check <region> too"} {
		if !strings.Contains(c.DetailIn(MarkNames)+" "+c.FixIn(MarkNames), w) {
			t.Errorf("check lacks %q: %+v", w, c)
		}
	}
	if !slices.Equal(c.Settings, []channel.Setting{channel.SettingEndpoint, channel.SettingRegion}) {
		t.Errorf("settings %q, want the endpoint URL and the region", c.Settings)
	}
	if strings.Contains(c.Fix, "--") {
		t.Errorf("the library's words name a flag: %s", c.Fix)
	}
	c = d.unreachable(&net.DNSError{Name: "s3.eu-west-1.amazonaws.com", Err: "no such host"}, nil, d.endpointURL(), "eu-west-1", time.Millisecond, false)
	if !strings.Contains(c.Detail, "cannot resolve") || !strings.Contains(c.Fix, "gateway endpoint") {
		t.Errorf("DNS failure: %+v", c)
	}
}

func TestSTSEndpoint(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_STS", "")
	if got := stsEndpoint("eu-west-1"); got != "sts.eu-west-1.amazonaws.com" {
		t.Errorf("stsEndpoint = %q", got)
	}
	t.Setenv("AWS_ENDPOINT_URL_STS", "https://vpce-1.sts.eu-west-1.vpce.amazonaws.com")
	if got := stsEndpoint("eu-west-1"); got != "https://vpce-1.sts.eu-west-1.vpce.amazonaws.com" {
		t.Errorf("stsEndpoint = %q", got)
	}
}

// The store's errors that ask for a setting are typed and name no flag; Message names
// the settings as a front end does.
func TestStoreSettingErrors(t *testing.T) {
	st := &Store{bucket: "b", prefix: "c/", endpoint: "https://s3.eu-west-1.amazonaws.com"}
	var nsb *NoSuchBucketError
	if err := st.wrap("get", "k", &smithy.GenericAPIError{Code: "NoSuchBucket"}); !errors.As(err, &nsb) || nsb.Bucket != "b" || nsb.URI != "s3://b/c/k" {
		t.Errorf("NoSuchBucket: %v", err)
	}
	var wr *WrongRegionError
	if err := st.wrap("put", "k", &smithy.GenericAPIError{Code: "PermanentRedirect"}); !errors.As(err, &wr) || wr.Op != "put" {
		t.Errorf("PermanentRedirect: %v", err)
	}
	var ce *ConnectError
	if err := st.wrap("get", "k", &net.DNSError{Name: "s3.eu-west-1.amazonaws.com", Err: "no such host"}); !errors.As(err, &ce) || !ce.Unresolved || ce.Endpoint != st.endpoint {
		t.Errorf("DNS: %v", err)
	}
	if err := describeNetErr(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, "http://x"); !errors.As(err, &ce) || ce.Unresolved {
		t.Errorf("dial: %v", err)
	}
	for _, tc := range []struct {
		err   channel.MessageError
		named string
	}{
		{&RegionUnknownError{Bucket: "b", Err: &ConnectError{Endpoint: "https://s3.amazonaws.com", Unresolved: true, Err: errors.New("no such host")}},
			"no AWS region configured and the region of bucket b could not be found (cannot resolve the S3 endpoint https://s3.amazonaws.com: check <endpoint-url>/AWS_ENDPOINT_URL_S3 and <region>; in a VPC without internet, add an S3 gateway endpoint, or an interface endpoint with private DNS: no such host): pass <region> or set AWS_REGION"},
		{&NoSuchBucketError{Op: "get", URI: "s3://b/k", Bucket: "b"}, "get s3://b/k: bucket b does not exist (check the channel URL, <region> and <endpoint-url>)"},
		{&WrongRegionError{Op: "put", URI: "s3://b/k", Err: errors.New("redirect")}, "put s3://b/k: the bucket is in another region: pass <region> (or set AWS_REGION): redirect"},
		{&ConnectError{Endpoint: "http://x", Err: errors.New("refused")}, "cannot reach the S3 endpoint http://x: check the network route; in a VPC without internet access add an S3 gateway endpoint to the subnet's route table (or use an interface endpoint with <endpoint-url>): refused"},
	} {
		if got := tc.err.Message(MarkNames); got != tc.named {
			t.Errorf("Message = %q\nwant      %q", got, tc.named)
		}
		if own := tc.err.Error(); strings.Contains(own, "--") || strings.Contains(own, "<") {
			t.Errorf("Error names a flag: %q", own)
		}
	}
}
