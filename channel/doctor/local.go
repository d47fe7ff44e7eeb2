package doctor

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

	"github.com/condachan/condachan/channel"
)

// The checks of a local folder channel.

func diagnoseLocal(ctx context.Context, r *Report, loc channel.Location, opts Options) {
	r.add(Check{Name: checkChannel, Status: CheckPass, Detail: "local folder " + loc.Dir})
	st := localFolder(r, loc.Dir)
	if st != nil {
		localWrites(ctx, r, st, opts.ReadOnly)
	}
	r.add(Check{Name: checkS3, Status: CheckSkip, Detail: "a folder channel: the S3 checks (credentials, region, endpoint, permissions, conditional requests) do not apply"})
	if st == nil {
		r.skip("skipped: no channel folder", checkLease, checkLeftovers)
		return
	}
	r.add(LeaseCheck(ctx, st, time.Minute))
	c, err := LeftoversCheck(ctx, st, time.Minute, "temp files in "+loc.Dir)
	if err != nil {
		c = Check{Name: checkLeftovers, Status: CheckWarn, Detail: err.Error()}
	}
	r.add(c)
}

// localFolder checks that the folder dir exists and returns its store, or nil (with the
// checks that need a folder skipped) when there is no folder to look into.
func localFolder(r *Report, dir string) *channel.Local {
	rest := []string{checkWritable, checkFileLock, checkCondLocal}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.add(Check{Name: checkFolder, Status: CheckWarn, Detail: dir + " does not exist yet: the first publish creates it"})
		r.skip("skipped: the folder does not exist", rest...)
		return nil
	case err != nil:
		r.add(Check{Name: checkFolder, Status: CheckFail, Detail: err.Error()})
		r.skip("skipped: the folder cannot be read", rest...)
		return nil
	case !fi.IsDir():
		r.add(Check{Name: checkFolder, Status: CheckFail, Detail: dir + " is not a folder"}.WithFix(func(n channel.Namer) string {
			return "pass the channel folder (or file:///dir) as " + n.Setting(channel.SettingChannel)
		}))
		r.skip("skipped: not a folder", rest...)
		return nil
	}
	st, err := channel.NewLocal(dir) // the folder exists: this creates nothing
	if err != nil {
		r.add(Check{Name: checkFolder, Status: CheckFail, Detail: err.Error()})
		r.skip("skipped: the folder cannot be read", rest...)
		return nil
	}
	r.add(Check{Name: checkFolder, Status: CheckPass, Detail: dir + " exists"})
	return st
}

// localWrites checks that the folder is writable, that its file locks work and that its
// conditional writes behave, unless readOnly leaves them out.
func localWrites(ctx context.Context, r *Report, st *channel.Local, readOnly bool) {
	switch {
	case readOnly:
		r.skipAsked(channel.SettingReadOnly, checkWritable, checkFileLock, checkCondLocal)
	case localWritable(ctx, r, st):
		r.add(localFileLock(st))
		r.add(localConditional(ctx, st))
	default:
		r.skip("skipped: the folder is not writable", checkFileLock, checkCondLocal)
	}
}

// localWritable writes, reads and deletes a probe file.
func localWritable(ctx context.Context, r *Report, st *channel.Local) bool {
	key := ProbeKey()
	data := []byte("condachan doctor probe\n")
	defer cleanupLocalProbe(st)
	if _, err := st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), channel.PutOptions{IfAbsent: true}); err != nil {
		r.add(Check{Name: checkWritable, Status: CheckFail, Detail: err.Error(), Fix: "the user running condachan needs write access to " + st.Root() + " (files are written next to their final name and renamed into place)"})
		return false
	}
	got, _, err := channel.ReadAll(ctx, st, key)
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
	r.add(Check{Name: checkWritable, Status: CheckPass, Detail: "created, read and deleted a probe file under " + filepath.Join(st.Root(), filepath.FromSlash(ProbePrefix))})
	return true
}

// cleanupLocalProbe removes the probe folder once empty.
func cleanupLocalProbe(st *channel.Local) {
	os.Remove(filepath.Join(st.Root(), filepath.FromSlash(strings.TrimSuffix(ProbePrefix, "/"))))
}

// localConditional checks create-if-absent, compare-and-swap and conditional delete on
// the folder, as the lease uses them.
func localConditional(ctx context.Context, st *channel.Local) Check {
	key := ProbeKey()
	defer cleanupLocalProbe(st)
	defer st.Delete(context.WithoutCancel(ctx), key, "")
	put := func(s string, o channel.PutOptions) (channel.Object, error) {
		return st.Put(ctx, key, strings.NewReader(s), int64(len(s)), o)
	}
	fail := func(format string, a ...any) Check {
		return Check{Name: checkCondLocal, Status: CheckFail, Detail: fmt.Sprintf(format, a...), Fix: "the folder's file system does not keep rename and lock semantics; use a local disk or an S3 channel"}
	}
	v1, err := put("1", channel.PutOptions{IfAbsent: true})
	if err != nil {
		return fail("create-if-absent: %v", err)
	}
	if _, err := put("2", channel.PutOptions{IfAbsent: true}); !errors.Is(err, channel.ErrPreconditionFailed) {
		return fail("a second create-if-absent was not refused (%v)", err)
	}
	v3, err := put("33", channel.PutOptions{IfMatch: v1.ETag})
	if err != nil {
		return fail("compare-and-swap with the current version: %v", err)
	}
	if _, err := put("444", channel.PutOptions{IfMatch: v1.ETag}); !errors.Is(err, channel.ErrPreconditionFailed) {
		return fail("compare-and-swap with a stale version was not refused (%v)", err)
	}
	if err := st.Delete(ctx, key, v1.ETag); !errors.Is(err, channel.ErrPreconditionFailed) {
		return fail("a conditional delete with a stale version was not refused (%v)", err)
	}
	if _, err := st.Stat(ctx, key); err != nil {
		return fail("the object is gone after a refused conditional delete (%v)", err)
	}
	if err := st.Delete(ctx, key, v3.ETag); err != nil {
		return fail("conditional delete with the current version: %v", err)
	}
	if _, err := st.Stat(ctx, key); !errors.Is(err, channel.ErrNotFound) {
		return fail("the object is still there after a conditional delete (%v)", err)
	}
	return Check{Name: checkCondLocal, Status: CheckPass, Detail: "create-if-absent, compare-and-swap and conditional delete behave as the lease needs"}
}
