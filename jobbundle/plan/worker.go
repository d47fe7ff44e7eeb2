package plan

import (
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/condachan/condachan/input"
	"github.com/condachan/condachan/pkgbuild/recipe"
)

// ScriptWorkerOS is the OS a script recipe's build runs on: the target's, or for a
// noarch package the one its interpreter belongs to.
func ScriptWorkerOS(r *recipe.Recipe) string {
	if r.Build.Noarch != "" {
		if r.Build.Script.Interpreter == recipe.Bash {
			return "linux"
		}
		return "windows"
	}
	return targetOS(r.TargetPlatform)
}

// ScriptName names a recipe's build script for messages.
func ScriptName(r *recipe.Recipe) string {
	if r.Build.Script.File != "" {
		return r.Build.Script.File
	}
	return "build.script"
}

func targetOS(target string) string {
	switch {
	case strings.HasPrefix(target, "win-"):
		return "windows"
	case strings.HasPrefix(target, "osx-"):
		return "macos"
	}
	return "linux"
}

// WorkerOS is the OS the job's workers run: osName as given (checked against a script
// recipe's, which must run on its own OS), else the script recipe's, else "" (from the
// target, WorkerPlatform).
func WorkerOS(r *recipe.Recipe, osName string) (string, error) {
	if r == nil || r.Build.Script.Empty() {
		return osName, nil
	}
	need := ScriptWorkerOS(r)
	if osName != "" && osName != need {
		return "", input.Mark(&ScriptOSError{Given: osName, Need: need, Recipe: r.Package.Name, Script: ScriptName(r)})
	}
	return need, nil
}

// WorkerPlatform gives the workers' OS family (linux, windows or macos) and CPU (x86_64
// or arm64): osName and arch as given, else from the target platform.
func WorkerPlatform(target, osName, arch string) (string, string, error) {
	if osName == "" {
		osName = targetOS(target)
	}
	if arch == "" {
		arch = "x86_64"
		if strings.HasSuffix(target, "-aarch64") || strings.HasSuffix(target, "-arm64") {
			arch = "arm64"
		}
	}
	switch osName {
	case "linux", "windows", "macos":
	default:
		return "", "", input.Mark(&WorkerValueError{Field: FieldWorkerOS, Value: osName})
	}
	switch arch {
	case "x86_64", "arm64":
	default:
		return "", "", input.Mark(&WorkerValueError{Field: FieldWorkerArch, Value: arch})
	}
	return osName, arch, nil
}

// ErrNotProgram is a BinaryError's Err for a file that is not a program for Linux,
// Windows or macOS.
var ErrNotProgram = errors.New("is not a program for Linux, Windows or macOS")

// CheckBinary makes sure an executable runs on workers of that OS and CPU, so that a
// wrong binary fails before the job is submitted and not on the farm.
func CheckBinary(path, osName, arch string) error {
	gotOS, gotArch, err := binaryPlatform(path, arch)
	if err != nil {
		return input.Mark(&BinaryError{Path: path, Err: err})
	}
	if gotOS != osName || gotArch != arch {
		return input.Mark(&BinaryError{Path: path, OS: gotOS, Arch: gotArch, WantOS: osName, WantArch: arch})
	}
	return nil
}

// binaryPlatform reads the OS and CPU of a program; of a macOS universal binary, arch
// when it holds it.
func binaryPlatform(path, arch string) (string, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	if ef, err := elf.NewFile(f); err == nil {
		switch ef.Machine {
		case elf.EM_X86_64:
			return "linux", "x86_64", nil
		case elf.EM_AARCH64:
			return "linux", "arm64", nil
		}
		return "linux", ef.Machine.String(), nil
	}
	if pf, err := pe.NewFile(f); err == nil {
		switch pf.Machine {
		case pe.IMAGE_FILE_MACHINE_AMD64:
			return "windows", "x86_64", nil
		case pe.IMAGE_FILE_MACHINE_ARM64:
			return "windows", "arm64", nil
		}
		return "windows", fmt.Sprintf("machine %#x", pf.Machine), nil
	}
	if mf, err := macho.NewFile(f); err == nil {
		return "macos", machoArch(mf.Cpu), nil
	}
	if ff, err := macho.NewFatFile(f); err == nil {
		gotArch := ""
		for _, a := range ff.Arches {
			if machoArch(a.Cpu) == arch {
				gotArch = arch
			}
		}
		if gotArch == "" && len(ff.Arches) > 0 {
			gotArch = machoArch(ff.Arches[0].Cpu)
		}
		return "macos", gotArch, nil
	}
	return "", "", ErrNotProgram
}

func machoArch(c macho.Cpu) string {
	switch c {
	case macho.CpuAmd64:
		return "x86_64"
	case macho.CpuArm64:
		return "arm64"
	}
	return c.String()
}

// WorkerValueError is a worker OS (Field FieldWorkerOS) or CPU (FieldWorkerArch) that is
// not one a job runs on.
type WorkerValueError struct {
	Field Field
	Value string
}

func (e *WorkerValueError) Error() string { return e.Message(nil) }

func (e *WorkerValueError) Message(name func(Field) string) string {
	want := "linux, windows or macos"
	if e.Field == FieldWorkerArch {
		want = "x86_64 or arm64"
	}
	return fmt.Sprintf("%s %q: expected %s", names(name)(e.Field), e.Value, want)
}

// ScriptOSError is a worker OS given for a script recipe that is not the OS its script
// runs on.
type ScriptOSError struct {
	Given, Need    string
	Recipe, Script string
}

func (e *ScriptOSError) Error() string { return e.Message(nil) }

func (e *ScriptOSError) Message(name func(Field) string) string {
	return fmt.Sprintf("%s %s: recipe %s runs a build script (%s), which runs on %s workers: a script runs the vendor's installer for the OS it targets", names(name)(FieldWorkerOS), e.Given, e.Recipe, e.Script, e.Need)
}

// BinaryError is a condachan binary that does not run on the job's workers: Err is the
// file's error or ErrNotProgram, or (nil Err) it is a program for OS/Arch, not for
// WantOS/WantArch.
type BinaryError struct {
	Path             string
	Err              error
	OS, Arch         string
	WantOS, WantArch string
}

func (e *BinaryError) Error() string { return e.Message(nil) }
func (e *BinaryError) Unwrap() error { return e.Err }

func (e *BinaryError) Message(name func(Field) string) string {
	n := names(name)
	switch {
	case errors.Is(e.Err, ErrNotProgram):
		return fmt.Sprintf("%s: %s %v", n(FieldBinary), e.Path, e.Err)
	case e.Err != nil:
		return fmt.Sprintf("%s: %v", n(FieldBinary), e.Err)
	}
	return fmt.Sprintf("%s: %s is a %s/%s program, but the job runs on %s/%s workers (see %s, %s)", n(FieldBinary), e.Path, e.OS, e.Arch, e.WantOS, e.WantArch, n(FieldWorkerOS), n(FieldWorkerArch))
}
