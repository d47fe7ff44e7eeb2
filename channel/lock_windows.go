//go:build windows

package channel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// tryLockFile takes an exclusive LockFileEx lock without waiting.
func tryLockFile(f *os.File) (bool, error) {
	var ol windows.Overlapped
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return false, nil
	}
	return err == nil, err
}

func unlockFile(f *os.File) error {
	var ol windows.Overlapped
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}

// fileETag identifies one version of a file: a write renames a freshly created file into
// place, so its creation time changes with every write, and size and mtime with most.
func fileETag(fi fs.FileInfo) string {
	var created int64
	if d, ok := fi.Sys().(*syscall.Win32FileAttributeData); ok {
		created = d.CreationTime.Nanoseconds()
	}
	return fmt.Sprintf("\"%x-%x-%x\"", created, fi.Size(), fi.ModTime().UnixNano())
}
