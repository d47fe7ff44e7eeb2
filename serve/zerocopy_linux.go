package serve

import (
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

func newMemfd() (*os.File, error) {
	fd, err := unix.MemfdCreate("condachan-serve-cache", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		// Kernels before 3.17, or a seccomp profile that refuses memfd_create.
		return nil, errNoMemfd
	}
	return os.NewFile(uintptr(fd), "memfd:condachan-serve-cache"), nil
}

func seal(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var sealErr error
	err = rc.Control(func(fd uintptr) {
		_, sealErr = unix.FcntlInt(fd, unix.F_ADD_SEALS,
			unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL)
	})
	if err != nil {
		return err
	}
	return sealErr
}

// zeroCopyListener hands out connections that send bodies in a memfd with sendfile.
func zeroCopyListener(ln net.Listener) net.Listener { return zeroCopyLn{ln} }

type zeroCopyLn struct{ net.Listener }

func (l zeroCopyLn) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		return zeroCopyConn{tc}, err
	}
	return c, err
}

// zeroCopyConn is a TCP connection whose ReadFrom, which net/http's ResponseWriter
// calls once the headers are out, sends a cached body in a memfd with sendfile, and a
// package from a plain-HTTP S3 connection with splice. Go's own sendfile path cannot be
// used for the memfd: it sends from the file's shared offset, and many requests send
// the same body at once.
type zeroCopyConn struct{ *net.TCPConn }

func (c zeroCopyConn) ReadFrom(r io.Reader) (int64, error) {
	switch src := r.(type) {
	case *bodyReader:
		if src.b.file != nil {
			return src.sendfile(c.TCPConn)
		}
	case *spliceChunk:
		// Go splices from a TCP connection behind an io.LimitedReader.
		n, err := c.TCPConn.ReadFrom(&src.lr)
		src.spliced += n
		if err == nil && src.lr.N > 0 {
			err = io.ErrUnexpectedEOF // the S3 server closed before the length it announced
		}
		src.b.account(n, err)
		return n, err
	}
	return c.TCPConn.ReadFrom(r)
}

// sendfile sends the rest of the section to dst. It waits for the socket through Go's
// poller, so the connection's write deadline holds. The memfd's descriptor is held (not
// locked: many requests send one body at once) for the whole call, so it cannot be
// closed and reused under it.
func (r *bodyReader) sendfile(dst *net.TCPConn) (int64, error) {
	src, err := r.b.file.SyscallConn()
	if err != nil {
		return 0, err
	}
	out, err := dst.SyscallConn()
	if err != nil {
		return 0, err
	}
	var sent int64
	var sendErr, waitErr error
	err = src.Control(func(in uintptr) {
		waitErr = out.Write(func(outFD uintptr) bool {
			for r.off < r.end {
				off := r.off
				n, err := unix.Sendfile(int(outFD), int(in), &off, int(min(r.end-r.off, 1<<30)))
				if n > 0 {
					r.off += int64(n)
					sent += int64(n)
				}
				switch {
				case err == unix.EAGAIN:
					return false // wait until the socket takes more
				case err == unix.EINTR:
				case err != nil:
					sendErr = os.NewSyscallError("sendfile", err)
					return true
				case n == 0:
					sendErr = io.ErrUnexpectedEOF // a sealed memfd cannot shrink
					return true
				}
			}
			return true
		})
	})
	r.zeroCopied += sent
	for _, e := range []error{sendErr, waitErr, err} {
		if e != nil {
			return sent, e
		}
	}
	return sent, nil
}
