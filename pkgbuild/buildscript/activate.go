package buildscript

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Activation returns the lines that activate prefixes the way conda and rattler do, the
// first prefix ending up first on PATH and as CONDA_PREFIX: for each prefix, from the
// last to the first, its folders go in front of PATH, CONDA_PREFIX names it, and the
// scripts in its etc/conda/activate.d with the shell's extension are sourced (.sh) or
// called (.bat) in ascending name order. The lines are for bash, or for cmd.exe.
func Activation(prefixes []string, windows bool) (string, error) {
	var b strings.Builder
	for i := len(prefixes) - 1; i >= 0; i-- {
		p := prefixes[i]
		if windows {
			if strings.ContainsAny(p, "\"%\r\n") {
				return "", fmt.Errorf("prefix %q holds a character cmd.exe would interpret", p)
			}
			dirs := []string{p, p + `\Library\mingw-w64\bin`, p + `\Library\usr\bin`, p + `\Library\bin`, p + `\Scripts`, p + `\bin`}
			fmt.Fprintf(&b, "@SET \"PATH=%s;%%PATH%%\"\n", strings.Join(dirs, ";"))
			fmt.Fprintf(&b, "@SET \"CONDA_PREFIX=%s\"\n", p)
		} else {
			fmt.Fprintf(&b, "export PATH=%s\"${PATH:+:${PATH}}\"\n", ShQuote(p+"/bin"))
			fmt.Fprintf(&b, "export CONDA_PREFIX=%s\n", ShQuote(p))
		}
		ext := ".sh"
		if windows {
			ext = ".bat"
		}
		scripts, err := activateScripts(p, ext)
		if err != nil {
			return "", err
		}
		for _, s := range scripts {
			if windows {
				fmt.Fprintf(&b, "@CALL %s\n", CmdQuote(s))
			} else {
				fmt.Fprintf(&b, ". %s\n", ShQuote(s))
			}
		}
	}
	if len(prefixes) > 0 {
		if windows {
			fmt.Fprintf(&b, "@SET \"CONDA_SHLVL=1\"\n")
		} else {
			b.WriteString("export CONDA_SHLVL=1\n")
		}
	}
	return b.String(), nil
}

// activateScripts lists etc/conda/activate.d/*<ext> in prefix, in conda's order.
func activateScripts(prefix, ext string) ([]string, error) {
	dir := filepath.Join(prefix, "etc", "conda", "activate.d")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ext) && e.Type().IsRegular() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}
