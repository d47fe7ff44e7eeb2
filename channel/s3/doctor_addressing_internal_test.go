package s3store

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/condachan/condachan/channel/doctor"
)

// recordingClient answers every request with 404 and keeps its URL.
type recordingClient struct{ urls []string }

func (c *recordingClient) Do(req *http.Request) (*http.Response, error) {
	c.urls = append(c.urls, req.URL.String())
	return &http.Response{StatusCode: http.StatusNotFound, Status: "404 Not Found", Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

// The endpoint check names the addressing the SDK really uses, which the request below
// (sent through the whole SDK stack, to a client that records its URL) shows, for the
// cases where the SDK decides by itself.
func TestEndpointCheckAddressing(t *testing.T) {
	for _, v := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "CONDACHAN_S3_PATH_STYLE", "AWS_PROFILE", "HTTPS_PROXY", "HTTP_PROXY"} {
		t.Setenv(v, "")
	}
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", Source: "test"}, nil
	})
	cases := []struct {
		name, endpoint, bucket string
		pathStyle              bool
		wantPath               bool
	}{
		{"aws", "", "studio-bucket", false, false},
		{"aws, path-style asked", "", "studio-bucket", true, true},
		{"aws, dotted bucket", "", "studio.conda.bucket", false, true},
		{"custom host name", "https://s3.studio.example", "studio-bucket", false, false},
		{"custom host name, path-style asked", "https://s3.studio.example", "studio-bucket", true, true},
		{"IP address", "http://10.1.2.3:9000", "studio-bucket", false, true},
		{"IP address, path-style asked", "http://10.1.2.3:9000", "studio-bucket", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := New(context.Background(), c.bucket, "Conda", Options{Region: "us-east-1", EndpointURL: c.endpoint, PathStyle: c.pathStyle, Credentials: creds})
			if err != nil {
				t.Fatal(err)
			}
			rec := &recordingClient{}
			st.client = s3.New(st.client.Options(), func(o *s3.Options) { o.HTTPClient = rec; o.RetryMaxAttempts = 1 })
			st.client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(c.bucket), Key: aws.String("Conda/x")})
			if len(rec.urls) != 1 {
				t.Fatalf("requests %q", rec.urls)
			}
			sentPath := strings.Contains(rec.urls[0], "/"+c.bucket+"/Conda/x") && !strings.Contains(rec.urls[0], "//"+c.bucket+".")
			if sentPath != c.wantPath {
				t.Fatalf("sent %s: path-style %v, the case expects %v", rec.urls[0], sentPath, c.wantPath)
			}
			d := &s3Doctor{r: &doctor.Report{}, st: st}
			detail := d.endpointCheck("us-east-1").Detail
			want, other := "path-style addressing", "virtual-hosted addressing"
			if !sentPath {
				want, other = other, want
			}
			if !strings.Contains(detail, want) || strings.Contains(detail, other) {
				t.Errorf("sent %s; the doctor says: %s", rec.urls[0], detail)
			}
			if len(rec.urls) != 1 {
				t.Errorf("the doctor sent a request to look at the addressing: %q", rec.urls[1:])
			}
		})
	}
}
