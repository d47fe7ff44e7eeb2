package doctor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/condachan/condachan/channel"
)

// LeaseCheck reports who holds the channel lease (check "lease"), reading it within
// timeout.
func LeaseCheck(ctx context.Context, store channel.Store, timeout time.Duration) Check {
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rec, obj, err := channel.ReadLease(lctx, store)
	switch {
	case errors.Is(err, channel.ErrNotFound):
		return Check{Name: checkLease, Status: CheckPass, Detail: "free: nobody holds the channel lease"}
	case err != nil && obj.ETag != "":
		return Check{Name: checkLease, Status: CheckWarn, Detail: fmt.Sprintf("held, but lock.json is unreadable (%v); ETag %s", err, obj.ETag),
			Fix: "a waiting publisher takes it over after the TTL; `condachan lock break` removes it at once"}
	case err != nil:
		return Check{Name: checkLease, Status: CheckFail}.WithDetail(func(n channel.Namer) string { return "cannot read the lease: " + channel.ErrorIn(err, n) })
	}
	age := time.Since(obj.Modified)
	holder := fmt.Sprintf("%s pid %d", rec.Owner.Host, rec.Owner.PID)
	if rec.Owner.JobID != "" {
		holder += " (Deadline job " + rec.Owner.JobID + ")"
	}
	detail := fmt.Sprintf("held by %s, generation %d, TTL %s, last written %s ago by this machine's clock", holder, rec.Generation, rec.TTL(), age.Round(time.Second))
	// A waiter takes over after TTL + grace (TTL/2 by default) without a heartbeat.
	if ttl := rec.TTL(); ttl > 0 && age > ttl+ttl/2 {
		return Check{Name: checkLease, Status: CheckWarn, Detail: detail + ": no heartbeat for longer than its TTL, the holder has probably died",
			Fix: "the next publisher takes it over by itself; `condachan lock break` removes it at once"}
	}
	return Check{Name: checkLease, Status: CheckPass, Detail: detail}
}
