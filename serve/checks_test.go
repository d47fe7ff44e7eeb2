package serve

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/input"
	"github.com/condachan/condachan/internal/s3test"
	"github.com/condachan/condachan/internal/testkit"
)

func TestCheckKeyPair(t *testing.T) {
	dir := t.TempDir()
	cert, key := testkit.SelfSignedKeyPair(t, dir)
	otherCert, _ := testkit.SelfSignedKeyPair(t, t.TempDir())
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not PEM\n"), 0o644)
	missing := filepath.Join(dir, "missing.pem")
	if err := CheckKeyPair(cert, key); err != nil {
		t.Errorf("a good certificate and key: %v", err)
	}
	for _, c := range []struct {
		cert, key, want string
	}{
		{missing, key, "<cert>: open " + missing},
		{cert, missing, "<key>: open " + missing},
		{garbage, key, "<cert> " + garbage + " and <key> " + key + " are not a usable certificate and key: "},
		{otherCert, key, "(both must be PEM, the key the certificate's)"},
	} {
		err := CheckKeyPair(c.cert, c.key)
		var kp *KeyPairError
		if !errors.As(err, &kp) {
			t.Errorf("CheckKeyPair(%s, %s) = %v, want a *KeyPairError", c.cert, c.key, err)
			continue
		}
		if got := kp.Message("<cert>", "<key>"); !strings.Contains(got, c.want) {
			t.Errorf("CheckKeyPair(%s, %s): %q lacks %q", c.cert, c.key, got, c.want)
		}
		if !strings.HasPrefix(err.Error(), "TLS ") {
			t.Errorf("Error() = %q", err)
		}
	}
}

func TestCheckPresignTTL(t *testing.T) {
	for _, ttl := range []time.Duration{time.Second, MaxPresignTTL} {
		if err := CheckPresignTTL(ttl); err != nil {
			t.Errorf("%s: %v", ttl, err)
		}
	}
	for _, ttl := range []time.Duration{0, -time.Minute, MaxPresignTTL + time.Second} {
		var pe *PresignTTLError
		if err := CheckPresignTTL(ttl); !errors.As(err, &pe) || pe.TTL != ttl || !strings.Contains(err.Error(), "at most 168h") {
			t.Errorf("%s: %v", ttl, err)
		}
	}
}

// A folder cannot presign URLs, and a channel without noarch/repodata.json is reported
// as not indexed (an indexed one is fine).
func TestCheckRedirectAndChannel(t *testing.T) {
	dir := t.TempDir()
	store, err := channel.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	var np *NoPresignerError
	if err := CheckRedirect(store); !errors.As(err, &np) || np.Channel != store.String() {
		t.Errorf("CheckRedirect(folder) = %v", err)
	}
	if _, err := New(store, Options{Redirect: true}); !errors.As(err, &np) {
		t.Errorf("New with redirects for a folder: %v", err)
	}
	if err := CheckChannel(t.Context(), store); !errors.Is(err, ErrNoRepodata) || !strings.Contains(err.Error(), store.String()) {
		t.Errorf("CheckChannel(empty) = %v", err)
	}
	os.MkdirAll(filepath.Join(dir, "noarch"), 0o755)
	os.WriteFile(filepath.Join(dir, "noarch", "repodata.json"), []byte(`{"packages":{}}`), 0o644)
	if err := CheckChannel(t.Context(), store); err != nil {
		t.Errorf("CheckChannel(indexed) = %v", err)
	}
}

// On S3, a HEAD cannot tell a missing bucket from a missing key: an empty channel is
// not indexed, a bucket that does not exist is the input's error (the server refuses to
// start on it).
func TestCheckChannelOnS3(t *testing.T) {
	srv := s3test.Start(t)
	empty := srv.Store(t, srv.NewBucket(t), "Conda/Empty")
	if err := CheckChannel(t.Context(), empty); !errors.Is(err, ErrNoRepodata) || errors.Is(err, input.ErrInvalid) {
		t.Errorf("CheckChannel(empty bucket) = %v", err)
	}
	missing := srv.Store(t, "condachan-no-such-bucket", "Conda/Default")
	err := CheckChannel(t.Context(), missing)
	if !errors.Is(err, input.ErrInvalid) || errors.Is(err, ErrNoRepodata) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("CheckChannel(missing bucket) = %v", err)
	}
}
