// Command readarchive reads an upstream archive the way `condachan build` does (decode,
// tar parsing, sha256) and throws the content away. Its wall time is the floor the build
// is measured against: the build's other work should hide behind the decoder.
//
//	go run ./bench/readarchive ARCHIVE
package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/condachan/condachan/pkgbuild/archive"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: readarchive ARCHIVE")
		os.Exit(2)
	}
	start := time.Now()
	r, err := archive.Open(os.Args[1], archive.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer r.Close()
	var entries, bytes int64
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		entries++
		bytes += n
	}
	fmt.Printf("%d entries, %d bytes in %.2fs\n", entries, bytes, time.Since(start).Seconds())
}
