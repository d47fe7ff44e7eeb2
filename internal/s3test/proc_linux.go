//go:build linux

package s3test

import (
	"os/exec"
	"syscall"
)

// setProcAttr has the kernel kill versitygw when the test binary dies without running its
// cleanups (a test timeout panics and exits), so no server outlives its tests.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
