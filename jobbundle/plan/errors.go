package plan

import (
	"errors"
	"fmt"
	"strings"

	"github.com/condachan/condachan/input"
	"github.com/condachan/condachan/jobbundle/submitmeta"
	"github.com/condachan/condachan/pkgbuild"
)

// ErrInput is matched (errors.Is) by every error a plan returns because of what it was
// given (the recipe, its deadline-cloud.yaml, the archives, a value) rather than because
// of the system (a file that cannot be read, a failed request): a front end reports
// those as usage errors. It is input.ErrInvalid, which the other libraries mark too.
var ErrInput = input.ErrInvalid

// AsInput marks err as caused by what was given (errors.Is ErrInput), keeping its
// message and its type for errors.As: for the packages that carry a plan out.
func AsInput(err error) error { return input.Mark(err) }

// Field names an input of a plan that an error is about; a front end maps it to what
// its user sets it with (a flag). Its string is how the library's own messages name it.
type Field string

const (
	FieldBuildNumber   Field = "build number"
	FieldSourceArchive Field = "source archive"
	FieldVCPUs         Field = "the job's vCPU minimum"
	FieldMemory        Field = "the job's memory minimum"
	FieldWorkerOS      Field = "the worker OS"
	FieldWorkerArch    Field = "the worker CPU"
	FieldBinary        Field = "the condachan binary"
	// FieldPlatform names deadline-cloud.yaml entries to build; FieldAllPlatforms asks
	// for every one.
	FieldPlatform     Field = "platform"
	FieldAllPlatforms Field = "all platforms"
	// FieldStageSources asks for the local archives to be staged in the channel.
	FieldStageSources Field = "source staging"
	FieldRecipe       Field = "recipe"
	FieldSourceDir    Field = "source folder"
	// FieldTargetPlatform is the conda subdir a build job builds for.
	FieldTargetPlatform Field = "target platform"
	FieldCompression    Field = "compression"
	// FieldIndex asks for the index job; FieldFull for its full reindex.
	FieldIndex          Field = "the index job"
	FieldFull           Field = "full reindex"
	FieldChannel        Field = "channel"
	FieldWorkerEndpoint Field = "the workers' S3 endpoint"
	// FieldMirror is the bundle a mirror job publishes, which asks for that job;
	// FieldJobs its packages in flight.
	FieldMirror Field = "mirror bundle"
	FieldJobs   Field = "packages in flight"
)

func (f Field) String() string { return string(f) }

// FieldError is an error whose message names inputs of the plan. Error names each by
// its Field; Message names each as name returns (a front end's flags). A nil name is
// Field.String.
type FieldError interface {
	error
	Message(name func(Field) string) string
}

func names(name func(Field) string) func(Field) string {
	if name == nil {
		return Field.String
	}
	return name
}

// ErrNotS3Object, ErrSecondURI and ErrIsFolder are what a SourceArchiveError's Err can
// be, besides a file's error and the recipe's want of the archive.
var (
	ErrNotS3Object = errors.New("expected s3://bucket/key")
	ErrSecondURI   = errors.New("a job takes one s3:// archive")
	ErrIsFolder    = errors.New("is a folder; pass the archive file")
)

// SourceArchiveError is a given source archive (a path, or an s3:// URI) that a job
// cannot take. Err is ErrNotS3Object, ErrSecondURI, ErrIsFolder, the error of the file,
// or (NotInRecipe) the recipe's error naming the archives it takes.
type SourceArchiveError struct {
	Archive     string
	Err         error
	NotInRecipe bool
}

func (e *SourceArchiveError) Error() string { return e.Message(nil) }
func (e *SourceArchiveError) Unwrap() error { return e.Err }

func (e *SourceArchiveError) Message(name func(Field) string) string {
	n := names(name)(FieldSourceArchive)
	switch {
	case errors.Is(e.Err, ErrIsFolder):
		return fmt.Sprintf("%s %s %v", n, e.Archive, e.Err)
	case errors.Is(e.Err, ErrNotS3Object):
		return fmt.Sprintf("%s %s: %v", n, e.Archive, e.Err)
	case e.NotInRecipe: // the recipe's error names the archive
		return fmt.Sprintf("%s %v", n, e.Err)
	}
	return fmt.Sprintf("%s: %v", n, e.Err)
}

// BuildNumberError is a build number that is not auto, a number of 0 or more, or empty
// (the recipe's).
type BuildNumberError struct{ Value string }

func (e *BuildNumberError) Error() string { return e.Message(nil) }

func (e *BuildNumberError) Message(name func(Field) string) string {
	return fmt.Sprintf("%s %q: expected auto, a number of 0 or more, or empty for the recipe's", names(name)(FieldBuildNumber), e.Value)
}

// BuildNumberOverrideError is a build number given for a recipe that keeps its own (it
// sets build.string): Err is pkgbuild's *BuildStringConflictError.
type BuildNumberOverrideError struct {
	Value string
	Err   error
}

func (e *BuildNumberOverrideError) Error() string { return e.Message(nil) }
func (e *BuildNumberOverrideError) Unwrap() error { return e.Err }

func (e *BuildNumberOverrideError) Message(name func(Field) string) string {
	return fmt.Sprintf("%s %s: %v", names(name)(FieldBuildNumber), e.Value, e.Err)
}

// SelectError is a selection of deadline-cloud.yaml entries that cannot be made (an
// entry the file lacks, none submitted by default): Err is submitmeta's.
type SelectError struct{ Err error }

func (e *SelectError) Error() string { return e.Message(nil) }
func (e *SelectError) Unwrap() error { return e.Err }

func (e *SelectError) Message(name func(Field) string) string {
	n := names(name)
	return fmt.Sprintf("%v (%s NAME, or %s)", e.Err, n(FieldPlatform), n(FieldAllPlatforms))
}

// OnePlatformError is given source archives with several platforms selected: archives
// belong to one.
type OnePlatformError struct{ Platforms []string }

func (e *OnePlatformError) Error() string { return e.Message(nil) }

func (e *OnePlatformError) Message(name func(Field) string) string {
	n := names(name)
	return fmt.Sprintf("%s goes with one platform, and %d are selected (%s): pick one with %s", n(FieldSourceArchive), len(e.Platforms), strings.Join(e.Platforms, ", "), n(FieldPlatform))
}

// AmountError is an additionalHostRequirements amount that the build template sets
// itself (Field: the vCPU or memory minimum) given as other than a whole minimum.
type AmountError struct {
	Path  string
	Line  int
	Name  string // amount.worker.vcpu or amount.worker.memory
	Field Field
}

func (e *AmountError) Error() string { return e.Message(nil) }

func (e *AmountError) Message(name func(Field) string) string {
	return (&submitmeta.Error{Path: e.Path, Line: e.Line, Msg: fmt.Sprintf("%s: condachan takes a whole minimum only (no max): it is what %s sets", e.Name, names(name)(e.Field))}).Error()
}

// AttributeError is an additionalHostRequirements attribute that the platform sets (the
// worker's OS family or CPU).
type AttributeError struct {
	Path     string
	Line     int
	Name     string // attr.worker.os.family or attr.worker.cpu.arch
	Platform string
}

func (e *AttributeError) Error() string { return e.Message(nil) }

func (e *AttributeError) Message(name func(Field) string) string {
	n := names(name)
	return (&submitmeta.Error{Path: e.Path, Line: e.Line, Msg: fmt.Sprintf("%s comes from the platform (%s) and %s / %s: remove it", e.Name, e.Platform, n(FieldWorkerOS), n(FieldWorkerArch))}).Error()
}

// MissingSourcesError is archives of the recipe that are nowhere a job could get them.
// Err says which, where they were looked for and how to get them; without StagedChecked
// the message adds that staged archives are found when staging is asked for.
type MissingSourcesError struct {
	Recipe, Platform string
	Err              *pkgbuild.MissingSourceError
	StagedChecked    bool
}

func (e *MissingSourcesError) Error() string { return e.Message(nil) }
func (e *MissingSourcesError) Unwrap() error { return e.Err }

func (e *MissingSourcesError) Message(name func(Field) string) string {
	m := *e.Err
	if !e.StagedChecked {
		m.Hint = "\n  (archives staged in the channel already are found with " + names(name)(FieldStageSources) + ")"
	}
	return fmt.Sprintf("recipe %s for %s: %v", e.Recipe, e.Platform, &m)
}

// NeedsStagingError is more than one archive from this machine for one job, which
// attaches one: they need staging, where the job finds them by sha256.
type NeedsStagingError struct{ Archives []string }

func (e *NeedsStagingError) Error() string { return e.Message(nil) }

func (e *NeedsStagingError) Message(name func(Field) string) string {
	return fmt.Sprintf("the job needs %d archives from this machine (%s), and a job attaches one: stage them in the channel with %s, where the job finds them by sha256", len(e.Archives), strings.Join(e.Archives, ", "), names(name)(FieldStageSources))
}

// NoChecksumError is archives to stage that the recipe gives no sha256 for, more than
// the job can be handed by URI (one): a job finds staged archives by their sha256.
type NoChecksumError struct{ Archives []string }

func (e *NoChecksumError) Error() string {
	return fmt.Sprintf("the recipe gives no sha256 for %s: a job finds staged archives by their sha256 (and takes one more as SourceArchiveURI), so give each source one", strings.Join(e.Archives, ", "))
}

// ChecksumError is a local archive whose sha256 is not the one the recipe gives.
type ChecksumError struct {
	Path, Got, Want string
	Recipe          string
	File            string // the recipe file
	Line            int    // the source's line in it
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s has sha256 %s, but recipe %s expects %s (%s:%d): not the archive the recipe names; nothing written", e.Path, e.Got, e.Recipe, e.Want, e.File, e.Line)
}

// NegativeHostError is a negative vCPU or memory minimum.
type NegativeHostError struct{}

func (e *NegativeHostError) Error() string { return e.Message(nil) }

func (e *NegativeHostError) Message(name func(Field) string) string {
	n := names(name)
	return fmt.Sprintf("%s and %s must not be negative", n(FieldVCPUs), n(FieldMemory))
}

// IndexJobError is an input of build jobs (Field) given for an index job.
type IndexJobError struct{ Field Field }

func (e *IndexJobError) Error() string { return e.Message(nil) }

func (e *IndexJobError) Message(name func(Field) string) string {
	n := names(name)
	return fmt.Sprintf("%s belongs to build jobs, not to %s", n(e.Field), n(FieldIndex))
}

// FullReindexError is a full reindex asked of a build job.
type FullReindexError struct{}

func (e *FullReindexError) Error() string { return e.Message(nil) }

func (e *FullReindexError) Message(name func(Field) string) string {
	n := names(name)
	return fmt.Sprintf("%s goes with %s", n(FieldFull), n(FieldIndex))
}

// RequiredError is an input a build job cannot do without; Want says what it takes.
type RequiredError struct {
	Field Field
	Want  string
}

func (e *RequiredError) Error() string { return e.Message(nil) }

func (e *RequiredError) Message(name func(Field) string) string {
	return fmt.Sprintf("%s is required (%s)", names(name)(e.Field), e.Want)
}

// ConflictError is two inputs given together that exclude each other. Against the
// target platform, the deadline-cloud.yaml entries (FieldPlatform) are what decide it.
type ConflictError struct{ A, B Field }

func (e *ConflictError) Error() string { return e.Message(nil) }

func (e *ConflictError) Message(name func(Field) string) string {
	n := names(name)
	msg := fmt.Sprintf("%s and %s do not go together", n(e.A), n(e.B))
	if e.B == FieldTargetPlatform {
		msg += fmt.Sprintf(": %s names %s entries", n(e.A), submitmeta.FileName)
	}
	return msg
}

// NoMetaError is deadline-cloud.yaml entries asked for (by name, or all) for a recipe
// that has no deadline-cloud.yaml.
type NoMetaError struct{ Recipe string }

func (e *NoMetaError) Error() string { return e.Message(nil) }

func (e *NoMetaError) Message(name func(Field) string) string {
	n := names(name)
	return fmt.Sprintf("%s and %s select entries of a %s beside the recipe, and %s has none: use %s", n(FieldPlatform), n(FieldAllPlatforms), submitmeta.FileName, e.Recipe, n(FieldTargetPlatform))
}

// ParameterError is a value the job bundle's parameter (set by Field) does not take.
type ParameterError struct {
	Field Field
	Err   error
}

func (e *ParameterError) Error() string { return e.Message(nil) }
func (e *ParameterError) Unwrap() error { return e.Err }

func (e *ParameterError) Message(name func(Field) string) string {
	return fmt.Sprintf("%s: %v", names(name)(e.Field), e.Err)
}
