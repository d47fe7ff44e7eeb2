//go:build unix && !linux

package channel

import "errors"

// processStart is not known on this system: a holder whose PID exists is waited for.
func processStart(pid int) (start string, zombie bool, err error) {
	return "", false, errors.ErrUnsupported
}

func bootID() string       { return "" }
func pidNamespace() string { return "" }
