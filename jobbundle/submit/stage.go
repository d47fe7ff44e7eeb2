package submit

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/jobbundle"
	"github.com/condachan/condachan/jobbundle/plan"
)

// Store is a channel archives can be staged in: one whose objects a job can fetch by
// URI (an S3 channel).
type Store interface {
	channel.Store
	channel.ObjectLocator
}

// Stager stages archives in channels' staging areas
// (<channel>/.condachan/sources/<sha256>/<file>), and mirror bundles beside them
// (<channel>/.condachan/mirror/<sha256>/<file>), opening each channel once.
type Stager struct {
	// Options open the channels.
	Options channel.Options
	// Log, if set, is told what is staged and what was staged already.
	Log    io.Writer
	stores map[string]Store
}

// StagedSource is an archive in a channel's staging area.
type StagedSource struct {
	URI    string `json:"uri"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Uploaded is false when the archive was already staged.
	Uploaded bool `json:"uploaded"`
}

// Open opens the channel channelURL to stage archives in: an S3 channel, or a
// NotS3Error.
func (s *Stager) Open(ctx context.Context, channelURL string) (Store, error) {
	if st, ok := s.stores[channelURL]; ok {
		return st, nil
	}
	loc, err := channel.ParseLocation(channelURL)
	if err != nil {
		return nil, plan.AsInput(err)
	}
	notS3 := plan.AsInput(&NotS3Error{Channel: channelURL})
	if !loc.IsS3() {
		return nil, notS3
	}
	store, err := channel.OpenExisting(ctx, channelURL, s.Options)
	if err != nil {
		return nil, err
	}
	st, ok := store.(Store)
	if !ok {
		return nil, notS3
	}
	if s.stores == nil {
		s.stores = map[string]Store{}
	}
	s.stores[channelURL] = st
	return st, nil
}

// IsStaged tells whether the channel's staging area holds the archive: a
// plan.StagedCheck.
func (s *Stager) IsStaged(ctx context.Context, channelURL, sha256, name string) (bool, error) {
	st, err := s.Open(ctx, channelURL)
	if err != nil {
		return false, err
	}
	_, err = st.Stat(ctx, channel.StagedSourceKey(sha256, name))
	if errors.Is(err, channel.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking for %s staged in %s: %w", name, channelURL, err)
	}
	return true, nil
}

// StageJobs uploads every build job's local archives, and every mirror job's local
// bundle, to its channel's staging area and points the job at them. It returns what was
// staged for each job.
func (s *Stager) StageJobs(ctx context.Context, jobs []*plan.Job) ([][]*StagedSource, error) {
	staged := make([][]*StagedSource, len(jobs))
	for i, j := range jobs {
		if j.Kind == jobbundle.Mirror {
			src, err := s.StageMirror(ctx, j)
			if err != nil {
				return nil, err
			}
			if src != nil {
				staged[i] = []*StagedSource{src}
			}
			continue
		}
		if j.Kind != jobbundle.Build {
			return nil, plan.AsInput(&NotBuildError{Kind: j.Kind})
		}
		if len(j.Sources.Local) == 0 && len(j.Sources.Staged) == 0 {
			return nil, plan.AsInput(&NothingToStageError{Recipe: j.Recipe.Package.Name})
		}
		store, err := s.Open(ctx, j.Values[jobbundle.ParamCondaChannel])
		if err != nil {
			return nil, err
		}
		var uris []string
		for _, a := range j.Sources.Local {
			src, err := s.Stage(ctx, store, a)
			if err != nil {
				return nil, err
			}
			uris = append(uris, src.URI)
			staged[i] = append(staged[i], src)
		}
		j.Sources.StagedValues(j.Values, uris)
	}
	return staged, nil
}

// StageMirror uploads a mirror job's local bundle (planned with plan.Options.Stage) to
// its channel's staging area and hands the job its URI instead of the file. A bundle in
// S3 already is left as it is (nil).
func (s *Stager) StageMirror(ctx context.Context, j *plan.Job) (*StagedSource, error) {
	if j.Bundle == nil {
		return nil, nil
	}
	store, err := s.Open(ctx, j.Values[jobbundle.ParamCondaChannel])
	if err != nil {
		return nil, err
	}
	src, err := s.stageAt(ctx, store, channel.StagedMirrorKey(j.Bundle.SHA256, j.Bundle.Name), *j.Bundle)
	if err != nil {
		return nil, err
	}
	delete(j.Values, jobbundle.ParamMirrorBundle)
	j.Values[jobbundle.ParamMirrorBundleURI] = src.URI
	return src, nil
}

// Stage uploads a hashed local archive to the staging area, create-if-absent, unless an
// object of the same size is already there.
func (s *Stager) Stage(ctx context.Context, store Store, a plan.LocalArchive) (*StagedSource, error) {
	return s.stageAt(ctx, store, channel.StagedSourceKey(a.SHA256, a.Name), a)
}

// stageAt uploads a hashed local file to key, create-if-absent, unless an object of the
// same size is already there: the key names the sha256, so that object holds the file.
func (s *Stager) stageAt(ctx context.Context, store Store, key string, a plan.LocalArchive) (*StagedSource, error) {
	res := &StagedSource{URI: store.ObjectURI(key), SHA256: a.SHA256, Size: a.Size}
	existing := func() (bool, error) {
		obj, err := store.Stat(ctx, key)
		if errors.Is(err, channel.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if obj.Size != a.Size {
			return false, &SizeError{URI: res.URI, Size: obj.Size, Want: a.Size, Path: a.Path}
		}
		return true, nil
	}
	there, err := existing()
	if err != nil {
		return nil, err
	}
	if there {
		s.logf("already staged: %s\n", res.URI)
		return res, nil
	}
	s.logf("staging %s to %s\n", a.Name, res.URI)
	_, err = store.PutFile(ctx, key, a.Path, channel.PutOptions{
		IfAbsent:    true,
		ContentType: "application/octet-stream",
		Metadata:    map[string]string{"sha256": a.SHA256},
	})
	if errors.Is(err, channel.ErrPreconditionFailed) {
		// Another submitter staged it meanwhile.
		if there, err = existing(); err != nil {
			return nil, err
		} else if there {
			s.logf("already staged: %s\n", res.URI)
			return res, nil
		}
		return nil, fmt.Errorf("staging %s: %w", res.URI, channel.ErrPreconditionFailed)
	}
	if err != nil {
		return nil, fmt.Errorf("staging %s: %w", res.URI, err)
	}
	res.Uploaded = true
	return res, nil
}

func (s *Stager) logf(format string, args ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, format, args...)
	}
}

// NotS3Error is a channel archives cannot be staged in: not an S3 channel.
type NotS3Error struct{ Channel string }

func (e *NotS3Error) Error() string { return e.Message(nil) }

func (e *NotS3Error) Message(name func(plan.Field) string) string {
	return fmt.Sprintf("%s needs an S3 channel: the job streams the archives from S3", fieldName(name, plan.FieldStageSources))
}

// NotBuildError is staging asked for a job that is not a build job.
type NotBuildError struct{ Kind jobbundle.Kind }

func (e *NotBuildError) Error() string { return e.Message(nil) }

func (e *NotBuildError) Message(name func(plan.Field) string) string {
	return fmt.Sprintf("%s goes with build jobs", fieldName(name, plan.FieldStageSources))
}

// NothingToStageError is staging asked for a build job that needs no archive from this
// machine.
type NothingToStageError struct{ Recipe string }

func (e *NothingToStageError) Error() string { return e.Message(nil) }

func (e *NothingToStageError) Message(name func(plan.Field) string) string {
	return fmt.Sprintf("%s: nothing to stage: recipe %s needs no archive from this machine (it needs a local %s, or sources found by name)", fieldName(name, plan.FieldStageSources), e.Recipe, fieldName(name, plan.FieldSourceArchive))
}

// SizeError is a staged object of the archive's key that is not the archive's size.
type SizeError struct {
	URI        string
	Size, Want int64
	Path       string
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("%s already holds %d bytes, not the %d of %s: remove it and stage again", e.URI, e.Size, e.Want, e.Path)
}

func fieldName(name func(plan.Field) string, f plan.Field) string {
	if name == nil {
		return f.String()
	}
	return name(f)
}
