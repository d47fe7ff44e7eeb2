package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/channel/doctor"
)

// condachanDoes says what condachan does on an endpoint that ignores conditional requests:
// nothing can stand in for them.
const condachanDoes = "condachan builds the channel lease and the repodata fence on these conditions and has no fallback: on this endpoint it cannot guarantee the lease"

const condFix = "use AWS S3, or an S3-compatible server that implements conditional requests (versitygw does; recent MinIO implements them on PUT but not on DELETE); until then publish from one machine at a time"

// probe runs the write checks on a fresh key under .condachan/doctor/ and removes it.
func (d *s3Doctor) probe(ctx context.Context) {
	key := doctor.ProbeKey()
	d.notFound(ctx, key)
	body := func(n int) []byte {
		return []byte(fmt.Sprintf("{\"condachan_doctor\": %q, \"write\": %d}\n", key, n))
	}
	put := func(n int, o channel.PutOptions) (channel.Object, error) {
		pctx, cancel := d.op(ctx)
		defer cancel()
		o.ContentType, o.CacheControl = "application/json", "no-store"
		data := body(n)
		return d.st.Put(pctx, key, bytes.NewReader(data), int64(len(data)), o)
	}
	stat := func() (channel.Object, error) {
		sctx, cancel := d.op(ctx)
		defer cancel()
		return d.st.Stat(sctx, key)
	}
	read := func() ([]byte, error) {
		gctx, cancel := d.op(ctx)
		defer cancel()
		data, _, err := channel.ReadAll(gctx, d.st, key)
		return data, err
	}
	del := func(ifMatch string) error {
		dctx, cancel := d.op(ctx)
		defer cancel()
		return d.st.Delete(dctx, key, ifMatch)
	}
	created := false
	defer func() {
		if created {
			// Whatever happened, leave nothing behind (a fresh context: ctx may be done).
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opTime)
			defer cancel()
			d.st.Delete(cctx, key, "")
		}
	}()
	uri := d.st.uri(key)

	// put: create-if-absent, as every upload does.
	v1, err := put(1, channel.PutOptions{IfAbsent: true})
	if err != nil {
		c := doctor.Check{Name: checkPut, Status: doctor.CheckFail}.WithDetail(func(n channel.Namer) string {
			return fmt.Sprintf("PUT If-None-Match: * of %s: %s", uri, channel.ErrorIn(err, n))
		})
		switch {
		case isDenied(err) || credentialsRefused(err):
			c = d.deniedCheck(checkPut, "s3:PutObject", err, c.Detail)
			if !credentialsRefused(err) {
				denied := c
				c = c.WithFix(func(n channel.Namer) string {
					return denied.FixIn(n) + " (a production queue's read-only role is expected to fail here: run with " + n.Setting(channel.SettingReadOnly) + ")"
				})
			}
		case isNotImplemented(err):
			c.Detail = fmt.Sprintf("the endpoint does not implement conditional PUT (If-None-Match: *): %v; %s", err, condachanDoes)
			c.Fix = condFix
		}
		d.r.Add(c)
		d.r.Skip("skipped: the probe could not be written", checkGet, checkIfNoneMatch, checkIfMatch, checkCondDelete, checkDelete)
		return
	}
	created = true
	if v1.ETag == "" {
		if o, err := stat(); err == nil {
			v1 = o
		}
	}
	d.r.Add(doctor.Check{Name: checkPut, Status: doctor.CheckPass, Detail: fmt.Sprintf("created %s with If-None-Match: *", uri)})

	// get: read it back.
	if data, err := read(); err != nil {
		c := errorCheck(checkGet, err)
		if isDenied(err) {
			c = c.WithFix(d.permissionFix("s3:GetObject"))
		}
		d.r.Add(c)
	} else if !bytes.Equal(data, body(1)) {
		d.r.Add(doctor.Check{Name: checkGet, Status: doctor.CheckFail, Detail: fmt.Sprintf("read back %d bytes that differ from the %d written", len(data), len(body(1)))})
	} else {
		d.r.Add(doctor.Check{Name: checkGet, Status: doctor.CheckPass, Detail: "read the probe back"})
	}

	// if-none-match: a second create must lose.
	cur := v1
	ifNoneMatchOK := false
	v2, err := put(2, channel.PutOptions{IfAbsent: true})
	switch {
	case errors.Is(err, channel.ErrPreconditionFailed):
		ifNoneMatchOK = true
		d.r.Add(doctor.Check{Name: checkIfNoneMatch, Status: doctor.CheckPass, Detail: "a second PUT If-None-Match: * of the probe was refused with 412 Precondition Failed"})
	case err == nil:
		cur = v2
		d.r.Add(doctor.Check{Name: checkIfNoneMatch, Status: doctor.CheckFail,
			Detail: "the endpoint ignores If-None-Match: it replaced an existing object on PUT If-None-Match: *, so two publishers can both acquire the lease, a published package can be overwritten and index updates can be lost; " + condachanDoes,
			Fix:    condFix})
	default:
		d.r.Add(conditionError(checkIfNoneMatch, "PUT If-None-Match: *", err))
	}

	// if-match: a compare-and-swap with the current ETag wins, with a stale one loses.
	ifMatchOK, stale := false, ""
	v3, err := put(3, channel.PutOptions{IfMatch: cur.ETag})
	switch {
	case errors.Is(err, channel.ErrPreconditionFailed):
		d.r.Add(doctor.Check{Name: checkIfMatch, Status: doctor.CheckFail, Detail: fmt.Sprintf("PUT If-Match with the object's current ETag %s was refused: the endpoint's ETags do not match its own conditions; %s", cur.ETag, condachanDoes), Fix: condFix})
	case err != nil:
		d.r.Add(conditionError(checkIfMatch, "PUT If-Match", err))
	default:
		stale, cur = cur.ETag, v3
		v4, err := put(4, channel.PutOptions{IfMatch: stale})
		switch {
		case errors.Is(err, channel.ErrPreconditionFailed):
			if data, rerr := read(); rerr == nil && !bytes.Equal(data, body(3)) {
				d.r.Add(doctor.Check{Name: checkIfMatch, Status: doctor.CheckFail, Detail: "PUT If-Match with a stale ETag answered 412 but changed the object; " + condachanDoes, Fix: condFix})
			} else {
				ifMatchOK = true
				d.r.Add(doctor.Check{Name: checkIfMatch, Status: doctor.CheckPass, Detail: "PUT If-Match with the current ETag replaced the probe; with a stale ETag it was refused with 412 and the object kept"})
			}
		case err == nil:
			cur = v4
			d.r.Add(doctor.Check{Name: checkIfMatch, Status: doctor.CheckFail,
				Detail: "the endpoint ignores If-Match on PUT: it replaced the object although the ETag given was stale, so a publisher that lost the lease can overwrite a newer repodata.json and two waiters can take over an expired lease at once; " + condachanDoes,
				Fix:    condFix})
		default:
			d.r.Add(conditionError(checkIfMatch, "PUT If-Match (stale ETag)", err))
		}
	}

	// conditional-delete: a stale ETag must not delete; the current one must.
	if stale == "" {
		d.r.Skip("skipped: no stale ETag to try (the if-match check failed)", checkCondDelete)
	} else {
		d.conditionalDelete(stale, cur.ETag, ifMatchOK && ifNoneMatchOK, del, stat)
	}

	// delete: whatever is left goes, unconditionally, and must be gone.
	d.deleteProbe(key, del, stat)
	created = false
}

// conditionalDelete checks that DELETE If-Match with a stale ETag is refused and leaves
// the object, and that the current ETag deletes it.
func (d *s3Doctor) conditionalDelete(stale, current string, fenceWorks bool, del func(string) error, stat func() (channel.Object, error)) {
	err := del(stale)
	after, serr := stat()
	switch {
	case errors.Is(err, channel.ErrPreconditionFailed) && serr == nil:
		if err := del(current); err != nil {
			d.r.Add(conditionError(checkCondDelete, "DELETE If-Match (current ETag)", err))
			return
		}
		if _, serr := stat(); !errors.Is(serr, channel.ErrNotFound) {
			d.r.Add(doctor.Check{Name: checkCondDelete, Status: doctor.CheckFail, Detail: "DELETE If-Match with the current ETag answered success but the object is still there", Fix: condFix})
			return
		}
		d.r.Add(doctor.Check{Name: checkCondDelete, Status: doctor.CheckPass, Detail: "DELETE If-Match with a stale ETag was refused with 412 and the object kept; with the current ETag it was deleted"})
	case err == nil && errors.Is(serr, channel.ErrNotFound):
		detail := "the endpoint ignores If-Match on DELETE: it deleted the object although the ETag given was stale, so releasing or breaking a lease can delete a successor's lease and let a third publisher in while the successor still works; " + condachanDoes
		if fenceWorks {
			detail += ". The repodata fence (If-Match on PUT) works here, so no index update is lost: a publisher that finds its lease gone fails with 'lease lost' and must be run again"
		} else {
			detail += ", and index updates can be lost"
		}
		d.r.Add(doctor.Check{Name: checkCondDelete, Status: doctor.CheckFail, Detail: detail, Fix: condFix})
	case err == nil && serr == nil:
		d.r.Add(doctor.Check{Name: checkCondDelete, Status: doctor.CheckFail, Detail: fmt.Sprintf("DELETE If-Match with a stale ETag answered success but the object is still there (ETag %s)", after.ETag), Fix: condFix})
	case err != nil && isDenied(err):
		fix := d.permissionFix("s3:DeleteObject")
		d.r.Add(errorCheck(checkCondDelete, err).WithFix(func(n channel.Namer) string { return fix(n) + " (a conditional DELETE also needs s3:GetObject)" }))
	case err != nil:
		d.r.Add(conditionError(checkCondDelete, "DELETE If-Match (stale ETag)", err))
	default:
		d.r.Add(doctor.Check{Name: checkCondDelete, Status: doctor.CheckFail, Detail: fmt.Sprintf("could not look at the probe after the conditional DELETE: %v", serr)})
	}
}

func (d *s3Doctor) deleteProbe(key string, del func(string) error, stat func() (channel.Object, error)) {
	if err := del(""); err != nil {
		uri := d.st.uri(key)
		c := doctor.Check{Name: checkDelete, Status: doctor.CheckFail}.WithDetail(func(n channel.Namer) string {
			return fmt.Sprintf("could not delete the probe %s: %s", uri, channel.ErrorIn(err, n))
		})
		if isDenied(err) {
			fix := d.permissionFix("s3:DeleteObject")
			c = c.WithFix(func(n channel.Namer) string { return fix(n) + "; then delete the probe by hand" })
		}
		d.r.Add(c)
		return
	}
	if _, err := stat(); !errors.Is(err, channel.ErrNotFound) {
		d.r.Add(doctor.Check{Name: checkDelete, Status: doctor.CheckFail, Detail: fmt.Sprintf("DELETE of %s answered success but the object is still there (%v)", d.st.uri(key), err)})
		return
	}
	d.r.Add(doctor.Check{Name: checkDelete, Status: doctor.CheckPass, Detail: "deleted the probe"})
}

// conditionError reports a conditional request that failed in an unexpected way.
func conditionError(name, what string, err error) doctor.Check {
	switch {
	case isNotImplemented(err):
		return doctor.Check{Name: name, Status: doctor.CheckFail, Detail: fmt.Sprintf("the endpoint does not implement %s: %v; %s", what, err, condachanDoes), Fix: condFix}
	case isDenied(err):
		return doctor.Check{Name: name, Status: doctor.CheckFail, Detail: fmt.Sprintf("%s was denied: %v", what, err)}.WithFix(func(n channel.Namer) string {
			return "allow s3:PutObject, s3:GetObject and s3:DeleteObject on the channel's prefix (" + n.Policy("", "write") + "); a bucket policy that requires conditional writes must still allow these"
		})
	}
	return doctor.Check{Name: name, Status: doctor.CheckFail, Detail: fmt.Sprintf("%s failed: %v", what, err)}
}
