package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	s3store "github.com/condachan/condachan/channel/s3"
	"github.com/condachan/condachan/iampolicy"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/mirror"
	"github.com/condachan/condachan/pkgbuild"
	"github.com/condachan/condachan/publish"
	"github.com/condachan/condachan/recipes"
	"github.com/condachan/condachan/serve"
)

// Every command exits 2 for what the user gave and 1 for a failure of the system, by one
// rule: the libraries mark their input errors (input.ErrInvalid), wherever in an error's
// tree they are and whichever command returns them.
func TestExitCodeOfLibraryErrors(t *testing.T) {
	_, badURL := channel.ParseLocation("ftp://host/channel")
	_, badNumber := publish.ParseBuildNumber("auto", false)
	for _, tc := range []struct {
		err  error
		code int
	}{
		{&publish.PackageNotFoundError{Names: []string{"x-1-0.conda"}}, exitUsage},
		{&publish.AmbiguousPackageError{Name: "x-1-0.conda", Keys: []string{"linux-64/x-1-0.conda", "noarch/x-1-0.conda"}}, exitUsage},
		{&publish.ArchiveURIError{URI: "s3://bucket"}, exitUsage},
		{&publish.LocalArchiveError{Err: fs.ErrNotExist}, exitUsage},
		{&publish.BuildNumberSyntaxError{Value: "next"}, exitUsage},
		{badNumber, exitUsage},
		{publish.CheckFiles([]string{"/no/such/package.conda"}), exitUsage},
		{&publish.BuildNumberError{Value: "2", Err: &pkgbuild.BuildStringConflictError{File: "recipe.yaml", BuildString: "h0"}}, exitUsage},
		{&index.NoSuchSubdirError{Subdir: "win-64", Have: []string{"noarch"}}, exitUsage},
		{&recipes.NotFoundError{Name: "nope"}, exitUsage},
		{&recipes.NotShippedError{Name: "nope"}, exitUsage},
		{&recipes.TargetError{Dir: "out", Err: recipes.ErrNotEmpty}, exitUsage},
		{&pkgbuild.MissingSourceError{Missing: []pkgbuild.MissingSource{{FileName: "a.tar.xz"}}}, exitUsage},
		{&pkgbuild.SourceDateEpochError{Value: "yesterday"}, exitUsage},
		{&pkgbuild.SourceArchiveError{Archive: "x.zip", Unmatched: true, Platform: "win-64", Expected: []string{"y.zip"}}, exitUsage},
		{&mirror.InputError{What: "lock file", Err: fs.ErrNotExist}, exitUsage},
		{&iampolicy.InvalidRequestError{Field: iampolicy.FieldAccess, Value: "admin", Reason: "read or write"}, exitUsage},
		{&serve.KeyPairError{CertFile: "c.pem", KeyFile: "k.pem", Err: fs.ErrNotExist}, exitUsage},
		{&serve.PresignTTLError{TTL: 200 * time.Hour}, exitUsage},
		{&serve.NoPresignerError{Channel: "/srv/channel"}, exitUsage},
		{&channel.NoChannelError{Dir: "/srv/chanel"}, exitUsage},
		{&s3store.NoSuchBucketError{Op: "get", URI: "s3://studio-bukcet/c/noarch/repodata.json", Bucket: "studio-bukcet"}, exitUsage},
		{badURL, exitUsage},
		// What the channel holds or the system does is not the input's fault.
		{&publish.ConflictError{Key: "linux-64/x-1-0.conda", Channel: "s3://b/c"}, exitFailure},
		{&publish.BuildNumberError{Value: "auto", Err: errors.New("reserve: access denied")}, exitFailure},
		{&index.CorruptRepodataError{Key: "noarch/repodata.json", Err: errors.New("unexpected EOF")}, exitFailure},
		{&pkgbuild.SourceArchiveError{Archive: "x.zip", Err: io.ErrUnexpectedEOF}, exitFailure}, // given right, unreadable
		{fs.ErrPermission, exitFailure},
	} {
		for _, err := range []error{tc.err, fmt.Errorf("publish: %w", tc.err), withFlagHints(tc.err)} {
			if got := exitCode(err); got != tc.code {
				t.Errorf("%T %q: exit %d, want %d", tc.err, err, got, tc.code)
			}
		}
	}
}
