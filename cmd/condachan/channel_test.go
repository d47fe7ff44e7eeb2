package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/index"
)

func runWithStdin(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestBuildPublishAutoBuildNumberAndIndex(t *testing.T) {
	ch := filepath.Join(t.TempDir(), "channel")
	out := t.TempDir()
	for want := 0; want < 3; want++ {
		code, stdout, stderr := runCLI(t, "build", "--recipe", "condachan-example", "-o", out, "--channel", ch, "--build-number", "auto", "--json", "--progress", "none")
		if code != 0 {
			t.Fatalf("build --channel: %d\n%s", code, stderr)
		}
		var res struct {
			Index   map[string]any `json:"index"`
			Publish struct {
				Uploads []struct{ Status, Key string } `json:"uploads"`
			} `json:"publish"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatal(err)
		}
		if res.Index["build_number"] != float64(want) || len(res.Publish.Uploads) != 1 || res.Publish.Uploads[0].Status != "uploaded" {
			t.Errorf("round %d: %+v", want, res)
		}
	}
	store, _ := channel.NewLocal(ch)
	problems, err := index.Check(context.Background(), store, true)
	if err != nil || len(problems) > 0 {
		t.Fatalf("%v %v", problems, err)
	}
	// index on an up-to-date channel: nothing added or removed.
	code, stdout, stderr := runCLI(t, "index", "--channel", ch, "--progress", "none")
	if code != 0 || !strings.Contains(stdout, "noarch: 3 packages (0 added, 0 replaced, 0 removed, 0 unreadable)") {
		t.Errorf("index: %d %s %s", code, stdout, stderr)
	}
	// A corrupt repodata.json is not replaced without --full.
	os.WriteFile(filepath.Join(ch, "noarch", "repodata.json"), []byte("{broken"), 0o644)
	code, _, stderr = runCLI(t, "index", "--channel", ch, "--progress", "none")
	if code != exitFailure || !strings.Contains(stderr, "--full") {
		t.Errorf("corrupt repodata: %d %s", code, stderr)
	}
	if code, _, stderr = runCLI(t, "index", "--channel", ch, "--full", "--progress", "none"); code != 0 {
		t.Errorf("--full: %d %s", code, stderr)
	}
	// --build-number auto needs a channel.
	if code, _, stderr = runCLI(t, "build", "--recipe", "condachan-example", "-o", out, "--build-number", "auto"); code != exitUsage {
		t.Errorf("auto without --channel: %d %s", code, stderr)
	}
}

func TestLockStatusAndBreak(t *testing.T) {
	ctx := context.Background()
	ch := t.TempDir()
	code, stdout, _ := runCLI(t, "lock", "status", "--channel", ch)
	if code != 0 || !strings.Contains(stdout, "nobody holds") {
		t.Errorf("free: %d %s", code, stdout)
	}
	store, _ := channel.NewLocal(ch)
	lease, err := channel.Acquire(ctx, store, channel.LeaseOptions{TTL: time.Hour, Owner: channel.Owner{Host: "render-07", PID: 4242, JobID: "job-123", SessionID: "session-9"}})
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release(ctx)
	code, stdout, _ = runCLI(t, "lock", "status", "--channel", ch)
	for _, want := range []string{"held by render-07 pid 4242", "Deadline job job-123", "generation 1", "TTL 1h0m0s"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("status lacks %q: %s", want, stdout)
		}
	}
	// Not confirmed: nothing happens.
	code, stdout, stderr := runWithStdin(t, "n\n", "lock", "break", "--channel", ch)
	if code != exitUsage || !strings.Contains(stderr, "not confirmed") {
		t.Errorf("unconfirmed break: %d %s %s", code, stdout, stderr)
	}
	if err := lease.Check(ctx); err != nil {
		t.Fatalf("lease gone without confirmation: %v", err)
	}
	code, stdout, _ = runWithStdin(t, "y\n", "lock", "break", "--channel", ch)
	if code != 0 || !strings.Contains(stdout, "lease broken") {
		t.Errorf("break: %d %s", code, stdout)
	}
	if err := lease.Check(ctx); err == nil {
		t.Error("lease still valid after break")
	}
	code, stdout, _ = runCLI(t, "lock", "status", "--channel", ch, "--json")
	if code != 0 || !strings.Contains(stdout, `"held": false`) {
		t.Errorf("after break: %s", stdout)
	}
}
