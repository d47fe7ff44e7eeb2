// Package interrupt turns the first SIGINT (Ctrl-C) or SIGTERM into the cancellation of a
// context, so that a command can clean up (a partial package removed, the channel lease
// released) and then exit as a shell expects of a process the signal stopped; a second
// signal kills the process the default way.
package interrupt

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Context is cancelled by the first Ctrl-C or SIGTERM, with an Error naming the signal
// as its cause. The handler is released as soon as that happens, so a second Ctrl-C
// kills the process the default way instead of being swallowed while a clean-up hangs.
// stop releases the handler and cancels the context.
func Context() (ctx context.Context, stop context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	var once sync.Once
	release := func() { once.Do(func() { signal.Stop(ch) }) }
	go func() {
		select {
		case s := <-ch:
			release()
			cancel(Error{Signal: s})
		case <-ctx.Done():
		}
	}()
	stop = func() {
		release()
		cancel(nil)
	}
	return ctx, stop
}

// Error is the cause of the context Context cancels. Like the cause
// signal.NotifyContext sets, it is a context.Canceled.
type Error struct{ Signal os.Signal }

func (e Error) Error() string { return "interrupted by " + e.Name() }

func (e Error) Is(target error) bool { return target == context.Canceled }

// Name is the signal's name: SIGINT, SIGTERM.
func (e Error) Name() string {
	switch e.Signal {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return e.Signal.String()
}

// ExitCode is how a process the signal stopped exits: 128 + the signal's number, as a
// shell reports a process the signal killed (130 for SIGINT, 143 for SIGTERM), or 1 for
// another signal.
func (e Error) ExitCode() int {
	switch e.Signal {
	case os.Interrupt:
		return 128 + 2
	case syscall.SIGTERM:
		return 128 + 15
	}
	return 1
}
