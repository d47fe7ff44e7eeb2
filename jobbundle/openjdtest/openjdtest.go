// Package openjdtest runs a step of a job bundle folder on this machine the way an Open
// Job Description runtime does on a POSIX worker (openjd-sessions 0.7, which the Deadline
// Cloud worker agent and `openjd run` use), so that tests run the very step scripts a
// farm runs, without the OpenJD tools:
//
//   - the job parameters' values are parameter_values.yaml's, else the defaults;
//   - a session working directory is made, with the embedded files in a subfolder of it,
//     written 0600 (0700 when runnable) after every Task.File.* value is known;
//   - format strings are resolved (Param.*, RawParam.*, Session.*, Task.File.*), step
//     environment variables included;
//   - the action runs as openjd-sessions runs it: a generated /bin/sh script exports the
//     variables and starts the command in the background, waits for it and exits with
//     its status, in the session working directory.
//
// Path mapping is not applied (a session without path mapping rules). Only for tests;
// the condachan binary never imports it.
package openjdtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/jobbundle"
)

// Options change how a step runs.
type Options struct {
	// Env is added to this process's environment for the action (later entries win),
	// before the step environment's variables.
	Env []string
	// Shell runs the generated wrapper script; default /bin/sh (openjd-sessions writes
	// `#!/bin/sh`). Tests pass /bin/bash too: on some workers /bin/sh is bash.
	Shell string
	// Values override parameter values (as `openjd run -p` does).
	Values map[string]string
	// Timeout kills the action; default 5 minutes.
	Timeout time.Duration
}

// Result is what the action did.
type Result struct {
	// SessionDir is the session working directory (removed with the test).
	SessionDir string
	// Command is the resolved command and arguments.
	Command []string
	// Env is the resolved step environment.
	Env map[string]string
	// Output is stdout and stderr, interleaved as written.
	Output string
	// ExitCode is the action's exit status.
	ExitCode int
	// Progress, Status and Fail are the openjd_progress, openjd_status and openjd_fail
	// messages, in order.
	Progress []float64
	Status   []string
	Fail     []string
}

// RunStep runs step of the bundle in dir and returns what it did. It fails the test if
// the bundle cannot be read or the action cannot be started; a failing action is a
// Result with a non-zero ExitCode.
func RunStep(t testing.TB, dir, step string, o Options) *Result {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("openjdtest runs steps the way POSIX workers do")
	}
	data, err := os.ReadFile(filepath.Join(dir, jobbundle.TemplateFile))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := jobbundle.ParseTemplate(data)
	if err != nil {
		t.Fatal(err)
	}
	s := tmpl.Step(step)
	if s == nil {
		t.Fatalf("the bundle in %s has no step %q", dir, step)
	}
	given, err := jobbundle.ReadParameterValues(dir)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range o.Values {
		given[k] = v
	}
	values := tmpl.Values(given)
	for _, p := range tmpl.Parameters {
		if _, ok := values[p.Name]; !ok {
			t.Fatalf("parameter %s has no value and no default", p.Name)
		}
		if err := p.Accepts(values[p.Name]); err != nil {
			t.Fatal(err)
		}
	}

	session := t.TempDir()
	filesDir, err := os.MkdirTemp(session, "embedded_files")
	if err != nil {
		t.Fatal(err)
	}
	mappingFile := filepath.Join(session, "path_mapping.json")
	if err := os.WriteFile(mappingFile, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	symbols := map[string]string{
		"Session.WorkingDirectory":     session,
		"Session.HasPathMappingRules":  "false",
		"Session.PathMappingRulesFile": mappingFile,
	}
	for name, v := range values {
		symbols["Param."+name] = v
		symbols["RawParam."+name] = v
	}

	res := &Result{SessionDir: session, Env: map[string]string{}}
	var envOrder []string
	for _, env := range s.StepEnvironments {
		for _, name := range env.VariableOrder {
			v, err := jobbundle.Resolve(env.Variables[name], withoutSession(symbols))
			if err != nil {
				t.Fatalf("environment %q: %s: %v", env.Name, name, err)
			}
			if _, seen := res.Env[name]; !seen {
				envOrder = append(envOrder, name)
			}
			res.Env[name] = v
		}
	}

	for _, f := range s.Script.EmbeddedFiles {
		symbols["Task.File."+f.Name] = filepath.Join(filesDir, f.Filename)
	}
	for _, f := range s.Script.EmbeddedFiles {
		text, err := jobbundle.Resolve(f.Data, symbols)
		if err != nil {
			t.Fatalf("embedded file %s: %v", f.Name, err)
		}
		mode := os.FileMode(0o600)
		if f.Runnable {
			mode = 0o700
		}
		p := symbols["Task.File."+f.Name]
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}

	run := s.Script.Actions.OnRun
	for _, a := range append([]string{run.Command}, run.Args...) {
		r, err := jobbundle.Resolve(a, symbols)
		if err != nil {
			t.Fatalf("onRun: %v", err)
		}
		res.Command = append(res.Command, r)
	}

	// The wrapper openjd-sessions generates on POSIX (_generate_command_shell_script).
	var w strings.Builder
	w.WriteString("#!/bin/sh\n_term() {\n  echo 'Caught SIGTERM'\n  test \"${CHILD_PID:-}\" != \"\" && echo \"Sending SIGTERM to ${CHILD_PID}\" && kill -s TERM \"${CHILD_PID}\"\n  wait \"${CHILD_PID}\"\n  exit $?\n}\ntrap _term TERM\n")
	for _, name := range envOrder {
		fmt.Fprintf(&w, "export %s=%s\n", name, shQuote(res.Env[name]))
	}
	fmt.Fprintf(&w, "cd %s\n", shQuote(session))
	quoted := make([]string, len(res.Command))
	for i, a := range res.Command {
		quoted[i] = shQuote(a)
	}
	w.WriteString(strings.Join(quoted, " ") + " &\nCHILD_PID=$!\nwait \"$CHILD_PID\"\nexit $?\n")
	wrapper, err := os.CreateTemp(session, "*.sh")
	if err != nil {
		t.Fatal(err)
	}
	wrapper.WriteString(w.String())
	wrapper.Close()
	os.Chmod(wrapper.Name(), 0o700)

	shell := o.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	cmd := exec.Command(shell, wrapper.Name())
	cmd.Dir = session
	cmd.Env = append(os.Environ(), o.Env...)
	// One writer for both: os/exec then calls it from one goroutine at a time.
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", shell, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("step %s did not finish within %s; output:\n%s", step, timeout, out.String())
	}
	res.Output = out.String()
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run step %s: %v", step, err)
		}
		res.ExitCode = ee.ExitCode()
	}
	sc := bufio.NewScanner(strings.NewReader(res.Output))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "openjd_progress: "):
			if f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, "openjd_progress: ")), 64); err == nil {
				res.Progress = append(res.Progress, f)
			}
		case strings.HasPrefix(line, "openjd_status: "):
			res.Status = append(res.Status, strings.TrimPrefix(line, "openjd_status: "))
		case strings.HasPrefix(line, "openjd_fail: "):
			res.Fail = append(res.Fail, strings.TrimPrefix(line, "openjd_fail: "))
		}
	}
	return res
}

// withoutSession drops the Session.* values, which environments may not use.
func withoutSession(symbols map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range symbols {
		if !strings.HasPrefix(k, "Session.") {
			out[k] = v
		}
	}
	return out
}

// shQuote quotes like Python's shlex.quote.
func shQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./-_", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// String summarises a result for failure messages.
func (r *Result) String() string {
	keys := make([]string, 0, len(r.Env))
	for k := range r.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "exit code %d\ncommand: %q\n", r.ExitCode, r.Command)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s=%s\n", k, r.Env[k])
	}
	b.WriteString("output:\n" + r.Output)
	return b.String()
}
