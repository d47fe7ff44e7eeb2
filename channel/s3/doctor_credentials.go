package s3store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/doctor"
)

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

// regionSource says where the region comes from, as the SDK resolves it (from words it
// with the report's names for the settings).
func regionSource(o Options, profile string, p profileInfo) (region string, from func(channel.Namer) string) {
	says := func(s string) func(channel.Namer) string { return func(channel.Namer) string { return s } }
	switch {
	case o.Region != "":
		return o.Region, func(n channel.Namer) string { return "from " + n.Setting(channel.SettingRegion) }
	case os.Getenv("AWS_REGION") != "":
		return os.Getenv("AWS_REGION"), says("from AWS_REGION")
	case os.Getenv("AWS_DEFAULT_REGION") != "":
		return os.Getenv("AWS_DEFAULT_REGION"), says("from AWS_DEFAULT_REGION")
	case p.found && p.cfg.Region != "":
		return p.cfg.Region, says("from profile " + profile)
	case customEndpoint(o) != "":
		return "", says("none configured; us-east-1 is used with a custom endpoint")
	}
	return "", says("none configured; asked S3 where the bucket is")
}

func customEndpoint(o Options) string {
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
		d.r.Add(doctor.Check{Name: checkCredentials, Status: doctor.CheckFail, Detail: "no credentials provider is configured", Fix: credentialsFix})
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
		d.r.Add(doctor.Check{Name: checkCredentials, Status: doctor.CheckFail, Detail: fmt.Sprintf("%s; getting them failed after %s: %v", detail, took.Round(time.Millisecond), err), Fix: fix})
		return false
	}
	if creds.AccountID != "" {
		detail += "; account " + creds.AccountID
	}
	if creds.CanExpire && !creds.Expires.IsZero() {
		// The SDK gets new ones from the same source before they run out.
		detail += fmt.Sprintf("; temporary, expire in %s (renewed from the same source)", time.Until(creds.Expires).Round(time.Minute))
	}
	d.r.Add(doctor.Check{Name: checkCredentials, Status: doctor.CheckPass, Detail: detail})
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
