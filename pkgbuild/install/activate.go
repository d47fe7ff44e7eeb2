package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/condachan/condachan/pkgbuild/buildscript"
)

// ActivatedScript returns a script that activates prefix as conda does (see
// buildscript.Activation) and then runs body: POSIX sh (run it with bash) or, for
// windows, a cmd.exe batch file.
func ActivatedScript(prefix string, windows bool, body string) (string, error) {
	act, err := buildscript.Activation([]string{prefix}, windows)
	if err != nil {
		return "", err
	}
	if windows {
		return strings.ReplaceAll("@echo off\n"+act+body, "\n", "\r\n"), nil
	}
	return act + body, nil
}

// ShQuote quotes s for POSIX sh.
func ShQuote(s string) string { return buildscript.ShQuote(s) }

// Shell returns the command that runs a script written by ActivatedScript.
func Shell(windows bool, script string) (*exec.Cmd, error) {
	if windows {
		if runtime.GOOS != "windows" {
			return nil, errors.New("a Windows package's scripts run only on Windows")
		}
		return exec.Command(os.Getenv("COMSPEC"), "/d", "/c", "call", script), nil
	}
	if runtime.GOOS == "windows" {
		return nil, errors.New("a Unix package's scripts do not run on Windows")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		return nil, errors.New("bash is not on PATH")
	}
	return exec.Command(bash, script), nil
}

// runPostLink runs the post-link script as conda does: in the activated prefix, from
// its folder, with PREFIX and PKG_* set; a failure fails the install.
func (r *Result) runPostLink(ctx context.Context, prefix string, output io.Writer) error {
	windows := IsWindows(r.Subdir)
	rel := LinkScript(r.Name, "post-link", windows)
	script := filepath.Join(prefix, filepath.FromSlash(rel))
	if _, err := os.Stat(script); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	body := ". " + ShQuote(script) + "\n"
	if windows {
		body = "call " + buildscript.CmdQuote(script) + "\n"
	}
	text, err := ActivatedScript(prefix, windows, body)
	if err != nil {
		return err
	}
	ext := ".sh"
	if windows {
		ext = ".bat"
	}
	tmp, err := os.CreateTemp("", "condachan-post-link-*"+ext)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(text); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	cmd, err := Shell(windows, tmp.Name())
	if err != nil {
		return fmt.Errorf("post-link script %s: %w", rel, err)
	}
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	cmd.Dir = filepath.Dir(script)
	cmd.Env = append(os.Environ(),
		"PREFIX="+prefix, "ROOT_PREFIX="+prefix, "PKG_NAME="+r.Name, "PKG_VERSION="+r.Version,
		"PKG_BUILDNUM="+strconv.Itoa(r.BuildNumber), "PATH="+filepath.Dir(script)+string(os.PathListSeparator)+os.Getenv("PATH"))
	var out strings.Builder
	w := io.Writer(&out)
	if output != nil {
		w = io.MultiWriter(&out, output)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("post-link script %s failed (%v):\n%s", rel, err, tail(out.String(), 20))
	}
	return nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
