package channel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ---- local folders ----

func diagnoseLocal(ctx context.Context, r *Report, loc Location, opts DiagnoseOptions) {
	r.add(Check{Name: checkChannel, Status: CheckPass, Detail: "local folder " + loc.Dir})
	rest := []string{checkWritable, checkFileLock, checkCondLocal}
	fi, err := os.Stat(loc.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.add(Check{Name: checkFolder, Status: CheckWarn, Detail: loc.Dir + " does not exist yet: the first publish creates it"})
		r.skip("skipped: the folder does not exist", rest...)
	case err != nil:
		r.add(Check{Name: checkFolder, Status: CheckFail, Detail: err.Error()})
		r.skip("skipped: the folder cannot be read", rest...)
	case !fi.IsDir():
		r.add(Check{Name: checkFolder, Status: CheckFail, Detail: loc.Dir + " is not a folder"}.WithFix(func(n Namer) string {
			return "pass the channel folder (or file:///dir) as " + n.Setting(SettingChannel)
		}))
		r.skip("skipped: not a folder", rest...)
	default:
		r.add(Check{Name: checkFolder, Status: CheckPass, Detail: loc.Dir + " exists"})
		st := &Local{root: loc.Dir}
		if opts.ReadOnly {
			r.skipAsked(SettingReadOnly, rest...)
		} else if localWritable(ctx, r, st) {
			r.add(localFileLock(st))
			r.add(localConditional(ctx, st))
		} else {
			r.skip("skipped: the folder is not writable", checkFileLock, checkCondLocal)
		}
	}
	r.add(Check{Name: checkS3, Status: CheckSkip, Detail: "a folder channel: the S3 checks (credentials, region, endpoint, permissions, conditional requests) do not apply"})
	if fi != nil && fi.IsDir() {
		st := &Local{root: loc.Dir}
		r.add(LeaseCheck(ctx, st, time.Minute))
		c, err := LeftoversCheck(ctx, st, time.Minute, "temp files in "+loc.Dir)
		if err != nil {
			c = Check{Name: checkLeftovers, Status: CheckWarn, Detail: err.Error()}
		}
		r.add(c)
	} else {
		r.skip("skipped: no channel folder", checkLease, checkLeftovers)
	}
}

// localWritable writes, reads and deletes a probe file.
func localWritable(ctx context.Context, r *Report, st *Local) bool {
	key := DoctorPrefix + newNonce()
	data := []byte("condachan doctor probe\n")
	defer cleanupLocalProbe(st)
	if _, err := st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), PutOptions{IfAbsent: true}); err != nil {
		r.add(Check{Name: checkWritable, Status: CheckFail, Detail: err.Error(), Fix: "the user running condachan needs write access to " + st.root + " (files are written next to their final name and renamed into place)"})
		return false
	}
	got, _, err := ReadAll(ctx, st, key)
	if err == nil && !bytes.Equal(got, data) {
		err = errors.New("read back different bytes")
	}
	if derr := st.Delete(ctx, key, ""); err == nil {
		err = derr
	}
	if err != nil {
		r.add(Check{Name: checkWritable, Status: CheckFail, Detail: err.Error()})
		return false
	}
	r.add(Check{Name: checkWritable, Status: CheckPass, Detail: "created, read and deleted a probe file under " + filepath.Join(st.root, filepath.FromSlash(DoctorPrefix))})
	return true
}

func cleanupLocalProbe(st *Local) {
	os.Remove(filepath.Join(st.root, filepath.FromSlash(strings.TrimSuffix(DoctorPrefix, "/"))))
}

// localFileLock checks that the store lock is exclusive: a second handle must not get it
// while the first holds it, and must once it is released.
func localFileLock(st *Local) Check {
	p := filepath.Join(st.root, filepath.FromSlash(storeLockKey))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return Check{Name: checkFileLock, Status: CheckFail, Detail: err.Error()}
	}
	open := func() (*os.File, error) { return os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644) }
	f1, err := open()
	if err != nil {
		return Check{Name: checkFileLock, Status: CheckFail, Detail: err.Error()}
	}
	defer f1.Close()
	f2, err := open()
	if err != nil {
		return Check{Name: checkFileLock, Status: CheckFail, Detail: err.Error()}
	}
	defer f2.Close()
	unsupported := func(err error) Check {
		return Check{Name: checkFileLock, Status: CheckFail, Detail: fmt.Sprintf("cannot lock %s: %v", p, err),
			Fix: "conditional writes in this folder need working file locks: put the channel on a local disk or a file system with locking (NFS with lockd, SMB), or use an S3 channel"}
	}
	// A publisher may hold the lock for a moment: try for a while.
	var ok bool
	for i := 0; i < 500 && !ok; i++ {
		if ok, err = tryLockFile(f1); err != nil {
			return unsupported(err)
		}
		if !ok {
			time.Sleep(2 * time.Millisecond)
		}
	}
	if !ok {
		return Check{Name: checkFileLock, Status: CheckWarn, Detail: p + " stayed locked for a second: a publisher is busy, or a lock is stuck"}
	}
	second, err := tryLockFile(f2)
	if err != nil {
		unlockFile(f1)
		return unsupported(err)
	}
	if second {
		unlockFile(f2)
		unlockFile(f1)
		return Check{Name: checkFileLock, Status: CheckWarn,
			Detail: "two handles of one process both got the exclusive lock on " + p + ": this file system's locks are per process (as on NFS) or do nothing",
			Fix:    "on NFS with lockd this is expected and publishers on different machines still exclude each other; on a file system without locking, publish from one machine at a time or use an S3 channel"}
	}
	if err := unlockFile(f1); err != nil {
		return unsupported(err)
	}
	again, err := tryLockFile(f2)
	if err != nil || !again {
		return Check{Name: checkFileLock, Status: CheckFail, Detail: fmt.Sprintf("the lock on %s was not released (%v)", p, err), Fix: "check the file system's locking"}
	}
	unlockFile(f2)
	return Check{Name: checkFileLock, Status: CheckPass, Detail: "the store lock " + p + " is exclusive and released"}
}

// localConditional checks create-if-absent, compare-and-swap and conditional delete on
// the folder, as the lease uses them.
func localConditional(ctx context.Context, st *Local) Check {
	key := DoctorPrefix + newNonce()
	defer cleanupLocalProbe(st)
	defer st.Delete(context.WithoutCancel(ctx), key, "")
	put := func(s string, o PutOptions) (Object, error) {
		return st.Put(ctx, key, strings.NewReader(s), int64(len(s)), o)
	}
	fail := func(format string, a ...any) Check {
		return Check{Name: checkCondLocal, Status: CheckFail, Detail: fmt.Sprintf(format, a...), Fix: "the folder's file system does not keep rename and lock semantics; use a local disk or an S3 channel"}
	}
	v1, err := put("1", PutOptions{IfAbsent: true})
	if err != nil {
		return fail("create-if-absent: %v", err)
	}
	if _, err := put("2", PutOptions{IfAbsent: true}); !errors.Is(err, ErrPreconditionFailed) {
		return fail("a second create-if-absent was not refused (%v)", err)
	}
	v3, err := put("33", PutOptions{IfMatch: v1.ETag})
	if err != nil {
		return fail("compare-and-swap with the current version: %v", err)
	}
	if _, err := put("444", PutOptions{IfMatch: v1.ETag}); !errors.Is(err, ErrPreconditionFailed) {
		return fail("compare-and-swap with a stale version was not refused (%v)", err)
	}
	if err := st.Delete(ctx, key, v1.ETag); !errors.Is(err, ErrPreconditionFailed) {
		return fail("a conditional delete with a stale version was not refused (%v)", err)
	}
	if _, err := st.Stat(ctx, key); err != nil {
		return fail("the object is gone after a refused conditional delete (%v)", err)
	}
	if err := st.Delete(ctx, key, v3.ETag); err != nil {
		return fail("conditional delete with the current version: %v", err)
	}
	if _, err := st.Stat(ctx, key); !errors.Is(err, ErrNotFound) {
		return fail("the object is still there after a conditional delete (%v)", err)
	}
	return Check{Name: checkCondLocal, Status: CheckPass, Detail: "create-if-absent, compare-and-swap and conditional delete behave as the lease needs"}
}
