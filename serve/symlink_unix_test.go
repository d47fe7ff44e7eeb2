//go:build unix

package serve

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/condachan/condachan/channel"
)

// A local channel's symbolic links are served only while they stay inside the channel
// folder: one that leads out answers 404 and is logged, never the file it points to.
func TestSymlinkOutOfLocalChannelIsNotServed(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(outside, []byte("TOP SECRET"), 0o644)
	dir := t.TempDir()
	st, err := channel.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, sd := range []string{"noarch", "linux-riscv64", "pool"} {
		os.MkdirAll(filepath.Join(dir, sd), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "pool", "ok-1-0.conda"), []byte("inside"), 0o644)
	os.Symlink(outside, filepath.Join(dir, "noarch", "evil-1-0.conda"))
	os.Symlink("../pool/ok-1-0.conda", filepath.Join(dir, "linux-riscv64", "ok-1-0.conda"))
	srv := startServer(t, st, Options{})
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/noarch/evil-1-0.conda"); code != http.StatusNotFound || strings.Contains(body, "SECRET") {
		t.Errorf("escaping link: %d %q", code, body)
	}
	if code, body := get("/linux-riscv64/ok-1-0.conda"); code != http.StatusOK || body != "inside" {
		t.Errorf("link inside the channel, in linux-riscv64: %d %q", code, body)
	}
	if !strings.Contains(srv.log.String(), "leads out of the channel folder") {
		t.Errorf("the escaping link is not logged:\n%s", srv.log.String())
	}
}
