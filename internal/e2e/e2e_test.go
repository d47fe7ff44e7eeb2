//go:build unix

// Package e2e runs the condachan binary as separate processes against a real S3 server
// (versitygw) to prove what no in-process test can: concurrent publishers, publishers
// killed at any point, paused lease holders, and lost responses never lose a package or
// corrupt the index.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
	s3store "github.com/condachan/condachan/channel/s3"
	"github.com/condachan/condachan/index"
	"github.com/condachan/condachan/internal/s3test"
	"github.com/condachan/condachan/internal/testkit"
)

var condachanBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "condachan-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	condachanBin = filepath.Join(dir, "condachan")
	out, err := exec.Command("go", "build", "-o", condachanBin, "../../cmd/condachan").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build condachan: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one condachan process.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *testkit.SyncBuffer
	done           chan struct{}
	err            error
}

func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(condachanBin, args...), stdout: &testkit.SyncBuffer{}, stderr: &testkit.SyncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("condachan %s did not finish within %s\nstderr: %s", strings.Join(p.cmd.Args[1:], " "), timeout, p.stderr.String())
		return nil
	}
}

// waitFor waits until the process printed s on stderr. It reports false when the
// process finished successfully without printing it.
func (p *proc) waitFor(t *testing.T, s string, timeout time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(p.stderr.String(), s) {
			return true
		}
		select {
		case <-p.done:
			if strings.Contains(p.stderr.String(), s) {
				return true
			}
			if p.err == nil {
				return false
			}
			t.Fatalf("process exited (%v) before printing %q\nstderr: %s", p.err, s, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("process did not print %q within %s\nstderr: %s", s, timeout, p.stderr.String())
	return false
}

type fixture struct {
	srv    *s3test.Server
	bucket string
	url    string
	store  *s3store.Store
	pkgDir string
	env    []string
}

func newFixture(t *testing.T) *fixture {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	return &fixture{
		srv: srv, bucket: bucket, url: "s3://" + bucket + "/Conda/Default",
		store: srv.Store(t, bucket, "Conda/Default"), pkgDir: t.TempDir(), env: srv.Env(),
	}
}

func (f *fixture) pkg(t *testing.T, name string) string {
	return testkit.MakeConda(t, f.pkgDir, testkit.PackageSpec{Name: name, Version: "1.0", Build: "0"})
}

// leaseFlags keep the lease short so that crash recovery fits in a test.
var leaseFlags = []string{"--lease-ttl", "2s", "--lease-poll", "100ms", "--progress", "none"}

func (f *fixture) publishArgs(pkgs ...string) []string {
	return append(append([]string{"publish", "--channel", f.url, "--json"}, leaseFlags...), pkgs...)
}

// assertChannel checks the invariants every completed index run must leave behind.
func (f *fixture) assertChannel(t *testing.T) map[string]index.Record {
	t.Helper()
	ctx := context.Background()
	problems, err := index.Check(ctx, f.store, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("channel invariants broken:\n%s", strings.Join(problems, "\n"))
	}
	data, _, err := channel.ReadAll(ctx, f.store, "linux-64/repodata.json")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := index.ParseRepodata(data)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func (f *fixture) assertLeaseFree(t *testing.T) {
	t.Helper()
	if _, err := f.store.Stat(context.Background(), channel.LockKey); err == nil {
		rec, _, _ := channel.ReadLease(context.Background(), f.store)
		t.Errorf("lease still held: %+v", rec)
	}
}

type publishOutput struct {
	GroupCommit bool            `json:"group_commit"`
	Index       json.RawMessage `json:"index"`
}

func TestConcurrentPublishersGroupCommit(t *testing.T) {
	f := newFixture(t)
	const n = 16
	var procs []*proc
	for i := 0; i < n; i++ {
		procs = append(procs, start(t, f.env, f.publishArgs(f.pkg(t, fmt.Sprintf("pkg%02d", i)))...))
	}
	runs := 0
	for i, p := range procs {
		if err := p.wait(t, 2*time.Minute); err != nil {
			t.Fatalf("publisher %d: %v\n%s", i, err, p.stderr.String())
		}
		var out publishOutput
		if err := json.Unmarshal([]byte(p.stdout.String()), &out); err != nil {
			t.Fatalf("publisher %d output: %v\n%s", i, err, p.stdout.String())
		}
		if !out.GroupCommit {
			runs++
		}
	}
	recs := f.assertChannel(t)
	for i := 0; i < n; i++ {
		if _, ok := recs[fmt.Sprintf("pkg%02d-1.0-0.conda", i)]; !ok {
			t.Errorf("pkg%02d missing from repodata", i)
		}
	}
	f.assertLeaseFree(t)
	t.Logf("%d publishers, %d index runs (the rest were covered by group commit)", n, runs)
	if runs >= n {
		t.Errorf("%d index runs for %d publishers: no group commit", runs, n)
	}
}

// Publishers are killed (SIGKILL) at each point where a crash could hurt: after the
// upload, while holding the lease, and between two repodata writes; others publish at
// the same time. After each kill the next publish finishes within the lease TTL plus
// grace, and the channel is whole: nothing lost, nothing pointing at nothing.
func TestKilledPublishersLoseNothing(t *testing.T) {
	f := newFixture(t)
	points := []string{"publish:uploaded", "publish:leased", "index:between-writes", "index:before-write"}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	kills := 0
	for round := 0; round < 20; round++ {
		point := points[round%len(points)]
		t.Logf("round %d: kill at %s", round, point)
		victim := f.pkg(t, fmt.Sprintf("victim%02d", round))
		vp := start(t, append(append([]string{}, f.env...), "CONDACHAN_FAULTPOINT="+point), f.publishArgs(victim)...)
		// In half the rounds another publisher runs at the same time as the victim.
		var concurrent *proc
		if rng.Intn(2) == 0 {
			concurrent = start(t, f.env, f.publishArgs(f.pkg(t, fmt.Sprintf("concurrent%02d", round)))...)
		}
		if !vp.waitFor(t, "faultpoint: "+point, time.Minute) {
			// The concurrent publisher's run covered the victim's package first (group
			// commit), so the victim never reached the point: nothing to kill this round.
			t.Logf("round %d: the victim was served by group commit before %s", round, point)
		} else {
			vp.cmd.Process.Signal(syscall.SIGKILL)
			<-vp.done
			kills++
		}
		// The next publish, started after the kill, must get through within the
		// lease TTL (2s) + grace (1s), plus process start and its own index run.
		next := f.pkg(t, fmt.Sprintf("next%02d", round))
		began := time.Now()
		np := start(t, f.env, f.publishArgs(next)...)
		if err := np.wait(t, time.Minute); err != nil {
			t.Fatalf("round %d (%s): the publish after the kill failed: %v\n%s", round, point, err, np.stderr.String())
		}
		if took := time.Since(began); took > 8*time.Second {
			t.Errorf("round %d (%s): the publish after the kill took %s", round, point, took)
		}
		if concurrent != nil {
			if err := concurrent.wait(t, time.Minute); err != nil {
				t.Fatalf("round %d (%s): the concurrent publisher failed: %v\n%s", round, point, err, concurrent.stderr.String())
			}
		}
		// Every package in the channel is in repodata (whatever the victim managed
		// to upload included), every record points at a whole object, both repodata
		// files hold the same document, and the lease is free.
		recs := f.assertChannel(t)
		if _, ok := recs[filepath.Base(next)]; !ok {
			t.Fatalf("round %d (%s): %s lost", round, point, filepath.Base(next))
		}
		f.assertLeaseFree(t)
	}
	t.Logf("%d kills in 20 rounds", kills)
	if kills < 15 {
		t.Errorf("only %d of 20 rounds killed a publisher: the test lost its point", kills)
	}
}

// A lease holder paused past its lease (SIGSTOP), while another publisher takes the lease
// over and writes a newer index, cannot overwrite that index when it resumes: its write
// fails on the ETag and it exits non-zero.
func TestPausedHolderIsFenced(t *testing.T) {
	f := newFixture(t)
	first := f.pkg(t, "first")
	if err := start(t, f.env, f.publishArgs(first)...).wait(t, time.Minute); err != nil {
		t.Fatal(err)
	}
	stale := f.pkg(t, "stale")
	sp := start(t, append(append([]string{}, f.env...), "CONDACHAN_FAULTPOINT=index:before-write", "CONDACHAN_FAULTPOINT_SLEEP=1s"), f.publishArgs(stale)...)
	if !sp.waitFor(t, "faultpoint: index:before-write", time.Minute) {
		t.Fatal("the publisher to pause finished without indexing")
	}
	sp.cmd.Process.Signal(syscall.SIGSTOP)
	// Another publisher waits out the stopped holder's TTL, takes over, and writes.
	newer := f.pkg(t, "newer")
	np := start(t, f.env, f.publishArgs(newer)...)
	if err := np.wait(t, time.Minute); err != nil {
		t.Fatalf("publisher after the pause: %v\n%s", err, np.stderr.String())
	}
	if !strings.Contains(np.stderr.String(), "took over the channel lease") {
		t.Errorf("the newer publisher did not take the lease over: %s", np.stderr.String())
	}
	before, _, err := channel.ReadAll(context.Background(), f.store, "linux-64/repodata.json")
	if err != nil {
		t.Fatal(err)
	}
	sp.cmd.Process.Signal(syscall.SIGCONT)
	err = sp.wait(t, time.Minute)
	if err == nil {
		t.Fatalf("the paused holder exited 0 after losing its lease\nstderr: %s", sp.stderr.String())
	}
	if !strings.Contains(sp.stderr.String(), "lease") {
		t.Errorf("the paused holder's error does not say what happened: %s", sp.stderr.String())
	}
	t.Logf("the paused holder said: %s", strings.TrimSpace(sp.stderr.String()))
	after, _, _ := channel.ReadAll(context.Background(), f.store, "linux-64/repodata.json")
	if !bytes.Equal(before, after) {
		t.Error("the paused holder changed repodata.json after losing its lease")
	}
	recs := f.assertChannel(t)
	for _, name := range []string{"first", "stale", "newer"} {
		if _, ok := recs[name+"-1.0-0.conda"]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	f.assertLeaseFree(t)
}
