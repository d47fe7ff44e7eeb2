// Command make writes the source archives the shipped example recipes build from:
//
//	go run ./internal/exampleinstaller/make DIR
//	condachan build --recipe vendor-app-example --source-dir DIR
//	condachan build --recipe maya-rpm-example --source-dir DIR
package main

import (
	"fmt"
	"os"

	"github.com/condachan/condachan/internal/exampleinstaller"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/exampleinstaller/make DIR")
		os.Exit(2)
	}
	paths, err := exampleinstaller.Write(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, p := range paths {
		fmt.Println(p)
	}
}
