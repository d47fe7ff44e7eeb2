package publish

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/input"
)

// ConflictError is a package that exists in the channel with different content. Packages
// are immutable: the way out is a new build number, or Options.Force to replace it.
type ConflictError struct {
	Key     string // the package's key in the channel
	Channel string // the channel, as the store prints itself
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s already exists in %s with different content (sha256 differs); packages are immutable: bump the build number, or publish with Force to replace it", e.Key, e.Channel)
}

// NotIndexedError is packages that were uploaded but that the index run left out, each
// with the reason. Remedy (index.RemedyReindex) is what makes them installable once the
// cause is fixed.
type NotIndexedError struct {
	Missing []string // "key: reason"
	Channel string   // the channel, as the store prints itself
	Remedy  index.Remedy
}

func (e *NotIndexedError) Error() string {
	return fmt.Sprintf("uploaded but not in the index:\n  %s\nindex %s again once the cause is fixed", strings.Join(e.Missing, "\n  "), e.Channel)
}

// ErrIsFolder is the reason of a PackageFileError whose path is a folder.
var ErrIsFolder = errors.New("is a folder")

// PackageFileError is a package to publish that is not a file on this machine: Err is
// fs.ErrNotExist (wrapped), ErrIsFolder, or why it could not be looked at.
type PackageFileError struct {
	File string
	Err  error
}

func (e *PackageFileError) Error() string {
	switch {
	case errors.Is(e.Err, fs.ErrNotExist):
		return fmt.Sprintf("package file %s does not exist: pass the path of a built .conda or .tar.bz2 package", e.File)
	case errors.Is(e.Err, ErrIsFolder):
		return fmt.Sprintf("package file %s is a folder: pass the .conda or .tar.bz2 files in it", e.File)
	}
	return fmt.Sprintf("package file %s: %v", e.File, e.Err)
}

func (e *PackageFileError) Unwrap() error { return e.Err }

// CheckFiles makes sure every package to publish is a file on this machine, before
// anything is opened or uploaded: the first that is not is a *PackageFileError (and
// input.ErrInvalid).
func CheckFiles(paths []string) error {
	for _, p := range paths {
		st, err := os.Stat(p)
		switch {
		case err != nil:
			return input.Mark(&PackageFileError{File: p, Err: err})
		case st.IsDir():
			return input.Mark(&PackageFileError{File: p, Err: ErrIsFolder})
		}
	}
	return nil
}

// BuiltNotPublishedError is a package that was built, but whose publishing failed: the
// package stays at Path.
type BuiltNotPublishedError struct {
	Path string
	Err  error
}

func (e *BuiltNotPublishedError) Error() string {
	return fmt.Sprintf("built %s, but publishing failed: %v", e.Path, e.Err)
}

func (e *BuiltNotPublishedError) Unwrap() error { return e.Err }

// LocalArchiveError is a local source archive that cannot be found or looked at.
type LocalArchiveError struct {
	Path string
	Err  error // os.Stat's
}

func (e *LocalArchiveError) Error() string { return e.Err.Error() }
func (e *LocalArchiveError) Unwrap() error { return e.Err }

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*LocalArchiveError) Is(target error) bool { return target == input.ErrInvalid }

// ArchiveURIError is a source archive URI that names no object (s3://bucket/key expected).
type ArchiveURIError struct{ URI string }

func (e *ArchiveURIError) Error() string { return e.URI + ": expected s3://bucket/key" }

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*ArchiveURIError) Is(target error) bool { return target == input.ErrInvalid }
