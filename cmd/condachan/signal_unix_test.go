//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
)

// cliChildEnv carries the arguments of a condachan run in a child process (the test
// binary itself, see startCLI), one a line.
const cliChildEnv = "CONDACHAN_TEST_CLI_ARGS"

// runCLIChild makes the test binary, started by startCLI, run condachan as main does.
// Tests that use startCLI call it first.
func runCLIChild() {
	if args, ok := os.LookupEnv(cliChildEnv); ok {
		os.Exit(run(strings.Split(args, "\n"), os.Stdin, os.Stdout, os.Stderr))
	}
}

// cliProcess is condachan running in a child process.
type cliProcess struct {
	cmd    *exec.Cmd
	stderr lockedBuffer
	done   chan struct{}
	err    error // of Wait, once done is closed
}

// startCLI runs condachan with args in a child process, the test binary entering the
// calling test (named test), which calls runCLIChild first.
func startCLI(t *testing.T, test string, args ...string) *cliProcess {
	t.Helper()
	p := &cliProcess{done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "-test.run=^"+test+"$")
	p.cmd.Env = append(os.Environ(), cliChildEnv+"="+strings.Join(args, "\n"))
	p.cmd.Stdout = &bytes.Buffer{}
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitStderr waits until the child's stderr contains want.
func (p *cliProcess) waitStderr(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(p.stderr.String(), want) {
		select {
		case <-p.done:
			if strings.Contains(p.stderr.String(), want) {
				return
			}
			t.Fatalf("condachan ended (%v) before printing %q:\n%s", p.err, want, p.stderr.String())
		case <-deadline:
			t.Fatalf("condachan did not print %q:\n%s", want, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// exitCode waits for the child to end and returns its exit code.
func (p *cliProcess) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("condachan did not stop:\n%s", p.stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee) && ee.Exited():
		return ee.ExitCode()
	}
	t.Fatalf("condachan: %v\n%s", p.err, p.stderr.String())
	return -1
}

// Ctrl-C makes condachan exit 130 and SIGTERM 143 (128 + the signal's number, what a
// shell reports for a process the signal killed), saying that it was interrupted, after
// the command has cleaned up.
func TestSignalExitCodes(t *testing.T) {
	runCLIChild()
	t.Run("SIGINT while waiting for the lease", func(t *testing.T) {
		ch := t.TempDir()
		store, err := channel.NewLocal(ch)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		lease, err := channel.Acquire(ctx, store, channel.LeaseOptions{TTL: time.Hour, Owner: channel.Owner{Host: "render-07", PID: 4242}})
		if err != nil {
			t.Fatal(err)
		}
		defer lease.Release(ctx)
		held, _ := lease.Record()

		p := startCLI(t, "TestSignalExitCodes", "index", "--channel", ch, "--lease-poll", "50ms")
		p.waitStderr(t, "waiting for the channel lease held by render-07 pid 4242")
		p.cmd.Process.Signal(syscall.SIGINT)
		if code := p.exitCode(t); code != 130 {
			t.Errorf("exit code %d, want 130:\n%s", code, p.stderr.String())
		}
		if log := p.stderr.String(); !strings.Contains(log, "condachan: interrupted by SIGINT") {
			t.Errorf("stderr does not say condachan was interrupted:\n%s", log)
		}
		// The waiter gave up: the lease is still the holder's, untouched.
		if rec, _, err := channel.ReadLease(ctx, store); err != nil || rec.Nonce != held.Nonce || rec.Generation != held.Generation {
			t.Errorf("the lease after the interrupted wait: %+v %v, want %+v", rec, err, held)
		}
	})
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
		code int
	}{
		{syscall.SIGINT, "SIGINT", 130},
		{syscall.SIGTERM, "SIGTERM", 143},
	} {
		t.Run(tc.name+" during a build script", func(t *testing.T) {
			out := t.TempDir()
			rdir := writeScriptRecipe(t, "echo build script started\nsleep 60\n", "true")
			p := startCLI(t, "TestSignalExitCodes", "build", "--recipe", rdir, "-o", out, "--progress", "none")
			p.waitStderr(t, "build script started")
			p.cmd.Process.Signal(tc.sig)
			if code := p.exitCode(t); code != tc.code {
				t.Errorf("exit code %d, want %d:\n%s", code, tc.code, p.stderr.String())
			}
			if log := p.stderr.String(); !strings.Contains(log, "condachan: interrupted by "+tc.name) {
				t.Errorf("stderr does not say condachan was interrupted:\n%s", log)
			}
			// The clean-up ran: no build folder, no package left behind.
			if _, err := os.Stat(filepath.Join(out, ".condachan-work")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the build folder was left: %v", err)
			}
			if _, err := os.Stat(filepath.Join(out, "linux-64", "scripted-1.0-0.conda")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a package was written: %v", err)
			}
		})
	}
}

// serve shuts down gracefully on SIGTERM or SIGINT, and that is a success: exit 0.
func TestServeSignalExitsZero(t *testing.T) {
	runCLIChild()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "noarch"), 0o755)
			os.WriteFile(filepath.Join(dir, "noarch", "repodata.json"), []byte(`{"packages":{}}`), 0o644)
			p := startCLI(t, "TestServeSignalExitsZero", "serve", "--channel", dir, "--addr", "127.0.0.1:0")
			p.waitStderr(t, "on http://127.0.0.1:")
			p.cmd.Process.Signal(sig)
			if code := p.exitCode(t); code != 0 {
				t.Errorf("exit code %d, want 0:\n%s", code, p.stderr.String())
			}
			if log := p.stderr.String(); !strings.Contains(log, "condachan serve: stopped") || strings.Contains(log, "interrupted") {
				t.Errorf("stderr:\n%s", log)
			}
		})
	}
}
