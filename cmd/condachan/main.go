// Command condachan builds conda packages from upstream binary releases, publishes them
// to a conda channel on S3 or on disk, and keeps the channel's index correct. This file
// and its siblings only translate flags into library calls.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/input"
	"github.com/condachan/condachan/internal/interrupt"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); otherwise the module
// version from the build info is used.
var version = ""

// Exit codes, documented in the README.
const (
	exitOK      = 0
	exitFailure = 1
	// exitUsage covers bad flags and input the user must supply (e.g. a source archive
	// that is not on this machine).
	exitUsage = 2
	// A command stopped by a signal exits 128 + the signal's number, as a shell reports
	// a process the signal killed: 130 for SIGINT (Ctrl-C), 143 for SIGTERM
	// (interrupt.Error). A command that finishes cleanly on the signal (serve's graceful
	// shutdown) exits exitOK.
)

// usageError marks errors that exit with exitUsage.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := interrupt.Context()
	defer stop()
	root := newRootCommand(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	err = withFlagHints(err)
	var sig interrupt.Error
	if errors.As(context.Cause(ctx), &sig) {
		// Whatever the command returned (a cancelled wait, a killed build script), the
		// signal is why it stopped; its clean-up has run by now.
		if msg := err.Error(); msg == context.Canceled.Error() || msg == sig.Error() {
			fmt.Fprintf(stderr, "condachan: %v\n", sig)
		} else {
			fmt.Fprintf(stderr, "condachan: %v: %v\n", sig, err)
		}
		return sig.ExitCode()
	}
	var usage usageError
	if isUnknownCommand(err) && !errors.As(err, &usage) {
		err = usageError{fmt.Errorf("%w\nRun 'condachan --help' for the list of commands.", err)}
	}
	fmt.Fprintf(stderr, "condachan: %v\n", err)
	return exitCode(err)
}

// exitCode is exitUsage for an error of what was given, else exitFailure. Libraries mark
// theirs (input.ErrInvalid); the CLI's own are usageErrors and flagErrors.
func exitCode(err error) int {
	var usage usageError
	if errors.As(err, &usage) || errors.Is(err, input.ErrInvalid) || isFlagError(err) {
		return exitUsage
	}
	return exitFailure
}

func newRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "condachan",
		Short: "Build conda packages from upstream releases and publish them to a channel",
		Long: `condachan turns upstream binary releases (Blender, Houdini, Nuke, plugins) into conda
packages in one streaming pass, publishes them to a conda channel on S3 or in a local
folder, and keeps the channel's repodata correct while many jobs publish at once.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return flagError{fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})
	root.AddCommand(
		newBuildCommand(stdout, stderr),
		newPublishCommand(stdout, stderr),
		newIndexCommand(stdout, stderr),
		newRemoveCommand(stdout, stderr),
		newPatchCommand(stdout, stderr),
		newMirrorCommand(stdout, stderr),
		newLockCommand(stdout, stderr, stdin),
		newDoctorCommand(stdout, stderr),
		newPolicyCommand(stdout),
		newBundleCommand(stdout, stderr),
		newSubmitCommand(stdout, stderr),
		newServeCommand(stdout, stderr),
		newRecipeCommand(stdout, stderr),
	)
	usageArgs(root)
	hintCommands(root)
	return root
}

// usageArgs makes wrong positional arguments usage errors (exit 2) in every command
// under c: each Args validator's error becomes a usageError that shows the command's
// usage line, and a command group (bundle, lock) refuses an unknown subcommand instead
// of printing its help and exiting 0.
func usageArgs(c *cobra.Command) {
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
	if c.HasParent() && c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				names := []string{}
				for _, s := range cmd.Commands() {
					if s.IsAvailableCommand() {
						names = append(names, s.Name())
					}
				}
				return fmt.Errorf("unknown command %q for %q (its commands: %s)", args[0], cmd.CommandPath(), strings.Join(names, ", "))
			}
			return nil
		}
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
	validate := c.Args
	if validate == nil {
		return // the root: cobra reports unknown commands itself (see isUnknownCommand)
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if err := validate(cmd, args); err != nil {
			return usageError{fmt.Errorf("%w\nUsage: %s\nRun '%s --help' for more.", err, cmd.UseLine(), cmd.CommandPath())}
		}
		return nil
	}
}

// isUnknownCommand tells cobra's error for an unknown subcommand of the root command
// (`condachan frobnicate`), which does not go through an Args validator.
func isUnknownCommand(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ")
}

type flagError struct{ error }

func (e flagError) Unwrap() error { return e.error }

func isFlagError(err error) bool {
	var fe flagError
	return errors.As(err, &fe)
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
