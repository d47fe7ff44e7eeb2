package publish

import (
	"context"
	"io/fs"
	"os"
	"strings"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/pkgbuild"
)

// SourceArchives sorts the source archives of a build into local files, each checked to
// exist (else a *LocalArchiveError), and objects named s3://bucket/key (else an
// *ArchiveURIError), opened for reading with opts: the bucket is opened as a channel at
// its root, so that the key is the object's name.
func SourceArchives(ctx context.Context, archives []string, opts channel.Options) (local []string, remote []pkgbuild.RemoteArchive, err error) {
	for _, a := range archives {
		if strings.HasPrefix(strings.ToLower(a), "s3://") {
			loc, err := channel.ParseLocation(a)
			if err != nil || loc.Prefix == "" {
				return nil, nil, &ArchiveURIError{URI: a}
			}
			bucket, err := channel.OpenExisting(ctx, "s3://"+loc.Bucket, opts)
			if err != nil {
				return nil, nil, err
			}
			remote = append(remote, pkgbuild.RemoteArchive{FS: channel.FS(ctx, bucket), Name: loc.Prefix, Display: a})
			continue
		}
		if _, err := os.Stat(a); err != nil {
			return nil, nil, &LocalArchiveError{Path: a, Err: err}
		}
		local = append(local, a)
	}
	return local, remote, nil
}

// StagedSources is the channel's staging area of upstream archives
// (channel.StagedSourcesPrefix), where a build finds them by the sha256 its recipe
// gives. url names the channel in messages.
func StagedSources(ctx context.Context, store channel.Store, url string) (*pkgbuild.StagedSources, error) {
	stagedFS, err := fs.Sub(channel.FS(ctx, store), strings.TrimSuffix(channel.StagedSourcesPrefix, "/"))
	if err != nil {
		return nil, err
	}
	return &pkgbuild.StagedSources{FS: stagedFS, Display: strings.TrimSuffix(url, "/") + "/" + channel.StagedSourcesPrefix}, nil
}

// Built publishes a package just built at path; a failure is a *BuiltNotPublishedError,
// the package staying where it is.
func Built(ctx context.Context, store channel.Store, path string, opts Options) (*Result, error) {
	res, err := Publish(ctx, store, []string{path}, opts)
	if err != nil {
		return nil, &BuiltNotPublishedError{Path: path, Err: err}
	}
	return res, nil
}
