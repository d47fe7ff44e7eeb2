package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/input"
)

// The checks a front end runs before it listens, so that what cannot work is found
// before the server announces itself.

// MaxPresignTTL is the longest validity of an S3 (SigV4) presigned URL.
const MaxPresignTTL = 7 * 24 * time.Hour

// PresignTTLError is a presigned URL validity (Options.PresignTTL) S3 would not honour.
type PresignTTLError struct{ TTL time.Duration }

func (e *PresignTTLError) Error() string { return e.Message("presigned URL validity") }

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*PresignTTLError) Is(target error) bool { return target == input.ErrInvalid }

// Message is Error with the validity called what.
func (e *PresignTTLError) Message(what string) string {
	return fmt.Sprintf("%s %s: must be more than 0 and at most 168h (7 days, the longest an S3 presigned URL is valid)", what, e.TTL)
}

// CheckPresignTTL checks a validity for presigned URLs: more than 0, at most
// MaxPresignTTL.
func CheckPresignTTL(ttl time.Duration) error {
	if ttl <= 0 || ttl > MaxPresignTTL {
		return &PresignTTLError{TTL: ttl}
	}
	return nil
}

// KeyPairError is a TLS certificate and key the server cannot use: Unreadable is the
// file that cannot be read (the certificate's first), or "" for two files that are not a
// PEM certificate and its key.
type KeyPairError struct {
	CertFile, KeyFile string
	Unreadable        string
	Err               error
}

func (e *KeyPairError) Error() string { return e.Message("TLS certificate", "TLS key") }
func (e *KeyPairError) Unwrap() error { return e.Err }

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*KeyPairError) Is(target error) bool { return target == input.ErrInvalid }

// Message is Error with the certificate and the key called cert and key.
func (e *KeyPairError) Message(cert, key string) string {
	switch {
	case e.Unreadable == "":
		return fmt.Sprintf("%s %s and %s %s are not a usable certificate and key: %v (both must be PEM, the key the certificate's)", cert, e.CertFile, key, e.KeyFile, e.Err)
	case e.Unreadable == e.CertFile:
		return fmt.Sprintf("%s: %v", cert, e.Err)
	}
	return fmt.Sprintf("%s: %v", key, e.Err)
}

// CheckKeyPair loads the TLS certificate and key as tls.LoadX509KeyPair does (and the
// server will); a failure is a *KeyPairError.
func CheckKeyPair(certFile, keyFile string) error {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return &KeyPairError{CertFile: certFile, KeyFile: keyFile, Unreadable: certFile, Err: err}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return &KeyPairError{CertFile: certFile, KeyFile: keyFile, Unreadable: keyFile, Err: err}
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return &KeyPairError{CertFile: certFile, KeyFile: keyFile, Err: err}
	}
	return nil
}

// NoPresignerError is redirects (Options.Redirect) asked for a channel that cannot
// presign URLs (not an S3 channel).
type NoPresignerError struct{ Channel string }

func (e *NoPresignerError) Error() string {
	return fmt.Sprintf("redirects to presigned URLs need a channel that can presign them (an S3 channel); %s cannot", e.Channel)
}

// Is makes the error match input.ErrInvalid: what was given is at fault.
func (*NoPresignerError) Is(target error) bool { return target == input.ErrInvalid }

// CheckRedirect tells whether package downloads from store can be redirected to
// presigned URLs: a *NoPresignerError if not.
func CheckRedirect(store channel.Store) error {
	if _, ok := store.(channel.Presigner); !ok {
		return &NoPresignerError{Channel: store.String()}
	}
	return nil
}

// ErrNoRepodata is a channel without noarch/repodata.json, which conda clients need: one
// not indexed yet.
var ErrNoRepodata = errors.New("no noarch/repodata.json, which conda clients need")

// CheckChannel tells, within 10 seconds, whether the channel is indexed (ErrNoRepodata
// if not) and readable (the store's error if not). A server may start anyway: the
// channel may be indexed later, or the store be back soon; but not on a channel that
// does not exist (a bucket that does not exist: an error matching input.ErrInvalid).
func CheckChannel(ctx context.Context, store channel.Store) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := store.Stat(ctx, "noarch/repodata.json")
	if !errors.Is(err, channel.ErrNotFound) {
		return err
	}
	// A HEAD answer has no body to tell a missing bucket from a missing key; a listing's
	// error does (the store's error of a channel that does not exist).
	errFound := errors.New("found")
	err = store.List(ctx, "noarch/", func(channel.Object) error { return errFound })
	if err != nil && !errors.Is(err, errFound) {
		return err
	}
	return fmt.Errorf("%s has %w", store, ErrNoRepodata)
}
