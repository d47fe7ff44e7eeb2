package channel_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel"
)

// OpenExisting refuses a local folder that is not there, and creates nothing; Open
// creates it (a first publish).
func TestOpenExistingRefusesMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "chanel-typo")
	_, err := channel.OpenExisting(context.Background(), dir, channel.Options{})
	var nc *channel.NoChannelError
	if !errors.As(err, &nc) || nc.Dir != dir || !strings.Contains(err.Error(), "no channel at "+dir) || !strings.Contains(err.Error(), "publish a package") {
		t.Errorf("OpenExisting(%s) = %v, want a NoChannelError naming the folder", dir, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("OpenExisting created %s (%v)", dir, err)
	}

	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if _, err := channel.OpenExisting(context.Background(), file, channel.Options{}); !errors.As(err, &nc) || !nc.NotFolder || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("OpenExisting(a file) = %v", err)
	}

	st, err := channel.OpenExisting(context.Background(), "file://"+filepath.ToSlash(t.TempDir()), channel.Options{})
	if err != nil || st == nil {
		t.Errorf("OpenExisting(an existing folder) = %v", err)
	}
	if _, err := channel.Open(context.Background(), dir, channel.Options{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("Open did not create the channel folder (%v)", err)
	}
}

// A channel folder Open made is removed by Abandon while nothing but empty folders is in
// it; one that holds a file, or that was there before, stays.
func TestAbandonRemovesOnlyAnEmptyNewChannel(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		existed bool
		fill    func(dir string)
		removed bool
	}{
		{"new and empty", false, func(string) {}, true},
		{"new with empty folders", false, func(dir string) { os.MkdirAll(filepath.Join(dir, "noarch", "shards"), 0o755) }, true},
		{"new with the store lock", false, func(dir string) {
			os.MkdirAll(filepath.Join(dir, ".condachan"), 0o755)
			os.WriteFile(filepath.Join(dir, ".condachan", "store.lock"), nil, 0o644)
		}, false},
		{"there before", true, func(string) {}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "channel")
			if tc.existed {
				os.Mkdir(dir, 0o755)
			}
			store, err := channel.Open(ctx, dir, channel.Options{})
			if err != nil {
				t.Fatal(err)
			}
			tc.fill(dir)
			channel.Abandon(store)
			if _, err := os.Stat(dir); os.IsNotExist(err) != tc.removed {
				t.Errorf("removed: %v, want %v", os.IsNotExist(err), tc.removed)
			}
			if !tc.removed && !tc.existed {
				if _, err := os.Stat(filepath.Join(dir, ".condachan", "store.lock")); err != nil {
					t.Errorf("the file in it: %v", err)
				}
			}
		})
	}
}
