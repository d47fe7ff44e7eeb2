//go:build unix

package channel

import (
	"errors"
	"syscall"
)

// lookupProcess tells whether pid runs on this machine and, when it does and it can be
// told, when it started (see processStart).
func lookupProcess(pid int) (processState, string) {
	if pid <= 0 {
		return processUnknown, ""
	}
	err := syscall.Kill(pid, 0)
	switch {
	case errors.Is(err, syscall.ESRCH):
		return processGone, ""
	case err != nil && !errors.Is(err, syscall.EPERM): // EPERM: it exists, as another user's
		return processUnknown, ""
	}
	start, zombie, err := processStart(pid)
	switch {
	case zombie:
		return processGone, ""
	case err != nil:
		return processRunning, ""
	}
	return processRunning, start
}
