//go:build unix

package channel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// tryLockFile takes an exclusive flock without waiting.
func tryLockFile(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

func unlockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

// fileETag identifies one version of a file: a write renames a new file (a new inode)
// into place, so the inode changes with every write; size and the nanosecond mtime guard
// against an inode number being reused.
func fileETag(fi fs.FileInfo) string {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = uint64(st.Ino)
	}
	return fmt.Sprintf("\"%x-%x-%x\"", ino, fi.Size(), fi.ModTime().UnixNano())
}
