// Package input tells the errors caused by what a caller gave (a flag value, a file
// named, a recipe, a lock) from failures of the system (a network error, a full disk, a
// denied request). Library calls mark the first kind; a front end asks errors.Is(err,
// input.ErrInvalid) to tell its user to fix the input, the way the CLI exits 2 for it,
// without keeping a list of every library's error types.
package input

import "errors"

// ErrInvalid is matched (errors.Is) by every error marked as caused by what was given.
// Its own text never shows: a marked error keeps its message.
var ErrInvalid = errors.New("invalid input")

// Mark returns err marked as caused by what was given, keeping its message and, for
// errors.As, its type and everything it wraps. Mark(nil) is nil.
func Mark(err error) error {
	if err == nil || errors.Is(err, ErrInvalid) {
		return err
	}
	return &marked{err}
}

// marked is an error marked by Mark.
type marked struct{ err error }

func (e *marked) Error() string   { return e.err.Error() }
func (e *marked) Unwrap() []error { return []error{e.err, ErrInvalid} }
