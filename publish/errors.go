package publish

import (
	"fmt"
	"strings"

	"github.com/condachan/condachan/index"
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
