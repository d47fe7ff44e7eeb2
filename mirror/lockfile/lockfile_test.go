package lockfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/condachan/condachan/input"
)

type readCase struct {
	name   string
	file   string // name given to Parse
	text   string
	opts   Options
	format Format
	want   []string // Subdir/Filename of each package, in order
	errs   []string // what the error must say (file:line, entry, advice)
	pypi   []string // the PyPIError's entries
	// selection: the error is about the Options asked for, which match input.ErrInvalid;
	// an error of the lock's content does not.
	selection bool
}

func TestParse(t *testing.T) {
	for _, c := range append(append(append(explicitCases(), pixiCases()...), condaLockCases()...), detectCases()...) {
		t.Run(c.name, func(t *testing.T) { c.run(t) })
	}
}

func (c readCase) run(t *testing.T) {
	t.Helper()
	lock, err := Parse(strings.NewReader(c.text), c.file, c.opts)
	if err != nil {
		t.Log(err)
	}
	switch {
	case c.pypi != nil:
		var pe *PyPIError
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v, want a PyPIError", err)
		}
		if pe.File != c.file || !reflect.DeepEqual(pe.Entries, c.pypi) {
			t.Errorf("PyPIError = %+v, want file %s entries %q", pe, c.file, c.pypi)
		}
		checkMessage(t, err, append(c.errs, "conda packages only"))
	case c.errs != nil:
		var le *Error
		if !errors.As(err, &le) {
			t.Fatalf("err = %v, want an *Error", err)
		}
		checkMessage(t, err, c.errs)
		if errors.Is(err, input.ErrInvalid) != c.selection {
			t.Errorf("errors.Is(err, input.ErrInvalid) = %v, want %v", !c.selection, c.selection)
		}
	case err != nil:
		t.Fatal(err)
	default:
		if lock.Format != c.format || lock.Path != c.file {
			t.Errorf("format %s path %s, want %s %s", lock.Format, lock.Path, c.format, c.file)
		}
		var got []string
		for _, p := range lock.Packages {
			got = append(got, p.Subdir+"/"+p.Filename)
			checkPackage(t, p)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("packages:\n got %q\nwant %q", got, c.want)
		}
	}
}

func checkMessage(t *testing.T, err error, want []string) {
	t.Helper()
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not say %q", msg, w)
		}
	}
	if strings.Contains(msg, "--") && !strings.Contains(msg, "conda list --explicit") {
		t.Errorf("error %q looks like it names a command-line flag", msg)
	}
}

// checkPackage asserts what every returned package guarantees.
func checkPackage(t *testing.T, p Package) {
	t.Helper()
	if err := packageInvariants(p); err != nil {
		t.Errorf("%+v: %v", p, err)
	}
}

func at(file, text, sub string) string { return fmt.Sprintf("%s:%d", file, lineOf(text, sub)) }

func explicitCases() []readCase {
	const f = "env-linux-64.txt"
	noHash := edit(condaExplicitMD5, "#d645c6d2ac96843a2bfaccd2d62b3ac3", "")
	twice := condaExplicitMD5 + "https://conda.anaconda.org/conda-forge/linux-64/libffi-3.4.2-h7f98852_5.tar.bz2#d645c6d2ac96843a2bfaccd2d62b3ac3\n"
	conflict := condaExplicitMD5 + "https://repo.studio.example/forked/linux-64/libffi-3.4.2-h7f98852_5.tar.bz2#00000000000000000000000000000001\n"
	mixed := edit(condaExplicitMD5, "# platform: linux-64\n", "") +
		"https://conda.anaconda.org/conda-forge/osx-arm64/bzip2-1.0.8-h99b78c6_7.conda#fc6948412dbbbe9a4c9ddbbcfe0a79ab\n"
	linux := []string{
		"linux-64/_libgcc_mutex-0.1-conda_forge.tar.bz2", "linux-64/ld_impl_linux-64-2.40-h41732ed_0.conda",
		"linux-64/libgomp-13.2.0-h807b86a_2.conda", "linux-64/libffi-3.4.2-h7f98852_5.tar.bz2",
		"noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2",
	}
	bad := func(name, line string, errs ...string) readCase {
		text := condaExplicitMD5 + line + "\n"
		return readCase{name: name, file: f, text: text, errs: append([]string{at(f, text, line)}, errs...)}
	}
	return []readCase{
		{name: "explicit/conda md5", file: f, text: condaExplicitMD5, format: Explicit, want: linux},
		{name: "explicit/sha256 spellings", file: f, text: condaExplicitSHA256, format: Explicit, want: []string{
			"linux-aarch64/ld_impl_linux-aarch64-2.40-h2d8c526_0.conda", "linux-aarch64/libffi-3.4.2-h3557bc0_5.tar.bz2",
			"linux-aarch64/libgomp-13.2.0-hf8544c7_2.conda", "linux-aarch64/libuuid-2.38.1-hb4cce97_0.conda",
		}},
		{name: "explicit/conda-lock", file: "conda-osx-arm64.lock", text: condaLockExplicit, format: Explicit, want: []string{
			"osx-arm64/bzip2-1.0.8-h99b78c6_7.conda", "noarch/tzdata-2024b-hc8b5060_0.conda", "osx-arm64/libffi-3.4.2-h3422bc3_5.tar.bz2",
		}},
		{name: "explicit/crlf", file: f, text: strings.ReplaceAll(condaExplicitMD5, "\n", "\r\n"), format: Explicit, want: linux},
		{name: "explicit/same file twice", file: f, text: twice, format: Explicit, want: linux},
		{name: "explicit/platform filter keeps noarch", file: f, text: mixed, opts: Options{Platforms: []string{"osx-arm64"}}, format: Explicit,
			want: []string{"noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2", "osx-arm64/bzip2-1.0.8-h99b78c6_7.conda"}},
		{name: "explicit/platform of the header", file: f, text: condaExplicitMD5, opts: Options{Platforms: []string{"linux-64"}}, format: Explicit, want: linux},
		{name: "explicit/unknown platform", selection: true, file: f, text: condaExplicitMD5, opts: Options{Platforms: []string{"win-64"}},
			errs: []string{f + ": has no packages for platform win-64; it has linux-64"}},
		{name: "explicit/unknown platform without header", selection: true, file: f, text: mixed, opts: Options{Platforms: []string{"win-64", "osx-arm64"}},
			errs: []string{"platform win-64; it has linux-64, osx-arm64"}},
		{name: "explicit/environments", selection: true, file: f, text: condaExplicitMD5, opts: Options{Environments: []string{"default"}},
			errs: []string{f + ": is an explicit file, which has no environments"}},
		{name: "explicit/no hash", file: f, text: noHash, errs: []string{
			at(f, noHash, "libffi-3.4.2-h7f98852_5") + `: package "libffi-3.4.2-h7f98852_5.tar.bz2"`,
			"neither sha256 nor md5", "conda list --explicit --md5",
		}},
		{name: "explicit/conflicting hashes", file: f, text: conflict, errs: []string{
			`package "libffi-3.4.2-h7f98852_5.tar.bz2"`, at(f, conflict, "libffi-3.4.2-h7f98852_5"), fmt.Sprintf("%s:%d", f, lineOf(conflict, "repo.studio")),
			"different hashes", "one channel only",
		}},
		{name: "explicit/line before marker", file: f, text: "https://conda.anaconda.org/conda-forge/noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2\n@EXPLICIT\n",
			errs: []string{f + ":1: ", "before the @EXPLICIT line"}},
		{name: "explicit/no marker", file: f, text: edit(condaExplicitMD5, "@EXPLICIT\n", ""), errs: []string{f + ": ", "no @EXPLICIT line"}},
		bad("explicit/editable pip line", "-e ./tools/publish", `"-e ./tools/publish" is not a package URL`),
		bad("explicit/pip requirement", "requests==2.31.0", "is not a package URL"),
		bad("explicit/local file", "file:///home/ana/conda-bld/linux-64/shotgrid-tools-1.2-h0_0.conda#0123456789abcdef0123456789abcdef",
			"cannot be fetched from elsewhere", "publish it to a channel"),
		bad("explicit/bad fragment", "https://conda.anaconda.org/conda-forge/linux-64/zlib-1.3.1-h4ab18f5_1.conda#abc123",
			`package "zlib-1.3.1-h4ab18f5_1.conda"`, "neither md5 (32 hex digits) nor sha256 (64)"),
		bad("explicit/bad md5", "https://conda.anaconda.org/conda-forge/linux-64/zlib-1.3.1-h4ab18f5_1.conda#md5=xyz",
			`md5 "xyz" is not 32 hex digits`),
		bad("explicit/empty hash", "https://conda.anaconda.org/conda-forge/linux-64/zlib-1.3.1-h4ab18f5_1.conda#sha256=", "is empty"),
		bad("explicit/other platform", "https://conda.anaconda.org/conda-forge/osx-64/zlib-1.3.1-h87427d6_1.conda#0123456789abcdef0123456789abcdef",
			"locked for platform linux-64 but the package file is in osx-64/"),
		bad("explicit/not a subdir", "https://github.com/studio/tools/releases/download/v1.2/tools-1.2-h0_0.conda#0123456789abcdef0123456789abcdef",
			`is "v1.2", not a conda subdir`),
		bad("explicit/not a package file", "https://conda.anaconda.org/conda-forge/linux-64/zlib-1.3.1.tar.gz#0123456789abcdef0123456789abcdef",
			"is not a conda package file"),
		bad("explicit/no build", "https://conda.anaconda.org/conda-forge/linux-64/zlib-1.3.1.conda#0123456789abcdef0123456789abcdef",
			`"zlib-1.3.1.conda" is not <name>-<version>-<build>`),
		bad("explicit/odd character", "https://conda.anaconda.org/conda-forge/linux-64/zl%20ib-1.3.1-h0_0.conda#0123456789abcdef0123456789abcdef",
			"has a character conda file names do not have"),
		bad("explicit/ftp", "ftp://mirror.example/conda-forge/linux-64/zlib-1.3.1-h4ab18f5_1.conda#0123456789abcdef0123456789abcdef",
			"is not an http(s) URL"),
		bad("explicit/password redacted", "https://render:hunter2@conda.studio.example/internal/tools/farm-agent-3.1-h0_0.conda#0123456789abcdef0123456789abcdef",
			`package "farm-agent-3.1-h0_0.conda"`, "https://REDACTED@conda.studio.example/internal/tools/farm-agent-3.1-h0_0.conda is \"tools\""),
		bad("explicit/no URL", "# no URL for: farm-agent-3.1-h0_0.conda", `package "farm-agent-3.1-h0_0.conda"`, "no download URL"),
		bad("explicit/platform changes", "# platform: osx-arm64", "says platform osx-arm64, but an earlier line says linux-64"),
		{name: "explicit/conda-lock pip lines", file: f, pypi: []string{"certifi", "requests"}, text: condaLockExplicit +
			"# pip certifi @ https://files.pythonhosted.org/packages/4c/dd/2234eab22353ffc7d94e8d13177aaa050113286e93e7b40eae01fbf7c3d9/certifi-2023.7.22-py3-none-any.whl#sha256=92d6037539857d8206b8f6ae472e8b77db8058fec5937a1ef3f54304089edbb9\n" +
			"# pip requests @ https://files.pythonhosted.org/packages/70/8e/0e2d847013cb52cd35b38c009bb167a1a26b2ce6cd6965bf26b47bc0bf44/requests-2.31.0-py3-none-any.whl#sha256=58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f\n",
			errs: []string{f + ": 2 PyPI package(s)", `"certifi", "requests"`}},
	}
}

func pixiCases() []readCase {
	const f = "pixi.lock"
	all := []string{
		"linux-64/_libgcc_mutex-0.1-conda_forge.tar.bz2", "linux-64/libffi-3.4.2-h7f98852_5.tar.bz2", "noarch/tzdata-2024b-hc8b5060_0.conda",
		"osx-arm64/bzip2-1.0.8-h99b78c6_7.conda", "osx-arm64/libffi-3.4.2-h3422bc3_5.tar.bz2", "noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2",
	}
	noRecord := edit(pixiV6, "- conda: https://conda.anaconda.org/conda-forge/noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2\n  sha256", "- conda: https://conda.anaconda.org/conda-forge/noarch/idna-3.4-pyhd8ed1ab_1.tar.bz2\n  sha256")
	noHash := edit(pixiV6, "  sha256: 9887c35c374ec1847f167292d3fde023cb4c994a4ceeec283072b95440131f09\n  md5: 34272b248891bddccc64479f9a7fffed\n", "")
	nameWrong := edit(pixiV6, "      - conda: https://conda.anaconda.org/conda-forge/noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2\n", "      - conda: https://conda.anaconda.org/conda-forge/noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2\n        name: idna-ssl\n")
	subdirWrong := edit(pixiV6, "  md5: 34272b248891bddccc64479f9a7fffed\n", "  md5: 34272b248891bddccc64479f9a7fffed\n  subdir: linux-64\n")
	crossPlatform := edit(pixiV6, "      - conda: https://conda.anaconda.org/conda-forge/osx-arm64/bzip2", "      - conda: https://conda.anaconda.org/conda-forge/linux-64/libffi-3.4.2-h7f98852_5.tar.bz2\n      - conda: https://conda.anaconda.org/conda-forge/osx-arm64/bzip2")
	twoChannels := edit(pixiV6, "      - conda: https://conda.anaconda.org/conda-forge/noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2\n",
		"      - conda: https://conda.anaconda.org/conda-forge/noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2\n      - conda: https://conda.studio.example/mirror/linux-64/libffi-3.4.2-h7f98852_5.tar.bz2\n") +
		"- conda: https://conda.studio.example/mirror/linux-64/libffi-3.4.2-h7f98852_5.tar.bz2\n  sha256: 0000000000000000000000000000000000000000000000000000000000000000\n"
	source := edit(pixiV6, "      - conda: https://conda.anaconda.org/conda-forge/noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2\n", "      - conda: ../render-tools\n") +
		"- conda: ../render-tools\n  name: render-tools\n  version: 0.3.0\n  build: pyh4616a5c_0\n  subdir: noarch\n"
	gitSource := edit(pixiV6, "      - conda: https://conda.anaconda.org/conda-forge/noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2\n", "      - conda: git+https://github.com/studio/farm-agent.git?rev=4f2c1a9#4f2c1a9\n        name: farm-agent\n") +
		"- conda: git+https://github.com/studio/farm-agent.git?rev=4f2c1a9#4f2c1a9\n  name: farm-agent\n  version: 3.1.0\n  build: h0_0\n  subdir: linux-64\n"
	local := edit(pixiV6, "      - conda: https://conda.anaconda.org/conda-forge/noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2\n", "      - conda: ./pkgs/farm-agent-3.1.0-h0_0.conda\n") +
		"- conda: ./pkgs/farm-agent-3.1.0-h0_0.conda\n  sha256: 3f0c7e1f8f7a0e6d2f5b9f41fbc8b07d6b2c7a1d6e4f2f9a1b3c5d7e9f1a2b3c\n"
	v7Source := edit(pixiV7, "      - conda: https://prefix.dev/conda-forge/osx-arm64/bzip2-1.0.8-h99b78c6_7.conda\n", "      - conda_source: render-tools[9a3b2c1d] @ ../render-tools\n")
	v7Unlisted := edit(pixiV7, "      osx-arm64:\n", "      osx-64:\n")
	badEntry := edit(pixiV6, "      - conda: https://conda.anaconda.org/conda-forge/noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2\n", "      - pip: idna\n")
	i := strings.LastIndex(pixiV5, "md5: 161081fc7cec0bfda0d86d7cb595f8d8")
	v5Disagree := pixiV5[:i] + "md5: 00000000000000000000000000000000" + pixiV5[i+len("md5: 161081fc7cec0bfda0d86d7cb595f8d8"):]
	bomb := "version: 6\nx: &a [{conda: https://conda.anaconda.org/conda-forge/noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2}]\n"
	for i, prev := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		next := string(rune('b' + i))
		bomb += fmt.Sprintf("%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", next, next, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
	}
	bomb += "environments: {default: {packages: {linux-64: *i}}}\npackages: []\n"
	return []readCase{
		{name: "pixi/v6 all", file: f, text: pixiV6, format: PixiLock, want: all},
		{name: "pixi/v6 one environment", file: f, text: pixiV6, opts: Options{Environments: []string{"test"}}, format: PixiLock, want: []string{
			"linux-64/_libgcc_mutex-0.1-conda_forge.tar.bz2", "noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2", "noarch/tzdata-2024b-hc8b5060_0.conda",
		}},
		{name: "pixi/v6 one platform", file: f, text: pixiV6, opts: Options{Platforms: []string{"osx-arm64"}}, format: PixiLock, want: []string{
			"osx-arm64/bzip2-1.0.8-h99b78c6_7.conda", "osx-arm64/libffi-3.4.2-h3422bc3_5.tar.bz2", "noarch/tzdata-2024b-hc8b5060_0.conda",
		}},
		{name: "pixi/v7", file: f, text: pixiV7, format: PixiLock, want: []string{
			"noarch/tzdata-2024b-hc8b5060_0.conda", "linux-64/libffi-3.4.2-h7f98852_5.tar.bz2", "osx-arm64/bzip2-1.0.8-h99b78c6_7.conda",
		}},
		{name: "pixi/v7 platform name", file: f, text: pixiV7, opts: Options{Platforms: []string{"linux-64-cuda"}}, format: PixiLock, want: []string{
			"noarch/tzdata-2024b-hc8b5060_0.conda", "linux-64/libffi-3.4.2-h7f98852_5.tar.bz2",
		}},
		{name: "pixi/v5 noarch per platform", file: f, text: pixiV5, format: PixiLock, want: []string{
			"linux-64/libffi-3.4.2-h7f98852_5.tar.bz2", "noarch/tzdata-2024a-h0c530f3_0.conda", "osx-arm64/bzip2-1.0.8-h93a5062_5.conda",
		}},
		{name: "pixi/v4", file: f, text: edit(pixiV5, "version: 5", "version: 4"), format: PixiLock, want: []string{
			"linux-64/libffi-3.4.2-h7f98852_5.tar.bz2", "noarch/tzdata-2024a-h0c530f3_0.conda", "osx-arm64/bzip2-1.0.8-h93a5062_5.conda",
		}},
		{name: "pixi/v5 records of one file disagree", file: f, text: v5Disagree, errs: []string{
			`package "tzdata-2024a-h0c530f3_0.conda": locked twice with different hashes or sizes`,
			at(f, pixiV5, "- kind: conda\n  name: tzdata"), fmt.Sprintf("%s:%d", f, lineOf(pixiV5, "- kind: conda\n  name: tzdata\n  version: 2024a\n  build: h0c530f3_0\n  subdir: osx-arm64")),
		}},
		{name: "pixi/v5 build mismatch", file: f, text: edit(pixiV5, "build: h7f98852_5", "build: h7f98852_4"),
			errs: []string{at(f, pixiV5, "- kind: conda\n  name: libffi") + `: package "libffi"`, `the lock gives build "h7f98852_4"`, "regenerate it"}},
		{name: "pixi/unknown environment", selection: true, file: f, text: pixiV6, opts: Options{Environments: []string{"prod"}},
			errs: []string{f + ": has no environment prod; it has default, test"}},
		{name: "pixi/unknown platform", selection: true, file: f, text: pixiV6, opts: Options{Environments: []string{"test"}, Platforms: []string{"osx-arm64", "win-64"}},
			errs: []string{f + ": has no platform osx-arm64, win-64 in the environments read; they have linux-64"}},
		{name: "pixi/pypi", file: f, text: pixiPyPI, pypi: []string{"numpy 2.2.1", "./vendor/render_tools-0.3.0-py3-none-any.whl"},
			errs: []string{f + ": 2 PyPI package(s)"}},
		{name: "pixi/pypi in unselected environment", file: f, text: pixiPyPI, opts: Options{Environments: []string{"default"}}, pypi: []string{"numpy 2.2.1"}},
		{name: "pixi/no record", file: f, text: noRecord, errs: []string{
			at(f, noRecord, "      - conda: https://conda.anaconda.org/conda-forge/noarch/idna"), "environment test lists", "no package record for it",
		}},
		{name: "pixi/no hash", file: f, text: noHash, errs: []string{
			at(f, noHash, "\n- conda: https://conda.anaconda.org/conda-forge/noarch/idna"), "neither sha256 nor md5", "pixi lock",
		}},
		{name: "pixi/selector name mismatch", file: f, text: nameWrong, errs: []string{
			at(f, nameWrong, "      - conda: https://conda.anaconda.org/conda-forge/noarch/idna"), `package "idna"`, `environment test: the lock gives name "idna-ssl"`,
		}},
		{name: "pixi/record subdir mismatch", file: f, text: subdirWrong, errs: []string{`the lock gives subdir "linux-64" but the package file noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2 says "noarch"`}},
		{name: "pixi/package of another platform", file: f, text: crossPlatform, errs: []string{
			at(f, crossPlatform, "      - conda: https://conda.anaconda.org/conda-forge/linux-64/libffi-3.4.2-h7f98852_5.tar.bz2\n      - conda: https://conda.anaconda.org/conda-forge/osx-arm64/bzip2"),
			"locked for platform osx-arm64 but the package file is in linux-64/",
		}},
		{name: "pixi/same file from two channels", file: f, text: twoChannels, errs: []string{
			`package "libffi-3.4.2-h7f98852_5.tar.bz2"`, at(f, twoChannels, "\n- conda: https://conda.anaconda.org/conda-forge/linux-64/libffi"),
			at(f, twoChannels, "\n- conda: https://conda.studio.example"),
		}},
		{name: "pixi/source package", file: f, text: source, errs: []string{
			at(f, source, "      - conda: ../render-tools"), `package "render-tools"`, "is a source package", "publish it to a channel",
		}},
		{name: "pixi/git source package", file: f, text: gitSource, errs: []string{`package "farm-agent"`, "is a source package", "git+https://github.com/studio/farm-agent.git"}},
		{name: "pixi/local package file", file: f, text: local, errs: []string{`package "farm-agent-3.1.0-h0_0.conda"`, "(./pkgs/farm-agent-3.1.0-h0_0.conda)", "cannot be fetched from elsewhere"}},
		{name: "pixi/v7 source package", file: f, text: v7Source, errs: []string{at(f, v7Source, "conda_source") + `: package "render-tools": is a source package, which pixi builds from ../render-tools;`}},
		{name: "pixi/v7 unlisted platform", file: f, text: v7Unlisted, errs: []string{"environment default uses platform osx-64, which the lock's platforms list does not name"}},
		{name: "pixi/odd entry", file: f, text: badEntry, errs: []string{at(f, badEntry, "- pip: idna"), "neither conda nor pypi"}},
		{name: "pixi/version 3", file: f, text: edit(pixiV6, "version: 6", "version: 3"), errs: []string{f + ":1: ", `version "3"`, "reads versions 4, 5, 6 and 7"}},
		{name: "pixi/version 8", file: f, text: edit(pixiV6, "version: 6", "version: 8"), errs: []string{`version "8"`}},
		{name: "pixi/alias bomb", file: f, text: bomb, errs: []string{"YAML aliases expand it"}},
		{name: "pixi/recursive alias", file: f, text: "version: 6\nenvironments: &e {default: {packages: {linux-64: [*e]}}}\npackages: []\n", errs: []string{f + ": "}},
	}
}

func condaLockCases() []readCase {
	const f = "conda-lock.yml"
	noMD5 := edit(condaLockYML, "    md5: dddd85f4d52121fab0a8b099c5e06501\n    sha256: 7e9258a102480757fe3faeb225a3ca04dffd10fecd2a958c65cdb4cdf75f2c3c\n", "    md5: null\n")
	wrongPlatform := edit(condaLockYML, "  platform: linux-aarch64\n  dependencies: {}", "  platform: linux-64\n  dependencies: {}")
	return []readCase{
		{name: "conda-lock/all", file: f, text: condaLockYML, format: CondaLock, want: []string{
			"linux-64/_libgcc_mutex-0.1-conda_forge.tar.bz2", "noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2",
			"linux-64/libffi-3.4.2-h7f98852_5.tar.bz2", "linux-aarch64/libffi-3.4.2-h3557bc0_5.tar.bz2",
		}},
		{name: "conda-lock/aliases", file: f, format: CondaLock, text: strings.Replace(strings.Replace(condaLockYML,
			"  hash:\n    md5: 34272b248891bddccc64479f9a7fffed\n    sha256: 9887c35c374ec1847f167292d3fde023cb4c994a4ceeec283072b95440131f09\n",
			"  hash: &idna\n    md5: 34272b248891bddccc64479f9a7fffed\n    sha256: 9887c35c374ec1847f167292d3fde023cb4c994a4ceeec283072b95440131f09\n", 1),
			"  hash:\n    md5: 34272b248891bddccc64479f9a7fffed\n    sha256: 9887c35c374ec1847f167292d3fde023cb4c994a4ceeec283072b95440131f09\n", "  hash: *idna\n", 1),
			want: []string{
				"linux-64/_libgcc_mutex-0.1-conda_forge.tar.bz2", "noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2",
				"linux-64/libffi-3.4.2-h7f98852_5.tar.bz2", "linux-aarch64/libffi-3.4.2-h3557bc0_5.tar.bz2",
			}},
		{name: "conda-lock/one platform", file: f, text: condaLockYML, opts: Options{Platforms: []string{"linux-aarch64"}}, format: CondaLock, want: []string{
			"noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2", "linux-aarch64/libffi-3.4.2-h3557bc0_5.tar.bz2",
		}},
		{name: "conda-lock/unknown platform", selection: true, file: f, text: condaLockYML, opts: Options{Platforms: []string{"osx-arm64"}},
			errs: []string{f + ": has no platform osx-arm64; it has linux-64, linux-aarch64"}},
		{name: "conda-lock/environments", selection: true, file: f, text: condaLockYML, opts: Options{Environments: []string{"default"}}, errs: []string{"only pixi.lock files have several"}},
		{name: "conda-lock/pip", file: f, text: condaLockYML + condaLockPip, pypi: []string{"certifi 2023.7.22", "requests 2.31.0"}},
		{name: "conda-lock/pip of other platform", file: f, text: condaLockYML + condaLockPip, opts: Options{Platforms: []string{"linux-64"}}, pypi: []string{"certifi 2023.7.22"}},
		{name: "conda-lock/no hash", file: f, text: noMD5, errs: []string{
			at(f, noMD5, "- name: libffi\n  version: 3.4.2\n  manager: conda\n  platform: linux-aarch64"), `package "libffi"`, "neither sha256 nor md5", "write the lock again with conda-lock",
		}},
		{name: "conda-lock/platform mismatch", file: f, text: wrongPlatform, errs: []string{"locked for platform linux-64 but the package file is in linux-aarch64/"}},
		{name: "conda-lock/version mismatch", file: f, text: edit(condaLockYML, "  version: '3.4'", "  version: '3.5'"), errs: []string{`package "idna"`, `the lock gives version "3.5"`}},
		{name: "conda-lock/version 2", file: f, text: edit(condaLockYML, "version: 1", "version: 2"), errs: []string{f + ":5: ", `version "2"`, "reads version 1"}},
		{name: "conda-lock/manager", file: f, text: edit(condaLockYML, "manager: conda", "manager: mamba"), errs: []string{`package "_libgcc_mutex"`, `manager "mamba"`}},
		{name: "conda-lock/env var in URL", file: f, text: edit(condaLockYML, "https://conda.anaconda.org/conda-forge/linux-64/_libgcc", "https://${CONDA_USER}:${CONDA_TOKEN}@conda.studio.example/conda-forge/linux-64/_libgcc"),
			errs: []string{"environment variable"}},
	}
}

func detectCases() []readCase {
	return []readCase{
		{name: "detect/explicit named pixi.lock", file: "pixi.lock", text: condaLockExplicit, format: Explicit, want: []string{
			"osx-arm64/bzip2-1.0.8-h99b78c6_7.conda", "noarch/tzdata-2024b-hc8b5060_0.conda", "osx-arm64/libffi-3.4.2-h3422bc3_5.tar.bz2",
		}},
		{name: "detect/conda-lock named lock.yaml", file: "lock.yaml", text: condaLockYML, format: CondaLock, want: []string{
			"linux-64/_libgcc_mutex-0.1-conda_forge.tar.bz2", "noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2",
			"linux-64/libffi-3.4.2-h7f98852_5.tar.bz2", "linux-aarch64/libffi-3.4.2-h3557bc0_5.tar.bz2",
		}},
		{name: "detect/byte order mark", file: "env.txt", text: "\ufeff" + condaExplicitMD5, format: Explicit, want: []string{
			"linux-64/_libgcc_mutex-0.1-conda_forge.tar.bz2", "linux-64/ld_impl_linux-64-2.40-h41732ed_0.conda",
			"linux-64/libgomp-13.2.0-h807b86a_2.conda", "linux-64/libffi-3.4.2-h7f98852_5.tar.bz2", "noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2",
		}},
		{name: "detect/environment.yml", file: "environment.yml", text: "name: farm\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.12\n",
			errs: []string{"environment.yml: is not a lock file condachan reads"}},
		{name: "detect/empty", file: "empty.lock", text: "", errs: []string{"empty.lock: is not a lock file condachan reads"}},
		{name: "detect/binary", file: "pixi.lock", text: "\x00\x01\x02{[", errs: []string{"pixi.lock: is not a lock file condachan reads", "not YAML either"}},
	}
}

func TestRedact(t *testing.T) {
	for raw, want := range map[string]string{
		"https://render:hunter2@conda.studio.example/internal/linux-64/x-1-0.conda": "https://REDACTED@conda.studio.example/internal/linux-64/x-1-0.conda",
		"render-tools[9a3b2c1d] @ ../render-tools":                                  "render-tools[9a3b2c1d] @ ../render-tools",
		"https://conda.anaconda.org/conda-forge/noarch/x-1-0.conda#abc":             "https://conda.anaconda.org/conda-forge/noarch/x-1-0.conda#abc",
	} {
		if got := redact(raw); got != want {
			t.Errorf("redact(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestErrorString(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&Error{File: "pixi.lock", Line: 42, Entry: "numpy", Msg: "has neither sha256 nor md5"}, `pixi.lock:42: package "numpy": has neither sha256 nor md5`},
		{&Error{File: "pixi.lock", Msg: "has no environment prod"}, `pixi.lock: has no environment prod`},
		{&PyPIError{File: "pixi.lock", Entries: []string{"numpy 2.2.1", "requests"}}, `pixi.lock: 2 PyPI package(s): "numpy 2.2.1", "requests"; condachan mirrors conda packages only`},
	} {
		if got := c.err.Error(); !strings.HasPrefix(got, c.want) {
			t.Errorf("got %q, want it to start with %q", got, c.want)
		}
	}
}

func TestPackageFields(t *testing.T) {
	lock, err := Parse(strings.NewReader(pixiV6), "pixi.lock", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := Package{
		URL:    "https://conda.anaconda.org/conda-forge/osx-arm64/bzip2-1.0.8-h99b78c6_7.conda",
		Subdir: "osx-arm64", Filename: "bzip2-1.0.8-h99b78c6_7.conda", Name: "bzip2", Version: "1.0.8", Build: "h99b78c6_7",
		SHA256: "adfa71f158cbd872a36394c56c3568e6034aa55c623634b37a4836bd036e6b91", MD5: "fc6948412dbbbe9a4c9ddbbcfe0a79ab",
		Size: 122909, Origin: fmt.Sprintf("pixi.lock:%d", lineOf(pixiV6, "\n- conda: https://conda.anaconda.org/conda-forge/osx-arm64/bzip2")),
	}
	if got := lock.Packages[3]; got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	lock, err = Parse(strings.NewReader(condaExplicitSHA256), "x.txt", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p := lock.Packages[2]; p.SHA256 != "7d22718b7f4f0a5f219d260edbd4c2bd4e70527eff6129609e3e3faa0f373dc0" || p.MD5 != "" || p.Origin != "x.txt:6" {
		t.Errorf("uppercase sha256= fragment read as %+v", p)
	}
}

// A noarch package locked once with md5 only and once with sha256 only keeps both.
func TestDuplicateCompletesHashes(t *testing.T) {
	text := "@EXPLICIT\n" +
		"https://conda.anaconda.org/conda-forge/noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2#34272b248891bddccc64479f9a7fffed\n" +
		"https://conda.anaconda.org/conda-forge/noarch/idna-3.4-pyhd8ed1ab_0.tar.bz2#sha256:9887c35c374ec1847f167292d3fde023cb4c994a4ceeec283072b95440131f09\n"
	lock, err := Parse(strings.NewReader(text), "x.txt", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lock.Packages) != 1 || lock.Packages[0].MD5 == "" || lock.Packages[0].SHA256 == "" || lock.Packages[0].Origin != "x.txt:2" {
		t.Errorf("got %+v", lock.Packages)
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pixi.lock")
	if err := os.WriteFile(file, []byte(pixiV7), 0o644); err != nil {
		t.Fatal(err)
	}
	lock, err := Read(file, Options{Platforms: []string{"osx-arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	if lock.Path != file || lock.Format != PixiLock || len(lock.Packages) != 2 || lock.Packages[1].Origin != fmt.Sprintf("%s:%d", file, lineOf(pixiV7, "\n- conda: https://prefix.dev/conda-forge/osx-arm64/bzip2")) {
		t.Errorf("got %+v", lock)
	}
	if _, err := Read(filepath.Join(dir, "missing.lock"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.lock")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxSize+1); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(big, Options{}); err == nil || !strings.Contains(err.Error(), "larger than 64 MiB") {
		t.Errorf("big file: %v", err)
	}
}

// Parse bounds what it reads from a stream, which has no size to check first.
func TestParseTooBig(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 64 MiB")
	}
	r := io.MultiReader(strings.NewReader("@EXPLICIT\n"), io.LimitReader(zeros{}, MaxSize))
	if _, err := Parse(r, "stdin", Options{}); err == nil || !strings.Contains(err.Error(), "stdin: larger than 64 MiB") {
		t.Errorf("got %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestSplitFilename(t *testing.T) {
	for _, c := range []struct{ file, name, version, build string }{
		{"ld_impl_linux-64-2.40-h41732ed_0.conda", "ld_impl_linux-64", "2.40", "h41732ed_0"},
		{"python-3.13.0-hbbac1ca_101_cp313.conda", "python", "3.13.0", "hbbac1ca_101_cp313"},
		{"_libgcc_mutex-0.1-conda_forge.tar.bz2", "_libgcc_mutex", "0.1", "conda_forge"},
		{"ncurses-6.4.20240210-h078ce10_0.conda", "ncurses", "6.4.20240210", "h078ce10_0"},
		{"x-1!2.0+local-0.conda", "x", "1!2.0+local", "0"},
	} {
		n, v, b, err := splitFilename(c.file)
		if err != nil || n != c.name || v != c.version || b != c.build {
			t.Errorf("%s: %q %q %q %v", c.file, n, v, b, err)
		}
	}
	for _, file := range []string{"-1-0.conda", "x--0.conda", "x-1-.conda", "x-1.conda", "x.conda", ".x-1-0.conda", "x-1-0.tar.gz", "a/b-1-0.conda", "x-1-0.conda.partial"} {
		if _, _, _, err := splitFilename(file); err == nil {
			t.Errorf("%s: no error", file)
		}
	}
}
