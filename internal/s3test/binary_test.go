package s3test

import (
	"github.com/condachan/condachan/internal/testkit"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestFindBinaryInToolsDir(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, exeName())
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONDACHAN_TOOLS_DIR", dir)
	path, toolsDir, err := find()
	if err != nil || path != fake || toolsDir != dir {
		t.Fatalf("find() = %s, %s, %v; want %s from CONDACHAN_TOOLS_DIR", path, toolsDir, err, fake)
	}
	if note := versionNote(path); !strings.Contains(note, "cannot tell which versitygw") {
		t.Errorf("no warning about a binary of unknown version: %q", note)
	}
	if runtime.GOOS != "windows" {
		os.Chmod(fake, 0o644) // not executable: not a candidate
		path, toolsDir, err := find()
		if err != nil || path == fake || toolsDir != dir {
			t.Errorf("find() = %s, %s, %v; want another binary, or none and %s to install into", path, toolsDir, err, dir)
		}
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "s3test", "server.go")); err != nil {
		t.Fatalf("repoRoot() = %s, which does not hold this package: %v", root, err)
	}
}

func TestAuthorizationParsing(t *testing.T) {
	auth := "AWS4-HMAC-SHA256 Credential=AKID/20250102/eu-west-1/s3/aws4_request, SignedHeaders=host;if-match;x-amz-date, Signature=abc"
	region, service, err := credentialScope(auth)
	if err != nil || region != "eu-west-1" || service != "s3" {
		t.Errorf("credentialScope = %q %q %v", region, service, err)
	}
	sh := signedHeaders(auth)
	if !sh["if-match"] || !sh["host"] || sh["if-none-match"] || len(sh) != 3 {
		t.Errorf("signedHeaders = %v", sh)
	}
	if _, _, err := credentialScope("Bearer x"); err == nil {
		t.Error("credentialScope accepted a non-SigV4 header")
	}
}

func TestLaunchReportsEarlyExit(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses a shell script as the fake server") // the real server is covered everywhere
	}
	fake := filepath.Join(t.TempDir(), "versitygw")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"fake versitygw: cannot bind $*\" >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	inst, err := launch(fake)
	if err == nil {
		inst.stop()
		t.Fatal("launch of a server that exits at once succeeded")
	}
	for _, want := range []string{"exited", "fake versitygw: cannot bind --access", "posix"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("launch error lacks %q: %v", want, err)
		}
	}
}
