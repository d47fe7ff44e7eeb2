package s3store_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/condachan/condachan/channel/doctor"
	s3store "github.com/condachan/condachan/channel/s3"
	"github.com/condachan/condachan/internal/s3test"
)

// The doctor reports the addressing its requests really use. With an endpoint given as
// an IP address the SDK addresses the bucket path-style even without the path-style option;
// the doctor used to say "virtual-hosted addressing" then.
func TestDiagnoseReportsAddressingUsed(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, pathStyle := range []bool{true, false} {
		t.Run(map[bool]string{true: "path-style asked", false: "path-style not asked"}[pathStyle], func(t *testing.T) {
			isolateAWS(t)
			// A recording proxy: Host as the client sent it (the signature covers it).
			var (
				mu       sync.Mutex
				requests []string
				virtual  int
			)
			rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(target)
				r.Out.Host = r.In.Host
			}}
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				requests = append(requests, r.Host+r.URL.Path)
				if strings.HasPrefix(r.Host, bucket+".") || !strings.HasPrefix(r.URL.Path, "/"+bucket) {
					virtual++
				}
				mu.Unlock()
				rp.ServeHTTP(w, r)
			}))
			defer proxy.Close()
			o := srv.Options()
			o.EndpointURL = proxy.URL // http://127.0.0.1:port
			o.PathStyle = pathStyle
			rep := doctor.Diagnose(context.Background(), "s3://"+bucket+"/Conda/Default", doctor.Options{Options: s3store.ChannelOptions(o), Timeout: 5 * time.Second})
			wantChecks(t, rep, allS3(doctor.CheckPass))
			mu.Lock()
			defer mu.Unlock()
			if len(requests) == 0 || virtual != 0 {
				t.Fatalf("requests were not all path-style: %q", requests)
			}
			c, _ := rep.Check("endpoint")
			if !strings.Contains(c.Detail, "path-style addressing") || strings.Contains(c.Detail, "virtual-hosted") {
				t.Errorf("requests are path-style (%s ...), the doctor says: %s", requests[0], c.Detail)
			}
			if !pathStyle && !strings.Contains(c.DetailIn(s3store.MarkNames), "<path-style> not set") {
				t.Errorf("the doctor does not say the SDK chose path-style: %s", c.Detail)
			}
		})
	}
}
