package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// body is the immutable content of a cached index file or page.
//
// Where the system allows (Linux), a body of zeroCopyMin bytes or more lives in a sealed
// memfd instead of on the Go heap, so that it goes to a plain-HTTP client with sendfile:
// the kernel hands the pages to the socket without copying them through the process.
// Copying repodata.json.zst into the socket was about a quarter of the server's CPU time
// under load (the rest is mostly the kernel's TCP work), and is what kept it below nginx,
// which sends files the same way. The seal guarantees that the bytes cannot change under
// a Content-Length already sent.
//
// A body in a memfd is closed by the garbage collector (os.File's cleanup) once neither
// the cache nor a request still sending it holds it; an explicit close could pull the
// descriptor from under a request that has the body but has not started sending.
type body struct {
	size int64
	mem  []byte   // the bytes, when held in memory
	file *os.File // otherwise the sealed memfd holding them
	// head is the file's first bytes, kept in memory too: net/http reads the first
	// sniffLen bytes of a body itself before it hands the rest to sendfile.
	head []byte
}

const (
	// zeroCopyMin is the size from which a body goes to a memfd. Below it the copy
	// costs less than the extra system call (net/http writes the headers and the first
	// 512 bytes before sendfile takes over); most pages and small repodata stay in memory.
	zeroCopyMin = 32 << 10
	// sniffLen is how much of a body net/http's ResponseWriter.ReadFrom reads through
	// Read before it passes the source to the connection (http.sniffLen).
	sniffLen = 512
)

// readBody reads exactly size bytes of an object into a body. An object that is shorter
// or longer than size is an error: it changed while it was read, and the next request
// fetches it again.
func readBody(r io.Reader, size int64) (*body, error) {
	if size >= zeroCopyMin {
		b, err := fileBody(r, size)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, errNoMemfd) {
			return nil, err
		}
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, shortRead(err)
	}
	if err := atEnd(r); err != nil {
		return nil, err
	}
	return &body{size: size, mem: buf}, nil
}

// bytesBody makes a body of bytes the server generated (index pages).
func bytesBody(data []byte) *body {
	if int64(len(data)) >= zeroCopyMin {
		if b, err := readBody(bytes.NewReader(data), int64(len(data))); err == nil {
			return b
		}
	}
	return &body{size: int64(len(data)), mem: data}
}

func shortRead(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("object shrank while it was read")
	}
	return err
}

func atEnd(r io.Reader) error {
	var one [1]byte
	if n, _ := r.Read(one[:]); n > 0 {
		return errors.New("object grew while it was read")
	}
	return nil
}

// errNoMemfd says that bodies cannot go to a memfd here; they are kept in memory.
var errNoMemfd = errors.New("no memfd on this system")

// fileBody copies size bytes into a new sealed memfd.
func fileBody(r io.Reader, size int64) (*body, error) {
	f, err := newMemfd()
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	if n, err := io.CopyN(f, r, size); err != nil {
		if n < size && errors.Is(err, io.EOF) {
			return nil, shortRead(err)
		}
		return nil, fmt.Errorf("keep %d bytes in a memfd: %w", size, err)
	}
	if err := atEnd(r); err != nil {
		return nil, err
	}
	if err := seal(f); err != nil {
		return nil, fmt.Errorf("seal the memfd: %w", err)
	}
	head := make([]byte, min(size, sniffLen))
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, fmt.Errorf("read the memfd back: %w", err)
	}
	ok = true
	return &body{size: size, file: f, head: head}, nil
}

// reader returns a reader of the n bytes from off.
func (b *body) reader(off, n int64) *bodyReader {
	return &bodyReader{b: b, off: off, end: off + n}
}

// bodyReader reads a section of a body. The connection recognises it and sends a body
// in a memfd with sendfile; everything else (TLS, HTTP/2, other systems) reads it.
type bodyReader struct {
	b        *body
	off, end int64
	// zeroCopied counts the bytes that went out with sendfile.
	zeroCopied int64
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if r.off >= r.end {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.end-r.off)]
	var n int
	var err error
	switch {
	case r.b.file == nil:
		n = copy(p, r.b.mem[r.off:])
	case r.off+int64(len(p)) <= int64(len(r.b.head)):
		n = copy(p, r.b.head[r.off:])
	default:
		n, err = r.b.file.ReadAt(p, r.off)
		if errors.Is(err, io.EOF) && n == len(p) {
			err = nil
		}
	}
	r.off += int64(n)
	if errors.Is(err, io.EOF) {
		// A sealed memfd cannot shrink; should it ever, the client must not take a short
		// body for a whole one.
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// next splits off a reader of at most max of the bytes left, for one write deadline.
func (r *bodyReader) next(max int64) *bodyReader {
	end := min(r.end, r.off+max)
	c := &bodyReader{b: r.b, off: r.off, end: end}
	r.off = end
	return c
}

// inMemory returns the section's bytes when the body is held in memory.
func (r *bodyReader) inMemory() ([]byte, bool) {
	if r.b.file != nil {
		return nil, false
	}
	return r.b.mem[r.off:r.end], true
}
