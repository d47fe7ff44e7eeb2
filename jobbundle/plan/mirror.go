package plan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/input"
	"github.com/condachan/condachan/jobbundle"
)

// notForMirror are the fields of build and index jobs, which a mirror job refuses, in
// the order they are checked.
var notForMirror = []Field{FieldIndex, FieldFull, FieldRecipe, FieldSourceArchive, FieldSourceDir, FieldTargetPlatform, FieldPlatform, FieldAllPlatforms, FieldBuildNumber, FieldCompression}

// planMirror plans the one job that publishes Options.Mirror. A bundle on this machine
// is sent with the job, or with Stage hashed to be staged in the channel's bucket
// (Job.Bundle): a job then streams it from S3 as a bundle given as s3://bucket/key.
func (o *Options) planMirror(ctx context.Context) ([]*Job, error) {
	for _, f := range notForMirror {
		if o.set(f) || f == FieldRecipe && o.Recipe != "" || f == FieldFull && o.Full {
			return nil, input.Mark(&ConflictError{A: FieldMirror, B: f})
		}
	}
	if o.Mirror == "" {
		return nil, input.Mark(&RequiredError{Field: FieldMirror, Want: "a bundle made by mirror pack: a file, or the s3://bucket/key of one"})
	}
	if o.Jobs != 0 || o.set(FieldJobs) {
		if err := CheckParameter(jobbundle.Mirror, jobbundle.ParamJobs, strconv.Itoa(o.Jobs)); err != nil {
			return nil, input.Mark(&ParameterError{Field: FieldJobs, Err: err})
		}
	}
	bundle, err := ParseMirrorBundle(o.Mirror)
	if err != nil {
		return nil, err
	}
	jobs, err := o.one(ctx, nil, nil)
	if err != nil {
		return nil, err
	}
	if err := o.mirrorValues(ctx, jobs[0], bundle); err != nil {
		return nil, err
	}
	return jobs, nil
}

// MirrorBundle is a mirror job's bundle as given: an object in S3 (URI) or a file on
// this machine (Path, absolute).
type MirrorBundle struct {
	URI, Path string
}

// ParseMirrorBundle reads a mirror bundle value: s3://bucket/key, or a bundle file on
// this machine. One a job cannot take is a *MirrorBundleError.
func ParseMirrorBundle(value string) (MirrorBundle, error) {
	if strings.HasPrefix(strings.ToLower(value), "s3://") {
		loc, err := channel.ParseLocation(value)
		if err != nil || loc.Prefix == "" {
			return MirrorBundle{}, input.Mark(&MirrorBundleError{Bundle: value, Err: ErrNotS3Object})
		}
		return MirrorBundle{URI: value}, nil
	}
	st, err := os.Stat(value)
	if err != nil {
		return MirrorBundle{}, input.Mark(&MirrorBundleError{Bundle: value, Err: err})
	}
	if st.IsDir() {
		return MirrorBundle{}, input.Mark(&MirrorBundleError{Bundle: value, Err: ErrBundleIsFolder})
	}
	abs, err := filepath.Abs(value)
	if err != nil {
		return MirrorBundle{}, err
	}
	return MirrorBundle{Path: abs}, nil
}

// mirrorValues sets the mirror bundle's values: a bundle in S3 is streamed by the job
// (MirrorBundleURI), one on this machine is sent with it (MirrorBundle) unless it is to
// be staged (Stage), which replaces that value with the staged URI.
func (o *Options) mirrorValues(ctx context.Context, j *Job, b MirrorBundle) error {
	if o.Jobs != 0 {
		j.Values[jobbundle.ParamJobs] = strconv.Itoa(o.Jobs)
	}
	if b.URI != "" {
		j.Values[jobbundle.ParamMirrorBundleURI] = b.URI
		return nil
	}
	j.Values[jobbundle.ParamMirrorBundle] = b.Path
	if !o.Stage {
		return nil
	}
	// Refused before hashing: a folder channel has no bucket to stage in.
	ch := j.Values[jobbundle.ParamCondaChannel]
	loc, err := channel.ParseLocation(ch)
	if err != nil {
		return input.Mark(err)
	}
	if !loc.IsS3() {
		return input.Mark(&MirrorStagingError{Bundle: b.Path, Channel: ch})
	}
	j.Bundle = &LocalArchive{Path: b.Path, Name: filepath.Base(b.Path)}
	return j.Bundle.hash(ctx, string(FieldMirror), o.Log)
}

// ErrBundleIsFolder is a MirrorBundleError's Err for a folder.
var ErrBundleIsFolder = errors.New("is a folder: a job takes a bundle file made by mirror pack, or s3://bucket/key of one")

// MirrorBundleError is a mirror bundle a job cannot take: Err is ErrNotS3Object,
// ErrBundleIsFolder or the file's error.
type MirrorBundleError struct {
	Bundle string
	Err    error
}

func (e *MirrorBundleError) Error() string { return e.Message(nil) }
func (e *MirrorBundleError) Unwrap() error { return e.Err }

func (e *MirrorBundleError) Message(name func(Field) string) string {
	n := names(name)(FieldMirror)
	switch {
	case errors.Is(e.Err, ErrBundleIsFolder):
		return fmt.Sprintf("%s %s %v", n, e.Bundle, e.Err)
	case errors.Is(e.Err, ErrNotS3Object):
		return fmt.Sprintf("%s %s: %v", n, e.Bundle, e.Err)
	}
	return fmt.Sprintf("%s: %v", n, e.Err)
}

// MirrorStagingError is a bundle on this machine to be staged in the channel's bucket,
// for a channel that is not in S3.
type MirrorStagingError struct{ Bundle, Channel string }

func (e *MirrorStagingError) Error() string { return e.Message(nil) }

func (e *MirrorStagingError) Message(name func(Field) string) string {
	n := names(name)(FieldMirror)
	return fmt.Sprintf("%s %s is a file on this machine, which is staged in the channel's bucket for the job to stream, and %s is not an S3 channel: put the bundle in S3 and give %s as s3://bucket/key", n, e.Bundle, e.Channel, n)
}

// MirrorOnlyError is an input of mirror jobs (Field) given for another job.
type MirrorOnlyError struct{ Field Field }

func (e *MirrorOnlyError) Error() string { return e.Message(nil) }

func (e *MirrorOnlyError) Message(name func(Field) string) string {
	n := names(name)
	return fmt.Sprintf("%s goes with %s", n(e.Field), n(FieldMirror))
}
