package pkgbuild

import (
	"os"
	"runtime/debug"
)

// MemoryLimit is the soft heap limit a process that builds should run under. A build's
// live memory is bounded (read-ahead, encoder windows and jobs: about 300 MiB at
// condapkg.Max); without a limit the garbage collector lets the heap grow to twice that
// before it runs.
const MemoryLimit = 448 << 20

// LimitMemory sets the process's soft heap limit to MemoryLimit, unless GOMEMLIMIT sets
// one, and returns what puts the previous limit back. It changes the whole process, so
// it is the caller's (a command's) to call, not Build's.
func LimitMemory() (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	previous := debug.SetMemoryLimit(MemoryLimit)
	return func() { debug.SetMemoryLimit(previous) }
}
