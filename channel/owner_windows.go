package channel

import (
	"errors"
	"strconv"

	"golang.org/x/sys/windows"
)

// stillActive is the exit code GetExitCodeProcess reports for a running process.
const stillActive = 259

// lookupProcess tells whether pid runs on this machine and, when it does, its creation
// time (100 ns units since 1601) as its start.
func lookupProcess(pid int) (processState, string) {
	if pid <= 0 {
		return processUnknown, ""
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		if errors.Is(err, windows.ERROR_INVALID_PARAMETER) { // no process has this id
			return processGone, ""
		}
		return processUnknown, "" // access denied and the like: it may well run
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err == nil && code != stillActive {
		return processGone, "" // exited; someone still holds a handle to it
	}
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return processRunning, ""
	}
	return processRunning, strconv.FormatInt(created.Nanoseconds()/100, 10)
}

func bootID() string       { return "" }
func pidNamespace() string { return "" }
