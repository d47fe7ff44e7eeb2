//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/condachan/condachan/internal/testkit"
)

// Packages copied into the bucket by hand (plain PUT, no condachan metadata), replaced
// under the same name, or deleted: `condachan index` reflects each, and reports
// non-packages and corrupt packages without failing.
func TestIndexHandUploadsOnS3(t *testing.T) {
	f := newFixture(t)
	client := f.srv.Client()
	put := func(key string, data []byte) {
		t.Helper()
		_, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(f.bucket), Key: aws.String("Conda/Default/" + key), Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
	}
	del := func(key string) {
		t.Helper()
		if _, err := client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(f.bucket), Key: aws.String("Conda/Default/" + key)}); err != nil {
			t.Fatal(err)
		}
	}
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
