// Package rattlertest runs rattler, the Rust library behind pixi, as the tests' conda
// client: the WASM build published on npm as @conda-org/rattler, through Node.js. Its
// simpleSolve fetches a channel over HTTP the way pixi does (the shard index first, then
// only the shards the solve reaches, repodata.json when there are no shards), so a
// test that solves against a condachan channel proves rattler accepts what condachan
// wrote.
package rattlertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/condachan/condachan/internal/testkit"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The npm release the tests are written against.
const (
	Package = "@conda-org/rattler"
	Version = "0.3.5"
)

// solveScript calls simpleSolve(specs, channels, platforms) and prints the solution as
// JSON, sorted by file name; a failed solve prints its message on stderr and exits 1.
const solveScript = `import { createRequire } from "node:module";
const require = createRequire(process.env.RATTLER_NPM_DIR + "/");
const { simpleSolve } = require("@conda-org/rattler");
const [channels, platforms, ...specs] = process.argv.slice(2);
try {
  const solved = await simpleSolve(specs, channels.split(","), platforms.split(","), undefined);
  const out = solved.map((p) => ({
    url: p.url, filename: p.filename, name: p.packageName, version: p.version, build: p.build,
    subdir: p.subdir ?? "", sha256: p.sha256 ?? "", md5: p.md5 ?? "",
    size: p.size === undefined ? 0 : Number(p.size), depends: p.depends ?? [],
  }));
  out.sort((a, b) => a.filename.localeCompare(b.filename));
  console.log(JSON.stringify(out));
} catch (e) {
  console.error(String(e?.message ?? e));
  process.exit(1);
}
`

// Solved is one package of a solution.
type Solved struct {
	URL      string   `json:"url"`
	Filename string   `json:"filename"`
	Name     string   `json:"name"`
	Version  string   `json:"version"`
	Build    string   `json:"build"`
	Subdir   string   `json:"subdir"`
	SHA256   string   `json:"sha256"`
	MD5      string   `json:"md5"`
	Size     int64    `json:"size"`
	Depends  []string `json:"depends"`
}

// SolveError is a solve rattler refused, with what it said.
type SolveError struct{ Message string }

func (e *SolveError) Error() string { return "rattler: " + e.Message }

var setup struct {
	once   sync.Once
	dir    string // holds node_modules/@conda-org/rattler
	script string
	err    error
}

// Solve asks rattler for the packages that satisfy specs from the channels (URLs) for the
// platforms (give "noarch" too: rattler fetches only the subdirs it is given). A solve
// rattler refuses is a *SolveError; a missing Node.js or npm package fails the test.
func Solve(t testing.TB, channels, platforms, specs []string) ([]Solved, error) {
	t.Helper()
	setup.once.Do(func() { setup.dir, setup.script, setup.err = prepare() })
	if setup.err != nil {
		t.Fatalf("rattler (npm %s@%s under Node.js) is needed and could not be had: %v\n"+
			"run ./scripts/test.sh (it installs it), or: npm install --prefix .cache/tools/rattler-npm %s@%s",
			Package, Version, setup.err, Package, Version)
	}
	args := append([]string{setup.script, strings.Join(channels, ","), strings.Join(platforms, ",")}, specs...)
	cmd := exec.Command("node", args...)
	cmd.Env = append(os.Environ(), "RATTLER_NPM_DIR="+setup.dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 1 {
			return nil, &SolveError{Message: strings.TrimSpace(stderr.String())}
		}
		if err != nil {
			t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("rattler did not finish solving %v within 2 minutes\n%s", specs, stderr.String())
	}
	var out []Solved
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("rattler printed %q: %v", stdout.String(), err)
	}
	return out, nil
}

// prepare finds Node.js and the npm package, installing the package with npm into
// $CONDACHAN_TOOLS_DIR/rattler-npm (or <repo>/.cache/tools/rattler-npm) when it is
// missing, and writes the solve script beside it.
func prepare() (dir, script string, err error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", "", fmt.Errorf("node is not on PATH (install Node.js 18 or newer)")
	}
	tools := os.Getenv("CONDACHAN_TOOLS_DIR")
	if tools == "" {
		root, err := testkit.RepoRoot()
		if err != nil {
			return "", "", err
		}
		tools = filepath.Join(root, ".cache", "tools")
	}
	dir = filepath.Join(tools, "rattler-npm")
	manifest := filepath.Join(dir, "node_modules", filepath.FromSlash(Package), "package.json")
	if !hasVersion(manifest) {
		if _, err := exec.LookPath("npm"); err != nil {
			return "", "", fmt.Errorf("%s is not installed in %s and npm is not on PATH", Package, dir)
		}
		cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--prefix", dir, Package+"@"+Version)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("npm install %s@%s: %v\n%s", Package, Version, err, out)
		}
		if !hasVersion(manifest) {
			return "", "", fmt.Errorf("npm install left no %s %s in %s", Package, Version, dir)
		}
	}
	script = filepath.Join(dir, "condachan-solve.mjs")
	if err := os.WriteFile(script, []byte(solveScript), 0o644); err != nil {
		return "", "", err
	}
	return dir, script, nil
}

func hasVersion(manifest string) bool {
	data, err := os.ReadFile(manifest)
	if err != nil {
		return false
	}
	var m struct {
		Version string `json:"version"`
	}
	return json.Unmarshal(data, &m) == nil && m.Version == Version
}
