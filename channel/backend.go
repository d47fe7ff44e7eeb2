package channel

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Backend is a kind of channel storage other than a local folder, chosen by the scheme of
// the channel URL. A backend lives in a package of its own, which registers it from an
// init function (channel/s3 registers "s3"); a program imports that package to handle
// those URLs, and this package never names the backend's types. Local folders are built
// in. A backend's doctor checks, if it has any, register with channel/doctor
// (doctor.RegisterBackend), which this package does not import.
type Backend struct {
	// Scheme is the URL scheme, lower case, without "://" ("s3").
	Scheme string
	// Open returns the Store of the channel at loc, configured by the backend's own
	// options in o (see Options.Backend), or its defaults without them.
	Open func(ctx context.Context, loc Location, o Options) (Store, error)
}

// BackendOptions are the options of one backend (channel/s3's Options), which that
// backend finds in Options.Backend by its scheme.
type BackendOptions interface {
	// Scheme is the URL scheme of the backend that takes these options.
	Scheme() string
}

var (
	backendsMu sync.RWMutex
	backends   = map[string]Backend{}
)

// backendPackages names the packages that register the schemes condachan knows, for the
// error that says which one a program forgot to import.
var backendPackages = map[string]string{
	"s3": "github.com/condachan/condachan/channel/s3",
}

// RegisterBackend makes Open and OpenExisting handle channel URLs of the backend's
// scheme. It panics when the scheme is registered already or the backend has no
// Open, as a program that links two backends for one scheme is wrong.
func RegisterBackend(b Backend) {
	scheme := strings.ToLower(b.Scheme)
	if scheme == "" || b.Open == nil {
		panic("channel.RegisterBackend: a backend needs a scheme and an Open function")
	}
	backendsMu.Lock()
	defer backendsMu.Unlock()
	if _, dup := backends[scheme]; dup {
		panic("channel.RegisterBackend: scheme " + scheme + ":// is registered twice")
	}
	backends[scheme] = b
}

// Backends lists the registered schemes, sorted.
func Backends() []string {
	backendsMu.RLock()
	defer backendsMu.RUnlock()
	out := make([]string, 0, len(backends))
	for s := range backends {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// CheckBackend returns nil when this program can open the channel at loc (a local
// folder, or a URL of a registered scheme), else the error Open would return, which
// names the package to import.
func CheckBackend(loc Location) error {
	if !loc.IsS3() {
		return nil
	}
	_, err := backendFor(loc)
	return err
}

// backendFor returns the registered backend of a location's scheme. A missing one is a
// programming error (the program did not import the backend's package), which the
// message says how to fix.
func backendFor(loc Location) (Backend, error) {
	scheme := loc.Scheme()
	backendsMu.RLock()
	b, ok := backends[scheme]
	backendsMu.RUnlock()
	if ok {
		return b, nil
	}
	if pkg := backendPackages[scheme]; pkg != "" {
		return Backend{}, fmt.Errorf("channel %s: %s:// channels need the %s backend, which this program does not include: import %s", loc, scheme, strings.ToUpper(scheme), pkg)
	}
	return Backend{}, fmt.Errorf("channel %s: no backend is registered for %s:// channels", loc, scheme)
}

// For returns the options given for the backend of scheme, or nil.
func (o Options) For(scheme string) BackendOptions {
	for _, bo := range o.Backend {
		if bo != nil && strings.EqualFold(bo.Scheme(), scheme) {
			return bo
		}
	}
	return nil
}
