package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cliImports are what the CLI may use besides condachan's own packages: flags, the
// context, printing and the process. Hashing, archives, executables, processes, the
// network, YAML, signals and clouds are domain logic, which belongs in a library package
// with its tests (the CLI is flags → library calls → printing).
var cliImports = map[string]bool{
	"bufio": true, "context": true, "encoding/json": true, "errors": true, "fmt": true,
	"io": true, "maps": true, "os": true, "path/filepath": true, "runtime": true,
	"runtime/debug": true, "slices": true, "strings": true, "time": true,
	"github.com/spf13/cobra": true, "github.com/spf13/pflag": true,
}

func TestCLIImportsNoDomainLogic(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if cliImports[path] || strings.HasPrefix(path, "github.com/condachan/condachan/") {
				continue
			}
			t.Errorf("%s imports %s: the CLI holds no domain logic; put what needs it in a library package and call that", fset.Position(imp.Pos()), path)
		}
	}
	if checked == 0 {
		t.Fatal("no CLI source files found")
	}
}
