package s3store_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/doctor"
	s3store "github.com/condachan/condachan/channel/s3"
	"github.com/condachan/condachan/internal/s3test"
	"github.com/condachan/condachan/internal/testkit"
)

// isolateAWS keeps the developer's AWS settings out of a test that uses the default
// credential chain.
func isolateAWS(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, v := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "CONDACHAN_S3_PATH_STYLE"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return dir
}

func wantChecks(t *testing.T, rep *doctor.Report, want map[string]doctor.CheckStatus) {
	t.Helper()
	testkit.WantChecks(t, rep, want)
}

func allS3(status doctor.CheckStatus) map[string]doctor.CheckStatus {
	m := map[string]doctor.CheckStatus{}
	for _, n := range []string{"channel", "credentials", "region", "endpoint", "reachable", "list", "not-found", "put", "get",
		"if-none-match", "if-match", "conditional-delete", "delete", "lease", "leftovers"} {
		m[n] = status
	}
	return m
}

// wantNoProbe checks that the doctor left no probe behind.
func wantNoProbe(t *testing.T, st channel.Store) {
	t.Helper()
	err := st.List(context.Background(), ".condachan/doctor/", func(o channel.Object) error {
		t.Errorf("probe left behind: %s", o.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDiagnoseVersitygwAllPass(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	rep := doctor.Diagnose(context.Background(), "s3://"+bucket+"/Conda/Default", doctor.Options{Options: s3store.ChannelOptions(srv.Options()), Timeout: 5 * time.Second})
	wantChecks(t, rep, allS3(doctor.CheckPass))
	if !rep.OK || rep.Backend != "s3" || rep.Channel != "s3://"+bucket+"/Conda/Default" {
		t.Errorf("report %+v", rep)
	}
	if c, _ := rep.Check("region"); !strings.Contains(c.DetailIn(s3store.MarkNames), "us-east-1 (from <region>)") || !slices.Equal(c.Settings, []channel.Setting{channel.SettingRegion}) {
		t.Errorf("region detail: %s", c.Detail)
	}
	if c, _ := rep.Check("endpoint"); !strings.Contains(c.Detail, srv.URL) || !strings.Contains(c.Detail, "path-style") {
		t.Errorf("endpoint detail: %s", c.Detail)
	}
	if c, _ := rep.Check("credentials"); !strings.Contains(c.Detail, "no STS call") {
		t.Errorf("credentials detail: %s", c.Detail)
	}
	if c, _ := rep.Check("lease"); !strings.Contains(c.Detail, "free") {
		t.Errorf("lease detail: %s", c.Detail)
	}
	wantNoProbe(t, srv.Store(t, bucket, "Conda/Default"))
}

func TestDiagnoseReportsHeldLease(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	st := srv.Store(t, bucket, "")
	ctx := context.Background()
	l, err := channel.Acquire(ctx, st, channel.LeaseOptions{TTL: 30 * time.Second, Owner: channel.Owner{Host: "render-042", PID: 4242, JobID: "job-1234"}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	rep := doctor.Diagnose(ctx, "s3://"+bucket, doctor.Options{Options: s3store.ChannelOptions(srv.Options())})
	wantChecks(t, rep, allS3(doctor.CheckPass))
	if c, _ := rep.Check("lease"); !strings.Contains(c.Detail, "render-042 pid 4242") || !strings.Contains(c.Detail, "job-1234") || !strings.Contains(c.Detail, "generation 1") {
		t.Errorf("lease detail: %s", c.Detail)
	}
}

// A server that ignores a conditional header, made by a proxy that strips it (and signs
// the request again, so the server acts on a valid request without it).
func diagnoseStripped(t *testing.T, method, header string) (*doctor.Report, *s3test.Proxy, channel.Store) {
	t.Helper()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	p := srv.NewProxy(t)
	p.StripHeader(s3test.Match(method, ""), header)
	o := srv.Options()
	o.EndpointURL = p.URL
	rep := doctor.Diagnose(context.Background(), "s3://"+bucket+"/Conda", doctor.Options{Options: s3store.ChannelOptions(o), Timeout: 5 * time.Second})
	return rep, p, srv.Store(t, bucket, "Conda")
}

func wantFinding(t *testing.T, rep *doctor.Report, name string, words ...string) {
	t.Helper()
	testkit.WantFinding(t, rep, name, words...)
}

func TestDiagnoseIgnoredConditionalDelete(t *testing.T) {
	rep, p, st := diagnoseStripped(t, "DELETE", "If-Match")
	want := allS3(doctor.CheckPass)
	want["conditional-delete"] = doctor.CheckFail
	wantChecks(t, rep, want)
	wantFinding(t, rep, "conditional-delete", "ignores If-Match on DELETE", "successor's lease", "cannot guarantee the lease", "no fallback",
		"no index update is lost", "AWS S3", "versitygw", "MinIO")
	if p.Stripped() == 0 {
		t.Error("the proxy stripped nothing")
	}
	wantNoProbe(t, st)
}

func TestDiagnoseIgnoredIfNoneMatch(t *testing.T) {
	rep, _, st := diagnoseStripped(t, "PUT", "If-None-Match")
	want := allS3(doctor.CheckPass)
	want["if-none-match"] = doctor.CheckFail
	wantChecks(t, rep, want)
	wantFinding(t, rep, "if-none-match", "ignores If-None-Match", "both acquire the lease", "cannot guarantee the lease", "AWS S3")
	wantNoProbe(t, st)
}

func TestDiagnoseIgnoredIfMatchOnPut(t *testing.T) {
	rep, _, st := diagnoseStripped(t, "PUT", "If-Match")
	want := allS3(doctor.CheckPass)
	want["if-match"] = doctor.CheckFail
	wantChecks(t, rep, want)
	wantFinding(t, rep, "if-match", "ignores If-Match on PUT", "overwrite a newer repodata.json", "cannot guarantee the lease")
	wantNoProbe(t, st)
}

func TestDiagnoseReadOnly(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	opts := doctor.Options{Options: s3store.ChannelOptions(srv.Options()), ReadOnly: true}
	rep := doctor.Diagnose(context.Background(), "s3://"+bucket+"/c", opts)
	want := allS3(doctor.CheckPass)
	for _, n := range []string{"put", "if-none-match", "if-match", "conditional-delete", "delete"} {
		want[n] = doctor.CheckSkip
	}
	want["get"] = doctor.CheckWarn // nothing published yet
	wantChecks(t, rep, want)
	if !rep.OK {
		t.Error("a warning made the report fail")
	}

	st := srv.Store(t, bucket, "c")
	if _, err := st.Put(context.Background(), "noarch/repodata.json", strings.NewReader("{}"), 2, channel.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rep = doctor.Diagnose(context.Background(), "s3://"+bucket+"/c", opts)
	want = allS3(doctor.CheckPass)
	for _, n := range []string{"put", "if-none-match", "if-match", "conditional-delete", "delete"} {
		want[n] = doctor.CheckSkip
	}
	wantChecks(t, rep, want)
}

func TestDiagnoseMissingBucket(t *testing.T) {
	srv := s3test.Start(t)
	rep := doctor.Diagnose(context.Background(), "s3://no-such-bucket-condachan/x", doctor.Options{Options: s3store.ChannelOptions(srv.Options())})
	want := allS3(doctor.CheckSkip)
	for _, n := range []string{"channel", "credentials", "region", "endpoint"} {
		want[n] = doctor.CheckPass
	}
	want["reachable"] = doctor.CheckFail
	wantChecks(t, rep, want)
	wantFinding(t, rep, "reachable", "does not exist")
}

func TestDiagnoseRefusedKeys(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	o := srv.Options()
	o.Credentials = staticCreds{} // keys the server does not know
	rep := doctor.Diagnose(context.Background(), "s3://"+bucket+"/Conda", doctor.Options{Options: s3store.ChannelOptions(o)})
	c, _ := rep.Check("list")
	if c.Status != doctor.CheckFail || !strings.Contains(c.Fix, "refused the credentials") {
		t.Errorf("list check %+v", c)
	}
	if rep.OK {
		t.Error("report OK")
	}
}

// unreachable runs the doctor against an endpoint nobody answers at and checks that it
// gives up within the timeout and names the endpoint.
func unreachable(t *testing.T, endpoint string, timeout time.Duration, words ...string) *doctor.Report {
	t.Helper()
	isolateAWS(t)
	o := s3store.Options{EndpointURL: endpoint, PathStyle: true, Region: "us-east-1",
		Credentials: staticCreds{}}
	start := time.Now()
	rep := doctor.Diagnose(context.Background(), "s3://studio-bucket/Conda/Default", doctor.Options{Options: s3store.ChannelOptions(o), Timeout: timeout})
	took := time.Since(start)
	if took > timeout+time.Second {
		t.Errorf("the doctor took %s with a %s timeout", took, timeout)
	}
	want := allS3(doctor.CheckSkip)
	for _, n := range []string{"channel", "credentials", "region", "endpoint"} {
		want[n] = doctor.CheckPass
	}
	want["reachable"] = doctor.CheckFail
	wantChecks(t, rep, want)
	wantFinding(t, rep, "reachable", append([]string{endpoint, "the endpoint URL option"}, words...)...)
	if c, _ := rep.Check("reachable"); !strings.Contains(c.FixIn(s3store.MarkNames), "check <endpoint-url> / AWS_ENDPOINT_URL_S3") || !slices.Contains(c.Settings, channel.SettingEndpoint) {
		t.Errorf("reachable: settings %q, fix %s", c.Settings, c.FixIn(s3store.MarkNames))
	}
	return rep
}

type staticCreds struct{}

func (staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", Source: "test"}, nil
}

func TestDiagnoseConnectionRefused(t *testing.T) {
	unreachable(t, "http://127.0.0.1:1", 2*time.Second, "refused")
}

func TestDiagnoseBlackholedEndpoint(t *testing.T) {
	words := []string{"within 2s"}
	if runtime.GOOS == "linux" {
		// Only there does blackhole drop the handshake; elsewhere it is a hung server.
		words = append(words, "no answer", "firewall drops the packets")
	}
	unreachable(t, "http://"+blackhole(t), 2*time.Second, words...)
}

// silentListener returns an address that accepts connections and never answers, and a
// channel that receives a value for each connection accepted.
func silentListener(t *testing.T) (string, chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted := make(chan struct{}, 16)
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // read nothing, answer nothing
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	return l.Addr().String(), accepted
}

// An endpoint that accepts the connection and then says nothing is a wrong port or a hung
// server, not a network without a route.
func TestDiagnoseSilentEndpoint(t *testing.T) {
	addr, accepted := silentListener(t)
	endpoint := "http://" + addr
	rep := unreachable(t, endpoint, time.Second, "accepted the connection", "no HTTP answer within 1s", "wrong port")
	if len(accepted) == 0 {
		t.Error("the doctor never connected")
	}
	if c, _ := rep.Check("reachable"); strings.Contains(c.Detail, "firewall") || strings.Contains(c.Detail, "no network route") {
		t.Errorf("a connection that was accepted is blamed on the network: %s", c.Detail)
	}
}

// 10.255.255.1 is routed nowhere on most networks (the connection hangs); some networks
// answer for every address instead. Either way the doctor must be done within the timeout
// and report the endpoint as the problem.
func TestDiagnoseUnroutableAddress(t *testing.T) {
	isolateAWS(t)
	o := s3store.Options{EndpointURL: "http://10.255.255.1:9000", PathStyle: true, Region: "us-east-1", Credentials: staticCreds{}}
	start := time.Now()
	rep := doctor.Diagnose(context.Background(), "s3://studio-bucket/Conda", doctor.Options{Options: s3store.ChannelOptions(o), Timeout: 2 * time.Second})
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %s with a 2s timeout", took)
	}
	wantFinding(t, rep, "reachable", "http://10.255.255.1:9000")
	if c, _ := rep.Check("reachable"); c.Status != doctor.CheckFail {
		t.Errorf("reachable: %+v", c)
	}
}

func TestDiagnoseCredentialProcess(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the test's credential_process is a shell script")
	}
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	dir := isolateAWS(t)
	script := filepath.Join(dir, "queue-creds")
	out := `{"Version": 1, "AccessKeyId": "` + srv.AccessKey + `", "SecretAccessKey": "` + srv.SecretKey + `", "Expiration": "` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho '"+out+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := "[profile deadline-queue]\ncredential_process = " + script + " --queue-id queue-secretish\nregion = us-east-1\n"
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_PROFILE", "deadline-queue")
	o := s3store.Options{EndpointURL: srv.URL, PathStyle: true}
	rep := doctor.Diagnose(context.Background(), "s3://"+bucket+"/Conda", doctor.Options{Options: s3store.ChannelOptions(o)})
	wantChecks(t, rep, allS3(doctor.CheckPass))
	c, _ := rep.Check("credentials")
	for _, w := range []string{"credential_process", "profile deadline-queue", script, "no STS call", "expire in"} {
		if !strings.Contains(c.Detail, w) {
			t.Errorf("credentials detail lacks %q: %s", w, c.Detail)
		}
	}
	if strings.Contains(c.Detail, "secretish") {
		t.Errorf("credentials detail shows credential_process arguments: %s", c.Detail)
	}
	if r, _ := rep.Check("region"); !strings.Contains(r.Detail, "from profile deadline-queue") {
		t.Errorf("region detail: %s", r.Detail)
	}
}

func TestDiagnoseWebIdentityNeedsSTS(t *testing.T) {
	dir := isolateAWS(t)
	token := filepath.Join(dir, "token")
	os.WriteFile(token, []byte("eyJhbGciOi.test.token"), 0o600)
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/render")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token)
	t.Setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1") // STS is unreachable here
	o := s3store.Options{EndpointURL: "http://127.0.0.1:1", PathStyle: true, Region: "eu-west-1"}
	start := time.Now()
	rep := doctor.Diagnose(context.Background(), "s3://studio-bucket/Conda", doctor.Options{Options: s3store.ChannelOptions(o), Timeout: 2 * time.Second})
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("took %s", took)
	}
	want := allS3(doctor.CheckSkip)
	for _, n := range []string{"channel", "region", "endpoint"} {
		want[n] = doctor.CheckPass
	}
	want["credentials"] = doctor.CheckFail
	wantChecks(t, rep, want)
	wantFinding(t, rep, "credentials", "AWS_WEB_IDENTITY_TOKEN_FILE", "calls STS (http://127.0.0.1:1)", "STS interface endpoint", "com.amazonaws.eu-west-1.sts")
}

func TestDiagnoseAssumeRoleProfileNeedsSTS(t *testing.T) {
	dir := isolateAWS(t)
	cfg := "[profile base]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\n\n[profile builder]\nrole_arn = arn:aws:iam::111122223333:role/package-build\nsource_profile = base\nregion = us-west-2\n"
	os.WriteFile(filepath.Join(dir, "config"), []byte(cfg), 0o600)
	t.Setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1")
	o := s3store.Options{EndpointURL: "http://127.0.0.1:1", PathStyle: true, Profile: "builder"}
	rep := doctor.Diagnose(context.Background(), "s3://studio-bucket/Conda", doctor.Options{Options: s3store.ChannelOptions(o), Timeout: 2 * time.Second})
	wantFinding(t, rep, "credentials", "STS AssumeRole", "role_arn arn:aws:iam::111122223333:role/package-build", "source_profile base", "com.amazonaws.us-west-2.sts")
	if c, _ := rep.Check("region"); !strings.Contains(c.Detail, "us-west-2 (from profile builder)") {
		t.Errorf("region: %s", c.Detail)
	}
}

func TestDiagnoseMissingProfile(t *testing.T) {
	isolateAWS(t)
	o := s3store.Options{EndpointURL: "http://127.0.0.1:1", Profile: "no-such-profile"}
	rep := doctor.Diagnose(context.Background(), "s3://studio-bucket/Conda", doctor.Options{Options: s3store.ChannelOptions(o), Timeout: 2 * time.Second})
	wantFinding(t, rep, "credentials", "no-such-profile", "the profile option / AWS_PROFILE")
	if c, _ := rep.Check("credentials"); !slices.Equal(c.Settings, []channel.Setting{channel.SettingProfile}) || !strings.Contains(c.FixIn(s3store.MarkNames), "check <profile> / AWS_PROFILE") {
		t.Errorf("credentials: settings %q, fix %s", c.Settings, c.FixIn(s3store.MarkNames))
	}
}

// When the bucket's region cannot be asked for, the reachable check is skipped: the
// region check's fix must carry the VPC endpoint advice itself.
func TestDiagnoseRegionLookupFailsGivesEndpointAdvice(t *testing.T) {
	isolateAWS(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the lookup fails at once, without a network
	rep := doctor.Diagnose(ctx, "s3://studio-bucket/Conda", doctor.Options{Options: s3store.ChannelOptions(s3store.Options{Credentials: staticCreds{}}), Timeout: time.Second})
	c, ok := rep.Check("region")
	if !ok || c.Status != doctor.CheckFail {
		t.Fatalf("region check %+v", c)
	}
	if r, _ := rep.Check("reachable"); r.Status != doctor.CheckSkip {
		t.Errorf("reachable check %+v, want skipped", r)
	}
	for _, w := range []string{"pass <region> (or set AWS_REGION)", "S3 gateway endpoint", "com.amazonaws.<region>.s3", "route table", "pass <endpoint-url> https://bucket.vpce-"} {
		if !strings.Contains(c.FixIn(s3store.MarkNames), w) {
			t.Errorf("region fix lacks %q: %s", w, c.FixIn(s3store.MarkNames))
		}
	}
	if !slices.Equal(c.Settings, []channel.Setting{channel.SettingRegion, channel.SettingEndpoint}) {
		t.Errorf("region check names settings %q, want the region and the endpoint URL", c.Settings)
	}
	if strings.Contains(c.Fix, "reachable check") {
		t.Errorf("region fix points at the skipped reachable check: %s", c.Fix)
	}
}

// A role whose s3:ListBucket is limited to the channel's prefix gets 403 for a missing
// key: fine for condachan (it lists the key to tell), worth a warning for other clients;
// with the listing refused too, it fails.
func TestDiagnoseMissingKeyForbidden(t *testing.T) {
	probe := func(r *http.Request) bool {
		return r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/.condachan/doctor/")
	}
	listProbe := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Query().Get("prefix"), ".condachan/doctor/")
	}
	for _, refuseList := range []bool{false, true} {
		t.Run(fmt.Sprintf("list refused=%v", refuseList), func(t *testing.T) {
			srv := s3test.Start(t)
			bucket := srv.NewBucket(t)
			p := srv.NewProxy(t)
			p.RespondOnce(probe, http.StatusForbidden, "Forbidden")
			p.RespondOnce(probe, http.StatusForbidden, "Forbidden")
			if refuseList {
				p.RespondOnce(listProbe, http.StatusForbidden, "AccessDenied")
			}
			o := srv.Options()
			o.EndpointURL = p.URL
			rep := doctor.Diagnose(context.Background(), "s3://"+bucket+"/Conda", doctor.Options{Options: s3store.ChannelOptions(o), Timeout: 5 * time.Second})
			want := allS3(doctor.CheckPass)
			if refuseList {
				want["not-found"] = doctor.CheckFail
				wantChecks(t, rep, want)
				wantFinding(t, rep, "not-found", "403", "s3:ListBucket")
				return
			}
			want["not-found"] = doctor.CheckWarn
			wantChecks(t, rep, want)
			if c, _ := rep.Check("not-found"); !strings.Contains(c.Detail, "listing the key") || !strings.Contains(c.Fix, "condachan serve") {
				t.Errorf("not-found: %s (fix: %s)", c.Detail, c.Fix)
			}
		})
	}
}

// Temp files of killed writers older than an hour are a warning that names them and says
// that index runs remove them; doctor removes nothing, and ignores younger ones.
// ageUpload backdates a multipart upload on the versitygw server: its posix backend takes
// an upload's initiation time from the modification time of the upload's folder.
func ageUpload(t *testing.T, srv *s3test.Server, bucket, uploadID string, age time.Duration) {
	t.Helper()
	found := false
	err := filepath.WalkDir(filepath.Join(srv.Dir, bucket), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == uploadID {
			when := time.Now().Add(-age)
			found = true
			return os.Chtimes(p, when, when)
		}
		return nil
	})
	if err != nil || !found {
		t.Fatalf("backdate upload %s under %s: found %v, %v", uploadID, srv.Dir, found, err)
	}
}

func TestDiagnoseS3ReportsUnfinishedUploads(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	client := srv.Client()
	oldID := startUpload(t, client, bucket, "Conda/linux-64/big-1.0-0.conda")
	ageUpload(t, srv, bucket, oldID, 30*time.Hour)
	midID := startUpload(t, client, bucket, "Conda/noarch/mid-1.0-0.conda")
	ageUpload(t, srv, bucket, midID, 3*time.Hour)
	startUpload(t, client, bucket, "Conda/noarch/young-1.0-0.conda")
	startUpload(t, client, bucket, "Elsewhere/old.bin") // not the channel's
	rep := doctor.Diagnose(context.Background(), "s3://"+bucket+"/Conda", doctor.Options{Options: s3store.ChannelOptions(srv.Options()), Timeout: 5 * time.Second})
	want := allS3(doctor.CheckPass)
	want["leftovers"] = doctor.CheckWarn
	wantChecks(t, rep, want)
	c, _ := rep.Check("leftovers")
	for _, w := range []string{"2 interrupted write(s)", "linux-64/big-1.0-0.conda (multipart upload " + oldID + ", started 30h ago)", "noarch/mid-1.0-0.conda (multipart upload " + midID + ", started 3h ago)"} {
		if !strings.Contains(c.Detail, w) {
			t.Errorf("detail lacks %q: %s", w, c.Detail)
		}
	}
	if strings.Contains(c.Detail, "young") || strings.Contains(c.Detail, "Elsewhere") {
		t.Errorf("detail names an upload it should not: %s", c.Detail)
	}
	for _, w := range []string{"the next `condachan index` removes 1 of them", "multipart uploads older than 24h", "AbortIncompleteMultipartUpload"} {
		if !strings.Contains(c.Fix, w) {
			t.Errorf("fix lacks %q: %s", w, c.Fix)
		}
	}
	if got := uploadsIn(t, client, bucket, ""); len(got) != 4 {
		t.Errorf("doctor aborted uploads: %q left", got)
	}
}

// A role that may not list uploads: a warning naming the permission, or, for a read-only
// role, a skip.
func TestDiagnoseS3UploadsListingDenied(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	p := srv.NewProxy(t)
	o := srv.Options()
	o.EndpointURL = p.URL
	listUploads := func(r *http.Request) bool { return r.Method == http.MethodGet && r.URL.Query().Has("uploads") }
	for _, readOnly := range []bool{false, true} {
		p.RespondOnce(listUploads, http.StatusForbidden, "AccessDenied")
		rep := doctor.Diagnose(context.Background(), "s3://"+bucket+"/Conda", doctor.Options{Options: s3store.ChannelOptions(o), Timeout: 5 * time.Second, ReadOnly: readOnly})
		c, _ := rep.Check("leftovers")
		switch {
		case !readOnly && (c.Status != doctor.CheckWarn || !strings.Contains(c.Fix, "allow s3:ListBucketMultipartUploads on arn:aws:s3:::"+bucket+" ")):
			t.Errorf("leftovers check %+v", c)
		case readOnly && (c.Status != doctor.CheckSkip || !strings.Contains(c.Detail, "s3:ListBucketMultipartUploads")):
			t.Errorf("read-only leftovers check %+v", c)
		}
		if !rep.OK {
			t.Errorf("read-only %v: report not OK: %+v", readOnly, rep.Failed())
		}
	}
}
