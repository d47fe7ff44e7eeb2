//go:build unix

package buildscript

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the script in a process group of its own and kills the whole
// group when the build is cancelled: installers start children that would otherwise
// keep running (and writing into the prefix) after condachan gave up.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
