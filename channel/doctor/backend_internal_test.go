package doctor

import (
	"context"
	"testing"

	"github.com/condachan/condachan/channel"
)

// The registry finds a backend's checks by scheme, whatever its case, and refuses a
// scheme twice, and an empty scheme or function.
func TestRegisterBackend(t *testing.T) {
	const scheme = "doctor-test-scheme"
	diagnose := func(context.Context, *Report, channel.Location, Options) {}
	RegisterBackend(scheme, diagnose)
	defer func() {
		backendsMu.Lock()
		delete(backends, scheme)
		backendsMu.Unlock()
	}()
	if backendFor("Doctor-Test-Scheme") == nil || backendFor("other") != nil {
		t.Error("backendFor does not find the registered scheme alone")
	}
	for name, register := range map[string]func(){
		"twice":       func() { RegisterBackend("Doctor-Test-Scheme", diagnose) },
		"no function": func() { RegisterBackend("other", nil) },
		"no scheme":   func() { RegisterBackend("", diagnose) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: RegisterBackend did not panic", name)
				}
			}()
			register()
		}()
	}
}
