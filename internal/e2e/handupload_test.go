//go:build unix

package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/internal/testkit"
)

// Packages copied into the bucket by hand (plain PUT, no condachan metadata), replaced
// under the same name, or deleted: `condachan index` reflects each, and reports
// non-packages and corrupt packages without failing.
func TestIndexHandUploadsOnS3(t *testing.T) {
	f := newFixture(t)
	put := func(key string, data []byte) { t.Helper(); f.srv.PutRaw(t, f.bucket, "Conda/Default/"+key, data) }
	del := func(key string) { t.Helper(); f.srv.DeleteRaw(t, f.bucket, "Conda/Default/"+key) }
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	indexRun := func() (string, map[string]any) {
		t.Helper()
		p := start(t, f.env, "index", "--channel", f.url, "--json", "--progress", "none", "--lease-ttl", "2s")
		if err := p.wait(t, time.Minute); err != nil {
			t.Fatalf("index: %v\n%s", err, p.stderr.String())
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(p.stdout.String()), &out); err != nil {
			t.Fatal(err)
		}
		return p.stderr.String(), out
	}
	a := read(f.pkg(t, "handmade"))
	put("linux-64/handmade-1.0-0.conda", a)
	put("linux-64/README.txt", []byte("not a package"))
	put("linux-64/corrupt-1.0-0.conda", a[:len(a)/3])
	stderr, _ := indexRun()
	recs := f.assertChannel(t)
	if recs["handmade-1.0-0.conda"]["sha256"] != testkit.SHA256(a) {
		t.Errorf("hand-uploaded package hashed wrong: %v", recs["handmade-1.0-0.conda"])
	}
	if !strings.Contains(stderr, "corrupt-1.0-0.conda is not a readable package") || strings.Contains(stderr, "README") {
		t.Errorf("stderr: %s", stderr)
	}
	if _, ok := recs["corrupt-1.0-0.conda"]; ok {
		t.Error("corrupt package indexed")
	}

	// Replace under the same name with different bytes.
	other := testkit.MakeConda(t, t.TempDir(), testkit.PackageSpec{Name: "handmade", Version: "1.0", Build: "0", Extra: map[string]any{"depends": []string{"zlib"}}})
	b := read(other)
	put("linux-64/handmade-1.0-0.conda", b)
	indexRun()
	recs = f.assertChannel(t)
	if recs["handmade-1.0-0.conda"]["sha256"] != testkit.SHA256(b) {
		t.Error("replaced package not re-read")
	}

	// Delete it.
	del("linux-64/handmade-1.0-0.conda")
	indexRun()
	recs = f.assertChannel(t)
	if _, ok := recs["handmade-1.0-0.conda"]; ok {
		t.Error("deleted package still indexed")
	}
}
