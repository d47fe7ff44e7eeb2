//go:build !linux

package serve

import (
	"net"
	"os"
)

// Elsewhere bodies stay in memory and are written like any other bytes.

func newMemfd() (*os.File, error) { return nil, errNoMemfd }

func seal(*os.File) error { return errNoMemfd }

func zeroCopyListener(ln net.Listener) net.Listener { return ln }
