package interrupt

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
)

func TestError(t *testing.T) {
	for _, c := range []struct {
		sig  os.Signal
		msg  string
		code int
	}{
		{os.Interrupt, "interrupted by SIGINT", 130},
		{syscall.SIGTERM, "interrupted by SIGTERM", 143},
		{syscall.SIGHUP, "interrupted by hangup", 1},
	} {
		e := Error{Signal: c.sig}
		if e.Error() != c.msg || e.ExitCode() != c.code || !errors.Is(e, context.Canceled) {
			t.Errorf("%v: %q, exit %d, is Canceled: %v", c.sig, e.Error(), e.ExitCode(), errors.Is(e, context.Canceled))
		}
	}
}

// stop cancels the context with no signal for a cause.
func TestStop(t *testing.T) {
	ctx, stop := Context()
	stop()
	<-ctx.Done()
	var e Error
	if errors.As(context.Cause(ctx), &e) {
		t.Errorf("cause %v after stop", context.Cause(ctx))
	}
}
