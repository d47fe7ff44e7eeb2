package doctor

import (
	"fmt"
	"time"

	"github.com/condachan/condachan/channel"
)

// localFileLock checks that the folder's store lock is exclusive: a second handle must
// not get it while the first holds it, and must once it is released.
func localFileLock(st *channel.Local) Check {
	first, err := st.OpenStoreLock()
	if err != nil {
		return Check{Name: checkFileLock, Status: CheckFail, Detail: err.Error()}
	}
	defer first.Close()
	second, err := st.OpenStoreLock()
	if err != nil {
		return Check{Name: checkFileLock, Status: CheckFail, Detail: err.Error()}
	}
	defer second.Close()
	return lockExclusive(first, second)
}

// lockExclusive takes the lock with first, tries it with second, and tries again once
// first released it.
func lockExclusive(first, second *channel.StoreLock) Check {
	p := first.Path()
	ok, err := tryLockAWhile(first)
	if err != nil {
		return lockUnsupported(p, err)
	}
	if !ok {
		return Check{Name: checkFileLock, Status: CheckWarn, Detail: p + " stayed locked for a second: a publisher is busy, or a lock is stuck"}
	}
	both, err := second.TryLock()
	if err != nil {
		first.Unlock()
		return lockUnsupported(p, err)
	}
	if both {
		second.Unlock()
		first.Unlock()
		return Check{Name: checkFileLock, Status: CheckWarn,
			Detail: "two handles of one process both got the exclusive lock on " + p + ": this file system's locks are per process (as on NFS) or do nothing",
			Fix:    "on NFS with lockd this is expected and publishers on different machines still exclude each other; on a file system without locking, publish from one machine at a time or use an S3 channel"}
	}
	if err := first.Unlock(); err != nil {
		return lockUnsupported(p, err)
	}
	again, err := second.TryLock()
	if err != nil || !again {
		return Check{Name: checkFileLock, Status: CheckFail, Detail: fmt.Sprintf("the lock on %s was not released (%v)", p, err), Fix: "check the file system's locking"}
	}
	second.Unlock()
	return Check{Name: checkFileLock, Status: CheckPass, Detail: "the store lock " + p + " is exclusive and released"}
}

// tryLockAWhile tries the lock for about a second: a publisher may hold it for a moment.
func tryLockAWhile(l *channel.StoreLock) (bool, error) {
	for range 500 {
		ok, err := l.TryLock()
		if err != nil || ok {
			return ok, err
		}
		time.Sleep(2 * time.Millisecond)
	}
	return false, nil
}

// lockUnsupported is the finding of a file system that refuses file locks.
func lockUnsupported(p string, err error) Check {
	return Check{Name: checkFileLock, Status: CheckFail, Detail: fmt.Sprintf("cannot lock %s: %v", p, err),
		Fix: "conditional writes in this folder need working file locks: put the channel on a local disk or a file system with locking (NFS with lockd, SMB), or use an S3 channel"}
}
