package buildscript

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func TestVars(t *testing.T) {
	l := Layout{
		Prefix: "/b/host_env_placehold", BuildPrefix: "/b/build_env", SrcDir: "/b/work", RecipeDir: "/r", BuildDir: "/b",
		Name: "houdini", Version: "20.5.654", BuildNumber: 2, BuildString: "2", Target: "linux-64", HostPlatform: "linux-64",
		BuildPlatform: "linux-64", CPUCount: 8, Timestamp: time.Unix(1700000000, 0),
	}
	got := map[string]string{}
	for _, v := range Vars(l) {
		if _, dup := got[v.Name]; dup {
			t.Errorf("%s set twice", v.Name)
		}
		got[v.Name] = v.Value
	}
	want := map[string]string{
		"PREFIX": "/b/host_env_placehold", "BUILD_PREFIX": "/b/build_env", "SRC_DIR": "/b/work", "RECIPE_DIR": "/r",
		"PKG_NAME": "houdini", "PKG_VERSION": "20.5.654", "PKG_BUILDNUM": "2", "PKG_BUILD_STRING": "2",
		"target_platform": "linux-64", "build_platform": "linux-64", "host_platform": "linux-64", "SUBDIR": "linux-64",
		"ARCH": "64", "CPU_COUNT": "8", "SHLIB_EXT": ".so", "CONDA_BUILD_STATE": "BUILD", "SOURCE_DATE_EPOCH": "1700000000",
		"HOME": "/b/work", "LD_RUN_PATH": "/b/host_env_placehold/lib", "CONDA_BUILD_CROSS_COMPILATION": "0",
		"PYTHON": "/b/host_env_placehold/bin/python", "LANG": "C.UTF-8",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, windowsOnly := range []string{"LIBRARY_BIN", "SCRIPTS"} {
		if _, ok := got[windowsOnly]; ok {
			t.Errorf("%s set for linux-64", windowsOnly)
		}
	}

	l.Prefix, l.SrcDir, l.Target, l.HostPlatform, l.BuildPlatform = `D:\b\h_env`, `D:\b\work`, "win-64", "win-64", "win-64"
	win := map[string]string{}
	for _, v := range Vars(l) {
		win[v.Name] = v.Value
	}
	for k, v := range map[string]string{
		"LIBRARY_PREFIX": `D:\b\h_env\Library`, "LIBRARY_BIN": `D:\b\h_env\Library\bin`, "LIBRARY_INC": `D:\b\h_env\Library\include`,
		"LIBRARY_LIB": `D:\b\h_env\Library\lib`, "SCRIPTS": `D:\b\h_env\Scripts`, "SHLIB_EXT": ".dll", "CYGWIN_PREFIX": "/cygdrive/d/b/h_env",
		"PYTHON": `D:\b\h_env\python.exe`, "USERPROFILE": `D:\b\work`,
	} {
		if win[k] != v {
			t.Errorf("win-64 %s = %q, want %q", k, win[k], v)
		}
	}
	if _, ok := win["HOME"]; ok {
		t.Error("HOME set on Windows")
	}
	noarch := Vars(Layout{Target: "noarch", HostPlatform: "linux-64", BuildPlatform: "linux-64"})
	for _, v := range noarch {
		if v.Name == "CONDA_BUILD_CROSS_COMPILATION" && v.Value != "1" {
			t.Errorf("noarch: cross compilation %s, rattler-build sets 1", v.Value)
		}
	}
}

func TestEnviron(t *testing.T) {
	parent := lookup(map[string]string{"PATH": "/usr/bin", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "x", "https_proxy": "http://p:3128", "LICENSE_KEY": "s3cret", "SystemRoot": `C:\Windows`, "SYSTEMROOT": `C:\Windows`})
	env, err := Environ(parent, []Var{{"PREFIX", "/p"}}, []string{"LICENSE_KEY"}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PATH=/usr/bin", "https_proxy=http://p:3128", "PREFIX=/p", "LICENSE_KEY=s3cret"}
	if strings.Join(env, "\n") != strings.Join(want, "\n") {
		t.Errorf("env = %q\nwant  %q", env, want)
	}
	winEnv, err := Environ(parent, nil, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if winEnv[0] != "Path=/usr/bin" || !contains(winEnv, `SYSTEMROOT=C:\Windows`) || contains(winEnv, "HOME=/root") {
		t.Errorf("windows env = %q", winEnv)
	}
	if _, err := Environ(parent, nil, []string{"MISSING_SECRET"}, false); err == nil || !strings.Contains(err.Error(), "secret MISSING_SECRET is not set") {
		t.Errorf("missing secret: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestPrepareBash(t *testing.T) {
	work := t.TempDir()
	script := filepath.Join(t.TempDir(), "build.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nset -eu\necho hi\n"), 0o755)
	plan, err := Prepare(Spec{
		Name: "build.sh", Interpreter: Bash, File: script, WorkDir: work, Cwd: "/p/opt",
		Vars: []Var{{"PREFIX", "/p"}, {"ODD", `it's "$HOME" \ ok`}}, Env: []Var{{"APP", "1"}},
		Activate: []string{"/b/build_env", "/p"}, Lookup: lookup(map[string]string{"PATH": "/usr/bin"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(plan.Args, " ") != "bash "+filepath.Join(work, "conda_build.sh") {
		t.Errorf("Args = %q", plan.Args)
	}
	wrapper := string(plan.Files["conda_build.sh"])
	for _, want := range []string{"set -e\n", "source '" + filepath.Join(work, "build_env.sh") + "'", "set -x\n(\ncd '/p/opt'\n#!/bin/sh\nset -eu\necho hi\n)\n"} {
		if !strings.Contains(wrapper, want) {
			t.Errorf("conda_build.sh lacks %q:\n%s", want, wrapper)
		}
	}
	envFile := string(plan.Files["build_env.sh"])
	for _, want := range []string{
		"export PREFIX='/p'\n", `export ODD='it'\''s "$HOME" \ ok'` + "\n", "export APP='1'\n", "export CONDA_BUILD=1\n",
		// PREFIX is activated first, then BUILD_PREFIX, which so ends up first on PATH
		"export PATH='/p/bin'\"${PATH:+:${PATH}}\"\nexport CONDA_PREFIX='/p'\nexport PATH='/b/build_env/bin'\"${PATH:+:${PATH}}\"\nexport CONDA_PREFIX='/b/build_env'\n",
	} {
		if !strings.Contains(envFile, want) {
			t.Errorf("build_env.sh lacks %q:\n%s", want, envFile)
		}
	}
	if _, err := Prepare(Spec{Interpreter: Cmd, Content: []string{"dir"}, WorkDir: work}); err == nil || !strings.Contains(err.Error(), "run on Windows") {
		t.Errorf("cmd on a Unix host: %v", err)
	}
}

// TestPrepareWindows checks the cmd.exe and PowerShell wrappers, which the CI here cannot
// run: their command lines, files, line breaks, quoting and environment.
func TestPrepareWindows(t *testing.T) {
	work := `C:\bld\pkg-1.0-0\work`
	env := lookup(map[string]string{"PATH": `C:\Windows\system32`, "COMSPEC": `C:\Windows\system32\cmd.exe`, "USERPROFILE": `C:\Users\me`})
	base := Spec{WorkDir: work, Windows: true, Lookup: env, Vars: []Var{{"PREFIX", `C:\bld\pkg-1.0-0\h_env`}, {"PKG_VERSION", "1.0"}},
		Activate: []string{`C:\bld\pkg-1.0-0\build_env`, `C:\bld\pkg-1.0-0\h_env`}}

	inline := base
	inline.Interpreter, inline.Content = Cmd, []string{`robocopy "%SRC_DIR%\app" "%PREFIX%\app" /E`, `if %errorlevel% leq 7 exit /b 0`}
	plan, err := Prepare(inline)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(plan.Args, " ") != `cmd.exe /d /c `+work+`\conda_build.bat` && strings.Join(plan.Args, " ") != "cmd.exe /d /c "+filepath.Join(work, "conda_build.bat") {
		t.Errorf("Args = %q", plan.Args)
	}
	wrapper := string(plan.Files["conda_build.bat"])
	if strings.Contains(strings.ReplaceAll(wrapper, "\r\n", ""), "\n") {
		t.Errorf("conda_build.bat has bare LF line breaks")
	}
	for _, want := range []string{"@chcp 65001 > nul\r\n", "IF \"%CONDA_BUILD%\" == \"\" (\r\n    call \"", "setlocal\r\npushd \".\" || exit /b 1\r\ncall \"", "exit /b %RB_SECTION_ERRORLEVEL%"} {
		if !strings.Contains(wrapper, want) {
			t.Errorf("conda_build.bat lacks %q:\n%s", want, wrapper)
		}
	}
	body := string(plan.Files["conda_build_script.bat"])
	if want := "robocopy \"%SRC_DIR%\\app\" \"%PREFIX%\\app\" /E\r\nif %errorlevel% neq 0 exit /b %errorlevel%\r\nif %errorlevel% leq 7 exit /b 0\r\nif %errorlevel% neq 0 exit /b %errorlevel%\r\n"; body != want {
		t.Errorf("conda_build_script.bat = %q\nwant %q", body, want)
	}
	envFile := string(plan.Files["build_env.bat"])
	for _, want := range []string{"@SET \"PREFIX=C:\\bld\\pkg-1.0-0\\h_env\"\r\n", "@SET \"CONDA_BUILD=1\"\r\n",
		`@SET "PATH=C:\bld\pkg-1.0-0\h_env;C:\bld\pkg-1.0-0\h_env\Library\mingw-w64\bin;C:\bld\pkg-1.0-0\h_env\Library\usr\bin;C:\bld\pkg-1.0-0\h_env\Library\bin;C:\bld\pkg-1.0-0\h_env\Scripts;C:\bld\pkg-1.0-0\h_env\bin;%PATH%"`,
		`@SET "CONDA_PREFIX=C:\bld\pkg-1.0-0\build_env"`} {
		if !strings.Contains(envFile, want) {
			t.Errorf("build_env.bat lacks %q:\n%s", want, envFile)
		}
	}
	if !contains(plan.Env, `Path=C:\Windows\system32`) || !contains(plan.Env, `COMSPEC=C:\Windows\system32\cmd.exe`) || contains(plan.Env, `USERPROFILE=C:\Users\me`) || !contains(plan.Env, "PKG_VERSION=1.0") {
		t.Errorf("Env = %q", plan.Env)
	}

	file := base
	bat := filepath.Join(t.TempDir(), "bld.bat")
	os.WriteFile(bat, []byte("@echo off\nxcopy /E /I app %PREFIX%\\app\n"), 0o644)
	file.Interpreter, file.File = Cmd, bat
	plan, err = Prepare(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(plan.Files["conda_build_script.bat"]); got != "@echo off\r\nxcopy /E /I app %PREFIX%\\app\r\n" {
		t.Errorf("bld.bat copied as %q", got)
	}

	ps := base
	ps.Interpreter, ps.Content = PowerShell, []string{`Copy-Item -Recurse app "$Env:PREFIX\app"`}
	plan, err = Prepare(ps)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(plan.Files["conda_build_script.ps1"]); !strings.HasPrefix(got, "$ErrorActionPreference = 'Stop'\n") || !strings.Contains(got, `Copy-Item -Recurse app "$Env:PREFIX\app"`) {
		t.Errorf("conda_build_script.ps1 = %q", got)
	}
	if w := string(plan.Files["conda_build.bat"]); !strings.Contains(w, "powershell -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -File \"") {
		t.Errorf("conda_build.bat does not run PowerShell on the script:\n%s", w)
	}

	quoted := base
	quoted.Interpreter, quoted.Content, quoted.Env = Cmd, []string{"echo"}, []Var{{"BAD", `say "hi"`}}
	if _, err := Prepare(quoted); err == nil || !strings.Contains(err.Error(), "variable BAD: cmd.exe cannot set a value holding a double quote") {
		t.Errorf("a double quote in a value: %v", err)
	}
}

func TestRun(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("bash scripts: the Windows wrappers are checked by TestPrepareWindows")
	}
	t.Setenv("CONDACHAN_TEST_LEAK", "should not reach the script")
	t.Setenv("CONDACHAN_TEST_SECRET", "hunter2")
	work, prefix := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(prefix, "etc/conda/activate.d"), 0o755)
	os.WriteFile(filepath.Join(prefix, "etc/conda/activate.d/b.sh"), []byte("export ACTIVATED=\"${ACTIVATED:-}b\"\n"), 0o644)
	os.WriteFile(filepath.Join(prefix, "etc/conda/activate.d/a.sh"), []byte("export ACTIVATED=\"${ACTIVATED:-}a\"\n"), 0o644)
	var log, live bytes.Buffer
	err := Run(context.Background(), Spec{
		Name: "build.script", Interpreter: Bash, WorkDir: work, Activate: []string{prefix},
		Vars: []Var{{"PREFIX", prefix}}, Secret: []string{"CONDACHAN_TEST_SECRET"},
		Content: []string{
			`echo "leak=${CONDACHAN_TEST_LEAK:-none} pwd=$(pwd) activated=$ACTIVATED"`,
			`echo "secret=$CONDACHAN_TEST_SECRET"`,
			`printf 'no line break at the end'`,
		},
		Log: &log, Output: &live,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	out := log.String()
	for _, want := range []string{"leak=none pwd=" + work + " activated=ab\n", "secret=********\n", "no line break at the end\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") || live.String() != out {
		t.Errorf("the secret leaked, or live output differs from the log:\n%s", out)
	}

	err = Run(context.Background(), Spec{Name: "build.sh", Interpreter: Bash, WorkDir: work, Content: []string{"for i in $(seq 1 40); do echo line $i; done", "exit 7"}})
	var se *Error
	if !errors.As(err, &se) || se.ExitCode != 7 || len(se.Tail) != TailLines || se.Tail[len(se.Tail)-2] != "line 40" {
		t.Fatalf("failing script: %#v", err)
	}
	if !strings.Contains(err.Error(), "build.sh failed with exit code 7; its last lines:") {
		t.Errorf("message: %v", err)
	}
}

// TestRunCancel: a cancelled build kills the script and what it started.
func TestRunCancel(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("process groups are a Unix matter")
	}
	work := t.TempDir()
	pidFile := filepath.Join(work, "child.pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Run(ctx, Spec{Name: "build.sh", Interpreter: Bash, WorkDir: work, Content: []string{"sleep 300 & echo $! > " + pidFile, "wait"}})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(pidFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the script did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	b, _ := os.ReadFile(pidFile)
	pid := strings.TrimSpace(string(b))
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat("/proc/" + pid); err == nil {
		if st, _ := os.ReadFile("/proc/" + pid + "/stat"); !bytes.Contains(st, []byte(") Z ")) {
			t.Errorf("the script's child %s still runs", pid)
		}
	}
}
