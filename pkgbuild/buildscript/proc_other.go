//go:build !unix

package buildscript

import "os/exec"

// setProcessGroup leaves the process as it is: cancelling kills the interpreter only.
func setProcessGroup(*exec.Cmd) {}
