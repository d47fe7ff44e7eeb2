package channel

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// deferredSync: Linux flushes a whole file system with one syncfs, so Local writes with
// PutOptions.Deferred skip their own fsync and Flush makes them durable together.
const deferredSync = true

// Flush makes every deferred write durable: one syncfs of the channel folder's file
// system instead of an fsync per file.
func (l *Local) Flush(ctx context.Context) error {
	d, err := os.Open(l.root)
	if err != nil {
		return fmt.Errorf("flush %s: %w", l.root, err)
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("flush %s: %w", l.root, err)
	}
	return nil
}
