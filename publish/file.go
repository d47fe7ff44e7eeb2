package publish

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"io"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
)

// File is a package file on this machine whose subdir and hashes the caller already
// knows (a mirror verified them against a lock), so UploadFile does not read it first.
type File struct {
	Path   string
	Name   string // file name in the channel
	Subdir string
	Size   int64
	SHA256 string
	MD5    string
	// Info is the package's info as ReadLocalPackage read it, if the caller did: the
	// index run then takes it from Known instead of reading the package again.
	Info *index.PackageInfo
}

// UploadFile puts one package create-if-absent, as Publish does for each of its
// packages: the same bytes already there is "unchanged", different bytes a
// *ConflictError unless force is set. It does not index.
func UploadFile(ctx context.Context, store channel.Store, f File, force bool) (Upload, error) {
	return upload(ctx, store, localPackage{path: f.Path, name: f.Name, subdir: f.Subdir, size: f.Size, sha256: f.SHA256, md5: f.MD5, info: f.Info}, force)
}

// UnderLease runs fn holding the channel lease (logging waits and take-overs as Publish
// does) and releases it after.
func UnderLease(ctx context.Context, store channel.Store, opts Options, fn func(*channel.Lease) error) error {
	return underLease(ctx, store, opts, fn)
}

// StoredHashes are a stored package's sha256 and md5: the ones condachan stored with it,
// or, for a package something else uploaded, its bytes hashed.
func StoredHashes(ctx context.Context, store channel.Store, obj channel.Object) (sha, md string, err error) {
	if sha := obj.Metadata[index.MetaSHA256]; sha != "" {
		return sha, obj.Metadata[index.MetaMD5], nil
	}
	rc, _, err := store.Get(ctx, obj.Key)
	if err != nil {
		return "", "", err
	}
	defer rc.Close()
	hs, hm := sha256.New(), md5.New()
	if _, err := io.Copy(io.MultiWriter(hs, hm), rc); err != nil {
		return "", "", err
	}
	return hex.EncodeToString(hs.Sum(nil)), hex.EncodeToString(hm.Sum(nil)), nil
}
