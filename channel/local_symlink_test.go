//go:build unix

package channel

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Reads follow symbolic links inside the channel folder and refuse those that lead out
// of it: a server of the channel must not hand out other files of its machine.
func TestLocalRefusesSymlinksOutOfTheChannel(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.txt")
	os.WriteFile(secret, []byte("TOP SECRET"), 0o644)
	dir := t.TempDir()
	s, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "noarch"), 0o755)
	os.MkdirAll(filepath.Join(dir, "pool"), 0o755)
	os.WriteFile(filepath.Join(dir, "pool", "ok-1-0.conda"), []byte("inside"), 0o644)
	links := map[string]string{
		"noarch/evil-1-0.conda":     secret,
		"noarch/evil-2-0.conda":     "../../" + filepath.Base(outside) + "/secret.txt",
		"noarch/ok-1-0.conda":       "../pool/ok-1-0.conda",
		"noarch/absolute-1-0.conda": filepath.Join(dir, "pool", "ok-1-0.conda"),
	}
	for key, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(key))); err != nil {
			t.Fatal(err)
		}
	}
	// A whole subdir linked out of the channel.
	if err := os.Symlink(outside, filepath.Join(dir, "linux-64")); err != nil {
		t.Fatal(err)
	}

	// Absolute links are refused even when they lead inside: os.Root cannot follow
	// them without a race.
	for _, key := range []string{"noarch/evil-1-0.conda", "noarch/evil-2-0.conda", "linux-64/secret.txt", "noarch/absolute-1-0.conda"} {
		if _, err := s.Stat(ctx, key); !errors.Is(err, ErrOutsideChannel) {
			t.Errorf("Stat %s: %v, want ErrOutsideChannel", key, err)
		}
		if _, _, err := s.Get(ctx, key); !errors.Is(err, ErrOutsideChannel) {
			t.Errorf("Get %s: %v, want ErrOutsideChannel", key, err)
		}
		if _, err := s.ReadRange(ctx, key, 0, 3); !errors.Is(err, ErrOutsideChannel) {
			t.Errorf("ReadRange %s: %v, want ErrOutsideChannel", key, err)
		}
		if _, _, err := s.GetRange(ctx, key, 0, 3); !errors.Is(err, ErrOutsideChannel) {
			t.Errorf("GetRange %s: %v, want ErrOutsideChannel", key, err)
		}
	}
	// A relative link inside the channel reads as before.
	for _, key := range []string{"noarch/ok-1-0.conda"} {
		rc, _, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get %s: %v", key, err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if string(data) != "inside" {
			t.Errorf("%s: %q", key, data)
		}
	}
	// The escaping package links are listed, so that an index run reports them.
	listed := map[string]bool{}
	if err := s.List(ctx, "noarch/", func(o Object) error { listed[o.Key] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	for key := range links {
		if !listed[key] {
			t.Errorf("%s not listed", key)
		}
	}
}
