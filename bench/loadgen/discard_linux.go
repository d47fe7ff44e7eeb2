package main

import (
	"io"
	"net"
	"syscall"
)

// sink is passed to recvfrom but never written: with MSG_TRUNC a TCP socket drops up to
// len(sink) bytes from its receive queue without copying them (tcp(7)).
var sink = make([]byte, 4<<20)

// discardBody drops the next n bytes of conn in the kernel.
func discardBody(conn *net.TCPConn, n int64) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return discardCopy(conn, n)
	}
	for n > 0 {
		var got int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			want := int64(len(sink))
			if n < want {
				want = n
			}
			got, _, rerr = syscall.Recvfrom(int(fd), sink[:want], syscall.MSG_TRUNC|syscall.MSG_DONTWAIT)
			return rerr != syscall.EAGAIN
		})
		if err != nil {
			return err
		}
		if rerr != nil {
			return rerr
		}
		if got == 0 {
			return io.ErrUnexpectedEOF
		}
		n -= int64(got)
	}
	return nil
}
