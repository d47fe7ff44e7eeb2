package channel

import (
	"fmt"
	"os"
)

// A lease holder that was a process of this machine and no longer runs can be replaced
// at once instead of after TTL+grace: that is what a user of a folder channel meets
// after a Ctrl-C or a crash. It is only done when the lock is seen only from this
// machine's point of view in a way that makes the holder's PID meaningful:
//
//   - the store says so (HostLocal: a folder channel; never S3, whose channel is shared
//     by machines, and containers, that may have the same host name);
//   - the holder's host name is this machine's, and its boot id and PID namespace, when
//     the record has them, are this machine's and this process's (another machine with
//     the same name sharing the folder, a holder from before a reboot, a container with
//     the host's name: all wait TTL+grace as before);
//   - the holder's PID does not exist, or belongs to a process that started at another
//     time than the one the record names (a reused PID). A record without a start time
//     (older condachan) is only replaced when its PID does not exist.
//
// The takeover itself is the compare-and-swap on the lock's ETag used after expiry, so
// two waiters racing for it still have one winner, and the generation moves on.

// HostLocal is an optional interface of a Store kept in a folder of this machine (a local
// channel folder, even when that folder is on a network file system). A store that
// implements it with true lets a lease waiter take over at once from a holder process of
// this machine that no longer exists. Wrappers of a Store may forward it.
type HostLocal interface {
	HostLocal() bool
}

// HostLocal reports that a folder channel's lock can be checked against this machine's
// processes.
func (l *Local) HostLocal() bool { return true }

func isHostLocal(s Store) bool {
	h, ok := s.(HostLocal)
	return ok && h.HostLocal()
}

// processState is what this machine says about a PID.
type processState int

const (
	processUnknown processState = iota // cannot tell (no permission, unsupported)
	processRunning
	processGone // no such process (or only a zombie of it)
)

// thisMachine describes this machine and process for the comparisons of
// deadHolderReason; it has the fields CurrentOwner fills in.
func thisMachine() Owner {
	host, _ := os.Hostname()
	return Owner{Host: host, PID: os.Getpid(), ProcessStart: processStartOf(os.Getpid()), BootID: bootID(), PIDNamespace: pidNamespace()}
}

// processStartOf returns the start of a running process as recorded in Owner.ProcessStart,
// or "" when it cannot be told.
func processStartOf(pid int) string {
	state, start := lookupProcess(pid)
	if state != processRunning {
		return ""
	}
	return start
}

// deadHolderReason says why the lease holder h, a process of this machine (self), is
// known to be gone ("" when it is not known to be gone).
func deadHolderReason(h, self Owner) string {
	switch {
	case h.Host == "" || h.PID <= 0 || self.Host == "" || h.Host != self.Host:
		return ""
	case h.BootID != "" && h.BootID != self.BootID:
		return "" // before a reboot, or another machine with this name
	case h.PIDNamespace != "" && h.PIDNamespace != self.PIDNamespace:
		return "" // another container: its PIDs are not ours to look up
	}
	state, start := lookupProcess(h.PID)
	switch {
	case state == processGone:
		return fmt.Sprintf("its process %d on %s no longer exists", h.PID, h.Host)
	case state == processRunning && h.ProcessStart != "" && start != "" && start != h.ProcessStart:
		return fmt.Sprintf("its process %d on %s no longer exists (the pid now belongs to another process)", h.PID, h.Host)
	}
	return ""
}
