package buildscript

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Interpreters.
const (
	Bash       = "bash"
	Cmd        = "cmd"
	PowerShell = "powershell"
)

// Spec is one script to run.
type Spec struct {
	// Name names the script in messages: "build.sh", "build.script", "tests[0]".
	Name        string
	Interpreter string
	// File is the script file (an absolute path), or Content its inline commands with
	// their ${{ }} already rendered.
	File    string
	Content []string
	// WorkDir receives the wrapper files and is where the script starts (SRC_DIR).
	WorkDir string
	// Cwd, when set, is the folder the script's commands run in (script.cwd).
	Cwd    string
	Vars   []Var    // the build variables (see Vars)
	Env    []Var    // script.env, set after the build variables
	Secret []string // names of secrets to pass from condachan's environment, masked in the output
	// Activate are prefixes whose bin folders go in front of PATH, first one first
	// (BUILD_PREFIX, then PREFIX, as rattler-build activates them).
	Activate []string
	// Windows writes cmd.exe wrappers instead of bash ones: the host runs Windows.
	Windows bool
	// Log receives the whole output; Output shows it live. Either may be nil.
	Log, Output io.Writer
	// Lookup reads condachan's environment (os.LookupEnv when nil).
	Lookup func(string) (string, bool)
}

// Error is a script that failed: its exit code and the last lines it printed.
type Error struct {
	Name     string
	ExitCode int // -1 when it did not run or was killed
	Tail     []string
	LogPath  string
	Err      error // why it did not run, when it did not
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Err != nil {
		fmt.Fprintf(&b, "%s could not run: %v", e.Name, e.Err)
	} else {
		fmt.Fprintf(&b, "%s failed with exit code %d", e.Name, e.ExitCode)
	}
	if len(e.Tail) > 0 {
		fmt.Fprintf(&b, "; its last lines:\n  %s", strings.Join(e.Tail, "\n  "))
	}
	if e.LogPath != "" {
		fmt.Fprintf(&b, "\nfull log: %s", e.LogPath)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// TailLines is how many of the last lines of output an Error keeps.
const TailLines = 25

// Plan is what Run writes and executes: wrapper files in WorkDir and the command line.
type Plan struct {
	Files map[string][]byte // file name in WorkDir -> content
	Args  []string          // the command; Args[0] is looked up on PATH
	Env   []string
}

// Prepare builds the plan for a spec without running anything.
func Prepare(s Spec) (*Plan, error) {
	lookup := s.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if s.File == "" && len(s.Content) == 0 {
		return nil, errors.New("no script")
	}
	env, err := Environ(lookup, s.Vars, s.Secret, s.Windows)
	if err != nil {
		return nil, err
	}
	env = append(env, varStrings(s.Env)...)
	if s.Windows {
		return prepareCmd(s, env)
	}
	return prepareBash(s, env)
}

func varStrings(vs []Var) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Name + "=" + v.Value
	}
	return out
}

// prepareBash writes build_env.sh (the variables and PATH) and conda_build.sh (set -e,
// the activation, set -x, then the script in a subshell) and runs `bash conda_build.sh`.
func prepareBash(s Spec, env []string) (*Plan, error) {
	var body string
	switch s.Interpreter {
	case Bash, "":
		if s.File != "" {
			data, err := os.ReadFile(s.File)
			if err != nil {
				return nil, err
			}
			body = string(data)
		} else {
			body = strings.Join(s.Content, "\n")
		}
	default:
		return nil, fmt.Errorf("%s scripts run on Windows; build this recipe on a Windows machine", s.Interpreter)
	}
	var envFile strings.Builder
	for _, v := range append(append([]Var{}, s.Vars...), s.Env...) {
		fmt.Fprintf(&envFile, "export %s=%s\n", v.Name, ShQuote(v.Value))
	}
	envFile.WriteString("export CONDA_BUILD=1\n")
	act, err := Activation(s.Activate, false)
	if err != nil {
		return nil, err
	}
	envFile.WriteString(act)
	var w strings.Builder
	w.WriteString("#!/usr/bin/env bash\nset -e\n")
	fmt.Fprintf(&w, "if [ -z ${CONDA_BUILD+x} ]; then\n    source %s\nfi\n", ShQuote(filepath.Join(s.WorkDir, "build_env.sh")))
	w.WriteString("set -x\n(\n")
	if s.Cwd != "" {
		fmt.Fprintf(&w, "cd %s\n", ShQuote(s.Cwd))
	}
	w.WriteString(body)
	if !strings.HasSuffix(body, "\n") {
		w.WriteString("\n")
	}
	w.WriteString(")\n")
	return &Plan{
		Files: map[string][]byte{"build_env.sh": []byte(envFile.String()), "conda_build.sh": []byte(w.String())},
		Args:  []string{"bash", filepath.Join(s.WorkDir, "conda_build.sh")},
		Env:   env,
	}, nil
}

// prepareCmd writes build_env.bat and conda_build.bat, which runs the script through
// `call` (a .bat, or inline commands written to conda_build_script.bat with an error
// check after each) or PowerShell, and runs `cmd.exe /d /c conda_build.bat`.
func prepareCmd(s Spec, env []string) (*Plan, error) {
	files := map[string][]byte{}
	var run string
	switch s.Interpreter {
	case Cmd, "":
		script := filepath.Join(s.WorkDir, "conda_build_script.bat")
		if s.File != "" {
			data, err := os.ReadFile(s.File)
			if err != nil {
				return nil, err
			}
			files["conda_build_script.bat"] = crlf(string(data))
		} else {
			var b strings.Builder
			for _, c := range s.Content {
				b.WriteString(c)
				b.WriteString("\nif %errorlevel% neq 0 exit /b %errorlevel%\n")
			}
			files["conda_build_script.bat"] = crlf(b.String())
		}
		run = fmt.Sprintf("call %s", CmdQuote(script))
	case PowerShell:
		file := s.File
		if file == "" {
			file = filepath.Join(s.WorkDir, "conda_build_script.ps1")
			files["conda_build_script.ps1"] = []byte(psPrologue + strings.Join(s.Content, "\n") + "\n")
		}
		run = fmt.Sprintf("powershell -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -File %s", CmdQuote(file))
	case Bash:
		file := s.File
		if file == "" {
			file = filepath.Join(s.WorkDir, "conda_build_script.sh")
			files["conda_build_script.sh"] = []byte(strings.Join(s.Content, "\n") + "\n")
		}
		run = fmt.Sprintf("bash %s", CmdQuote(filepath.ToSlash(file)))
	default:
		return nil, fmt.Errorf("unknown interpreter %q", s.Interpreter)
	}
	var envFile strings.Builder
	envFile.WriteString("@echo off\n")
	for _, v := range append(append([]Var{}, s.Vars...), s.Env...) {
		if strings.ContainsAny(v.Value, "\"\r\n") {
			return nil, fmt.Errorf("variable %s: cmd.exe cannot set a value holding a double quote or a line break", v.Name)
		}
		fmt.Fprintf(&envFile, "@SET \"%s=%s\"\n", v.Name, v.Value)
	}
	envFile.WriteString("@SET \"CONDA_BUILD=1\"\n")
	act, err := Activation(s.Activate, true)
	if err != nil {
		return nil, err
	}
	envFile.WriteString(act)
	files["build_env.bat"] = crlf(envFile.String())
	cwd := "."
	if s.Cwd != "" {
		cwd = s.Cwd
	}
	var w strings.Builder
	w.WriteString("@chcp 65001 > nul\n@echo on\n")
	fmt.Fprintf(&w, "IF \"%%CONDA_BUILD%%\" == \"\" (\n    call %s\n)\n@echo on\n", CmdQuote(filepath.Join(s.WorkDir, "build_env.bat")))
	fmt.Fprintf(&w, "setlocal\npushd %s || exit /b 1\n%s\n", CmdQuote(cwd), run)
	w.WriteString("set \"RB_SECTION_ERRORLEVEL=%errorlevel%\"\npopd\n")
	w.WriteString("if %RB_SECTION_ERRORLEVEL% equ 0 if %errorlevel% neq 0 set \"RB_SECTION_ERRORLEVEL=%errorlevel%\"\n")
	w.WriteString("endlocal & if %RB_SECTION_ERRORLEVEL% neq 0 exit /b %RB_SECTION_ERRORLEVEL%\n")
	files["conda_build.bat"] = crlf(w.String())
	return &Plan{
		Files: files,
		Args:  []string{"cmd.exe", "/d", "/c", filepath.Join(s.WorkDir, "conda_build.bat")},
		Env:   env,
	}, nil
}

// psPrologue makes inline PowerShell stop at the first error, as rattler-build's does.
const psPrologue = "$ErrorActionPreference = 'Stop'\n$PSNativeCommandUseErrorActionPreference = $true\n"

func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n"))
}

// ShQuote quotes s for POSIX sh: single quotes, in which nothing is expanded.
func ShQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// CmdQuote quotes a path for cmd.exe. Windows paths cannot hold double quotes, and Run
// refuses paths holding %, which cmd.exe would expand even inside quotes.
func CmdQuote(s string) string { return `"` + s + `"` }

// Run writes the plan's files and runs the script, streaming its output.
func Run(ctx context.Context, s Spec) error {
	plan, err := Prepare(s)
	if err != nil {
		return &Error{Name: s.Name, ExitCode: -1, Err: err}
	}
	if s.Windows {
		for _, p := range []string{s.WorkDir, s.Cwd, s.File} {
			if strings.ContainsAny(p, "%\"") {
				return &Error{Name: s.Name, ExitCode: -1, Err: fmt.Errorf("the path %s holds %% or \", which cmd.exe would interpret; use another folder", p)}
			}
		}
	}
	for name, data := range plan.Files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(s.WorkDir, name), data, mode); err != nil {
			return &Error{Name: s.Name, ExitCode: -1, Err: err}
		}
	}
	exe, err := lookPath(plan.Args[0], plan.Env)
	if err != nil {
		return &Error{Name: s.Name, ExitCode: -1, Err: err}
	}
	cmd := exec.CommandContext(ctx, exe, plan.Args[1:]...)
	cmd.Dir = s.WorkDir
	cmd.Env = append(plan.Env, "PWD="+s.WorkDir)
	cmd.Stdin = nil
	out := newOutput(s.Log, s.Output, secretValues(s))
	cmd.Stdout, cmd.Stderr = out, out
	setProcessGroup(cmd)
	// An installer may leave a daemon holding the output pipe: do not wait for it forever
	// once the script itself has ended.
	cmd.WaitDelay = 10 * time.Second
	runErr := cmd.Run()
	out.Flush()
	if runErr == nil {
		return nil
	}
	e := &Error{Name: s.Name, ExitCode: -1, Tail: out.Tail()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		e.Err = ctx.Err()
	case errors.As(runErr, &exit):
		e.ExitCode = exit.ExitCode()
	default:
		e.Err = runErr
	}
	return e
}

// lookPath finds the interpreter on the script's own PATH.
func lookPath(name string, env []string) (string, error) {
	if filepath.IsAbs(name) {
		return name, nil
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if strings.EqualFold(k, "PATH") {
			for _, dir := range filepath.SplitList(v) {
				if dir == "" {
					continue
				}
				if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
					return p, nil
				}
			}
		}
	}
	return "", fmt.Errorf("%s is not on PATH", name)
}

func secretValues(s Spec) []string {
	lookup := s.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var out []string
	for _, name := range s.Secret {
		if v, ok := lookup(name); ok && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// output copies a script's output to the log and the live view, line by line, with
// secrets masked, keeping the last lines for the error message.
type output struct {
	mu      sync.Mutex
	log     io.Writer
	live    io.Writer
	secrets []string
	partial []byte
	tail    []string
}

func newOutput(log, live io.Writer, secrets []string) *output {
	return &output{log: log, live: live, secrets: secrets}
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.line(o.partial[:i+1])
		o.partial = o.partial[i+1:]
	}
	// A very long line without a break (a progress bar redrawn with \r) is passed on
	// in pieces rather than held.
	if len(o.partial) > 64<<10 {
		o.line(o.partial)
		o.partial = nil
	}
	return len(p), nil
}

func (o *output) line(b []byte) {
	s := string(b)
	for _, secret := range o.secrets {
		s = strings.ReplaceAll(s, secret, "********")
	}
	if o.log != nil {
		io.WriteString(o.log, s)
	}
	if o.live != nil {
		io.WriteString(o.live, s)
	}
	o.tail = append(o.tail, strings.TrimRight(s, "\r\n"))
	if len(o.tail) > TailLines {
		o.tail = o.tail[len(o.tail)-TailLines:]
	}
}

// Flush passes on a last line without a line break.
func (o *output) Flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.partial) > 0 {
		o.line(append(o.partial, '\n'))
		o.partial = nil
	}
}

// Tail returns the last lines printed.
func (o *output) Tail() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.tail...)
}
