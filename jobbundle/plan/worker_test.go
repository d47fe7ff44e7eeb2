package plan

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func flagName(f Field) string {
	return map[Field]string{FieldWorkerOS: "--worker-os", FieldWorkerArch: "--worker-arch", FieldBinary: "--binary"}[f]
}

func TestWorkerPlatform(t *testing.T) {
	for _, c := range []struct{ target, os, arch, wantOS, wantArch string }{
		{"linux-64", "", "", "linux", "x86_64"},
		{"linux-aarch64", "", "", "linux", "arm64"},
		{"win-64", "", "", "windows", "x86_64"},
		{"osx-arm64", "", "", "macos", "arm64"},
		{"win-64", "linux", "arm64", "linux", "arm64"},
	} {
		osName, arch, err := WorkerPlatform(c.target, c.os, c.arch)
		if err != nil || osName != c.wantOS || arch != c.wantArch {
			t.Errorf("WorkerPlatform(%s, %q, %q) = %s, %s, %v; want %s, %s", c.target, c.os, c.arch, osName, arch, err, c.wantOS, c.wantArch)
		}
	}
	for _, c := range []struct{ os, arch, want string }{
		{"solaris", "", `--worker-os "solaris": expected linux, windows or macos`},
		{"", "riscv", `--worker-arch "riscv": expected x86_64 or arm64`},
	} {
		_, _, err := WorkerPlatform("linux-64", c.os, c.arch)
		var fe FieldError
		if !errors.As(err, &fe) || !errors.Is(err, ErrInput) || fe.Message(flagName) != c.want {
			t.Errorf("%s/%s: %v", c.os, c.arch, err)
		}
		if strings.Contains(err.Error(), "--") {
			t.Errorf("the library's message names a flag: %v", err)
		}
	}
}

func TestCheckBinary(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	osName := map[string]string{"darwin": "macos"}[runtime.GOOS]
	if osName == "" {
		osName = runtime.GOOS
	}
	arch := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[runtime.GOARCH]
	if arch == "" {
		t.Skip("no worker CPU for", runtime.GOARCH)
	}
	if err := CheckBinary(exe, osName, arch); err != nil {
		t.Errorf("the test binary on its own OS: %v", err)
	}
	other := "windows"
	if osName == "windows" {
		other = "linux"
	}
	err = CheckBinary(exe, other, arch)
	var be *BinaryError
	if !errors.As(err, &be) || !errors.Is(err, ErrInput) || !strings.Contains(be.Message(flagName), "program, but the job runs on "+other+"/"+arch+" workers (see --worker-os, --worker-arch)") {
		t.Errorf("another OS: %v", err)
	}
	text := filepath.Join(t.TempDir(), "condachan")
	os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755)
	err = CheckBinary(text, osName, arch)
	if !errors.Is(err, ErrNotProgram) || !errors.As(err, &be) || !strings.HasPrefix(be.Message(flagName), "--binary: "+text+" is not a program") {
		t.Errorf("not a program: %v", err)
	}
}
