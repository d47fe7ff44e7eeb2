package channel_test

import (
	"context"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel"
	s3store "github.com/condachan/condachan/channel/s3"
	"github.com/condachan/condachan/internal/s3test"
)

// Stores opened through channel.Open have the abilities of their backend, discovered by
// type assertion: S3 channels count their requests and give s3:// URIs for their keys;
// folders do neither.
func TestOpenedStoreAbilities(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	for _, tc := range []struct{ url, want string }{
		{"s3://" + bucket + "/Conda/Default", "s3://" + bucket + "/Conda/Default/linux-64/a-1-0.conda"},
		{"s3://" + bucket + "/Conda/Default/", "s3://" + bucket + "/Conda/Default/linux-64/a-1-0.conda"},
		{"s3://" + bucket, "s3://" + bucket + "/linux-64/a-1-0.conda"},
	} {
		st, err := channel.Open(ctx, tc.url, s3store.ChannelOptions(srv.Options()))
		if err != nil {
			t.Fatal(err)
		}
		loc, ok := st.(channel.ObjectLocator)
		if !ok {
			t.Fatalf("%s: not an ObjectLocator", tc.url)
		}
		if got := loc.ObjectURI("linux-64/a-1-0.conda"); got != tc.want {
			t.Errorf("%s: ObjectURI = %s, want %s", tc.url, got, tc.want)
		}
		rc, ok := st.(channel.RequestCounter)
		if !ok {
			t.Fatalf("%s: not a RequestCounter", tc.url)
		}
		before := rc.Stats().Head.Load()
		if _, err := st.Stat(ctx, "linux-64/missing-1-0.conda"); err == nil {
			t.Fatal("Stat of a missing key succeeded")
		}
		if heads := rc.Stats().Head.Load() - before; heads != 1 {
			t.Errorf("%s: a Stat counted %d HEAD requests, want 1", tc.url, heads)
		}
		if s := rc.Stats().String(); !strings.Contains(s, "requests (LIST") {
			t.Errorf("Stats().String() = %q", s)
		}
	}

	st, err := channel.OpenExisting(ctx, t.TempDir(), channel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(channel.ObjectLocator); ok {
		t.Error("a folder channel is an ObjectLocator")
	}
	if _, ok := st.(channel.RequestCounter); ok {
		t.Error("a folder channel is a RequestCounter")
	}
}
