package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/plan"
	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/pkgbuild/pkgtest"
	"github.com/condachan/condachan/publish"
	"github.com/condachan/condachan/serve"
)

// Libraries return typed errors that state what is wrong and, where there is one, the
// way out in their own terms (a remedy, an option of theirs); they name no flag. The CLI
// words that way out as its user takes it: withFlagHints finds those errors anywhere in
// an error's tree and rewrites their part of the message to name the command and flag.

// withFlagHints returns err with the library wording of every typed error in it replaced
// by the CLI's, or err itself when there is nothing to rewrite. The result unwraps to err,
// so errors.As and errors.Is see the same errors.
func withFlagHints(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	rewritten := msg
	walkErrors(err, func(e error) {
		for _, r := range flagHints(e) {
			// A message that holds the CLI's words already was rewritten before (the
			// command's error, then run's); the CLI's words may hold the library's.
			if r.own != "" && r.own != r.cli && !strings.Contains(rewritten, r.cli) {
				rewritten = strings.ReplaceAll(rewritten, r.own, r.cli)
			}
		}
	})
	if rewritten == msg {
		return err
	}
	return &hintedError{msg: rewritten, err: err}
}

// hintedError is an error whose message names the CLI's flags.
type hintedError struct {
	msg string
	err error
}

func (e *hintedError) Error() string { return e.msg }
func (e *hintedError) Unwrap() error { return e.err }

// rewrite is a library's words (own) and the CLI's for them (cli).
type rewrite struct{ own, cli string }

// flagHints says how the CLI words e, when e is one of the typed errors that have a way
// out the user takes with a flag.
func flagHints(e error) []rewrite {
	switch e := e.(type) {
	case *index.CorruptRepodataError:
		if e.Remedy == index.RemedyFullReindex {
			return []rewrite{{e.Error(), fmt.Sprintf("%s is not valid repodata (%v); not replacing it: run `condachan index --full` to rebuild it from the packages", e.Key, e.Err)}}
		}
	case *index.PatchError:
		if e.Stored {
			subdir, _, _ := strings.Cut(e.File, "/")
			cmd := "`condachan patch --channel CHANNEL --subdir " + subdir
			return []rewrite{{e.Error(), e.StoredMessage("store fixed instructions with "+cmd+" FILE`", "remove them with "+cmd+" --clear`")}}
		}
	case *publish.ConflictError:
		return []rewrite{{e.Error(), fmt.Sprintf("%s already exists in %s with different content (sha256 differs); packages are immutable: bump the build number, or pass --force to replace it", e.Key, e.Channel)}}
	case *publish.NotIndexedError:
		if e.Remedy == index.RemedyReindex {
			return []rewrite{{e.Error(), fmt.Sprintf("uploaded but not in the index:\n  %s\nrerun `condachan index --channel %s` once the cause is fixed", strings.Join(e.Missing, "\n  "), e.Channel)}}
		}
	case *pkgbuild.MissingSourceError:
		// Only its closing line: a planner may render the error with a hint of its own.
		cli := "\nthen pass them with --source-archive FILE (once for each) or --source-dir DIR (a folder holding them)"
		if len(e.Missing) == 1 {
			cli = "\n  then pass it with: --source-archive /path/to/" + e.Missing[0].FileName
		}
		return []rewrite{{e.HandOver(), cli}}
	case *publish.ArchiveURIError:
		return []rewrite{{e.Error(), "--source-archive " + e.Error()}}
	case *publish.LocalArchiveError:
		return []rewrite{{e.Error(), "--source-archive: " + e.Error()}}
	case *pkgbuild.SourceArchiveError:
		return []rewrite{{e.Error(), e.Message("--source-archive")}}
	case *pkgbuild.ArchiveMismatchError:
		if len(e.Expected) > 0 {
			return []rewrite{{e.Error(), fmt.Sprintf("%s: recipe %s for %s expects %s (pass --target-platform for another platform)", e.Name, e.Recipe, e.Platform, strings.Join(e.Expected, " or "))}}
		}
	case *pkgbuild.PrefixTooLongError:
		return []rewrite{{e.Error(), fmt.Sprintf("the build folder %s is too long for a padded build prefix (%d bytes at most); use a shorter --output-dir", e.Dir, e.Max)}}
	case *pkgtest.MissingRequirementError:
		return []rewrite{{e.Error(), fmt.Sprintf("its requirement %s (line %d) is not on PATH: condachan installs only the package itself into the test prefix; install %s on this machine, or build with --no-test", e.Spec, e.Line, e.Name)}}
	case *jobbundle.TemplateRequirementError:
		return []rewrite{{e.Error(), e.Message(func(s jobbundle.HostSetting) string { return "--" + fieldFlags[hostFields[s]] })}}
	case channel.MessageError:
		// The store's errors (channel/s3: the region, the endpoint URL) name settings.
		return []rewrite{{e.Error(), e.Message(cliNames{})}}
	case *publish.BuildNumberError:
		if errors.Is(e.Err, publish.ErrAutoNeedsChannel) {
			return []rewrite{{e.Error(), "--build-number auto needs --channel (it reserves the next free number there)"}}
		}
		return []rewrite{{e.Error(), fmt.Sprintf("--build-number %s: %v", e.Value, e.Err)}}
	case *publish.BuildNumberSyntaxError:
		return []rewrite{{e.Error(), fmt.Sprintf("--build-number: expected a number of 0 or more, got %q", e.Value)}}
	case *serve.KeyPairError:
		return []rewrite{{e.Error(), e.Message("--tls-cert", "--tls-key")}}
	case *serve.PresignTTLError:
		return []rewrite{{e.Error(), e.Message("--presign-ttl")}}
	case *serve.NoPresignerError:
		return []rewrite{{e.Error(), fmt.Sprintf("--redirect needs a channel that can presign URLs (an S3 channel); %s cannot; without --redirect the server sends packages itself", e.Channel)}}
	}
	return nil
}

// fieldFlags are the flags that set the inputs job plan errors name.
var fieldFlags = map[plan.Field]string{
	plan.FieldBuildNumber:    "build-number",
	plan.FieldSourceArchive:  "source-archive",
	plan.FieldVCPUs:          "vcpus",
	plan.FieldMemory:         "memory-mib",
	plan.FieldWorkerOS:       "worker-os",
	plan.FieldWorkerArch:     "worker-arch",
	plan.FieldBinary:         "binary",
	plan.FieldPlatform:       "conda-platform",
	plan.FieldAllPlatforms:   "all-platforms",
	plan.FieldStageSources:   "stage-source",
	plan.FieldRecipe:         "recipe",
	plan.FieldSourceDir:      "source-dir",
	plan.FieldTargetPlatform: "target-platform",
	plan.FieldCompression:    "compression",
	plan.FieldIndex:          "index",
	plan.FieldFull:           "full",
	plan.FieldChannel:        "channel",
	plan.FieldWorkerEndpoint: "worker-endpoint-url",
	plan.FieldMirror:         "mirror",
	plan.FieldJobs:           "jobs",
}

// jobFlagError makes a job planning error the CLI's: the inputs it names are called by
// their flags.
func jobFlagError(err error) error {
	var fe plan.FieldError
	if errors.As(err, &fe) {
		name := func(field plan.Field) string { return "--" + fieldFlags[field] }
		if _, ok := fe.(*plan.NeedsStagingError); ok {
			// `bundle write` has no --stage-source: say which command has.
			name = func(field plan.Field) string { return "`condachan submit --" + fieldFlags[field] + "`" }
		}
		msg := err.Error()
		if own := fe.Error(); strings.Contains(msg, own) {
			msg = strings.Replace(msg, own, fe.Message(name), 1)
		} else {
			msg = fe.Message(name)
		}
		return &hintedError{msg: msg, err: err}
	}
	return err
}

// hostFields are the job plan's fields for the values the job templates turn into host
// requirements.
var hostFields = map[jobbundle.HostSetting]plan.Field{
	jobbundle.HostVCPUs:      plan.FieldVCPUs,
	jobbundle.HostMemory:     plan.FieldMemory,
	jobbundle.HostWorkerOS:   plan.FieldWorkerOS,
	jobbundle.HostWorkerArch: plan.FieldWorkerArch,
}

// settingFlags are the flags that set the channel's settings (channel.Setting), which
// doctor findings and the S3 store's errors name.
var settingFlags = map[channel.Setting]string{
	channel.SettingChannel:       "channel",
	channel.SettingReadOnly:      "read-only",
	channel.SettingRegion:        "region",
	channel.SettingEndpoint:      "endpoint-url",
	channel.SettingPathStyle:     "s3-path-style",
	channel.SettingProfile:       "profile",
	channel.SettingExpectedOwner: "expected-bucket-owner",
}

// cliNames is the channel.Namer of the CLI: settings are flags, the policy statements
// are what `condachan policy` prints.
type cliNames struct{}

func (cliNames) Setting(s channel.Setting) string {
	if f, ok := settingFlags[s]; ok {
		return "--" + f
	}
	return s.String()
}

func (cliNames) Policy(ch, access string) string {
	cmd := "condachan policy"
	if ch != "" {
		cmd += " --channel " + ch
	}
	return "`" + cmd + " --access " + access + "`"
}

// hintCommands makes every command under root (root too) return its errors with the
// CLI's wording, however the command is executed.
func hintCommands(root *cobra.Command) {
	if run := root.RunE; run != nil {
		root.RunE = func(cmd *cobra.Command, args []string) error { return withFlagHints(run(cmd, args)) }
	}
	for _, c := range root.Commands() {
		hintCommands(c)
	}
}

// walkErrors calls visit for err and every error it wraps, depth first.
func walkErrors(err error, visit func(error)) {
	if err == nil {
		return
	}
	visit(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walkErrors(u.Unwrap(), visit)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walkErrors(e, visit)
		}
	}
}
