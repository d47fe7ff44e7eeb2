package doctor

import (
	"context"
	"strings"
	"sync"

	"github.com/condachan/condachan/channel"
)

// A BackendFunc runs a storage backend's checks of the channel at loc and adds them to r
// (Report.Add, Report.Skip, Report.SkipAsked). It never fails as a whole: what goes
// wrong is a failed Check.
type BackendFunc func(ctx context.Context, r *Report, loc channel.Location, o Options)

var (
	backendsMu sync.RWMutex
	backends   = map[string]BackendFunc{}
)

// RegisterBackend makes Diagnose check channels of a backend's URL scheme with diagnose.
// The backend's package calls it from an init function, as it calls
// channel.RegisterBackend (channel/s3 registers "s3"). It panics when the scheme is
// registered already or diagnose is nil, as a program that does that is wrong.
func RegisterBackend(scheme string, diagnose BackendFunc) {
	scheme = strings.ToLower(scheme)
	if scheme == "" || diagnose == nil {
		panic("doctor.RegisterBackend: a backend needs a scheme and a function")
	}
	backendsMu.Lock()
	defer backendsMu.Unlock()
	if _, dup := backends[scheme]; dup {
		panic("doctor.RegisterBackend: scheme " + scheme + ":// is registered twice")
	}
	backends[scheme] = diagnose
}

// backendFor returns the checks registered for scheme, or nil.
func backendFor(scheme string) BackendFunc {
	backendsMu.RLock()
	defer backendsMu.RUnlock()
	return backends[strings.ToLower(scheme)]
}
