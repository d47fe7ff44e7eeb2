package channel

import (
	"context"
	"strings"
	"testing"
)

// withoutBackend runs fn as in a program that did not import the backend of scheme.
func withoutBackend(t *testing.T, scheme string, fn func()) {
	backendsMu.Lock()
	saved, had := backends[scheme]
	delete(backends, scheme)
	backendsMu.Unlock()
	defer func() {
		backendsMu.Lock()
		if had {
			backends[scheme] = saved
		}
		backendsMu.Unlock()
	}()
	fn()
}

// A program that opens an s3:// channel without linking the S3 backend hears which
// package to import (channel/doctor's Diagnose reports the same as a failed check, and
// CheckBackend returns it).
func TestOpenWithoutBackendNamesThePackage(t *testing.T) {
	withoutBackend(t, "s3", func() {
		for _, open := range []func(context.Context, string, Options) (Store, error){Open, OpenExisting} {
			_, err := open(context.Background(), "s3://studio-bucket/Conda", Options{})
			if err == nil || !strings.Contains(err.Error(), "import github.com/condachan/condachan/channel/s3") {
				t.Errorf("open without the S3 backend: %v", err)
			}
		}
		loc, err := ParseLocation("s3://studio-bucket/Conda")
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckBackend(loc); err == nil || !strings.Contains(err.Error(), "import github.com/condachan/condachan/channel/s3") {
			t.Errorf("CheckBackend without the S3 backend: %v", err)
		}
		if err := CheckBackend(Location{Dir: t.TempDir()}); err != nil {
			t.Errorf("CheckBackend of a folder: %v", err)
		}
	})
}

// The registry refuses a scheme twice and a backend without Open, and finds options by
// scheme.
func TestRegisterBackend(t *testing.T) {
	const scheme = "test-scheme"
	open := func(context.Context, Location, Options) (Store, error) { return nil, nil }
	RegisterBackend(Backend{Scheme: scheme, Open: open})
	defer func() {
		backendsMu.Lock()
		delete(backends, scheme)
		backendsMu.Unlock()
	}()
	for name, b := range map[string]Backend{"twice": {Scheme: scheme, Open: open}, "no Open": {Scheme: "other"}, "no scheme": {Open: open}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: RegisterBackend did not panic", name)
				}
			}()
			RegisterBackend(b)
		}()
	}
	o := Options{Backend: []BackendOptions{testOptions("x")}}
	if got := o.For("X"); got != testOptions("x") {
		t.Errorf("For = %v", got)
	}
	if got := o.For("s3"); got != nil {
		t.Errorf("For(s3) = %v", got)
	}
}

type testOptions string

func (o testOptions) Scheme() string { return string(o) }
