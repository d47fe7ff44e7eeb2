//go:build !unix

package archive

import "errors"

func mkfifo(path string) error { return errors.ErrUnsupported }
