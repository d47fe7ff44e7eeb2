//go:build unix

package interrupt

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// The first Ctrl-C cancels the command's context; a second one, while the clean-up still
// runs, must kill the process. The test runs itself as a child that stands for a command
// stuck in its clean-up.
func TestSecondInterruptKills(t *testing.T) {
	if os.Getenv("CONDACHAN_TEST_SIGNAL_CHILD") == "1" {
		ctx, stop := Context()
		defer stop()
		fmt.Println("ready")
		<-ctx.Done()
		fmt.Println("cancelled")
		time.Sleep(5 * time.Second) // a clean-up that hangs
		fmt.Println("survived")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondInterruptKills$")
	cmd.Env = append(os.Environ(), "CONDACHAN_TEST_SIGNAL_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	waitFor := func(want string) {
		t.Helper()
		for l := range lines {
			if l == want {
				return
			}
		}
		t.Fatalf("the child ended before printing %q", want)
	}
	waitFor("ready")
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	waitFor("cancelled")
	// The handler is released just after the context ends, on another goroutine: keep
	// interrupting until the child dies or has clearly survived.
	done := make(chan error, 1)
	go func() {
		var rest []string
		for l := range lines {
			rest = append(rest, l)
		}
		err := cmd.Wait()
		if len(rest) > 0 && rest[0] == "survived" {
			err = errors.New("the second interrupt was swallowed")
		}
		done <- err
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("child: %v, want killed by SIGINT", err)
			}
			if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
				t.Fatalf("child ended with %v, want killed by SIGINT", err)
			}
			return
		case <-tick.C:
			cmd.Process.Signal(os.Interrupt)
		}
	}
}
