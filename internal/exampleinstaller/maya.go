package exampleinstaller

import (
	"archive/zip"
	"bytes"
	"strings"

	"github.com/condachan/condachan/internal/rpmwrite"
)

// The Maya-shaped release, as Autodesk ships Maya for Linux: a tarball holding RPMs
// (the application under usr/autodesk/maya2026, the licensing service) and package.zip
// (from which the sample build.sh takes bin/ProductInformation.pit), plus two system
// libraries the sample recipes `dnf download` at build time, declared here as sources.

// Maya release file names.
const (
	MayaTarball  = "Autodesk_Maya_2026_Linux_64bit.tgz"
	MayaRPM      = "Maya2026_64-2026.0-1234.x86_64.rpm"
	LicensingRPM = "adsklicensing14.0.0-0.x86_64.rpm"
	XssRPM       = "libXScrnSaver-1.2.3-8.el9.x86_64.rpm"
	AlsaRPM      = "alsa-lib-1.2.12-1.el9.x86_64.rpm"
)

const mayaRoot = "/usr/autodesk/maya2026"

// mayaProgram finds its install folder from its own location, as Maya's launcher does.
func mayaProgram(name string) string {
	return `#!/bin/sh
here=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
echo "` + name + ` 2026.0 in $here (libraries: $(ls "$here/lib" | tr '\n' ' '))"
`
}

// mayaFiles is the application RPM's content: programs, a library with its versioned
// name and a link, a hard link (as Autodesk ships two names of one binary), examples the
// recipe leaves out, and the module folder.
func mayaFiles() []rpmwrite.File {
	lib := bytes.Repeat([]byte("\x7fELF libOpenMaya 2026 "), 400)
	return []rpmwrite.File{
		{Path: mayaRoot + "/bin/maya2026", Data: []byte(mayaProgram("maya")), Mode: 0o755},
		{Path: mayaRoot + "/bin/mayapy", Data: []byte(mayaProgram("mayapy")), Mode: 0o755, Inode: 9},
		{Path: mayaRoot + "/bin/Render", Data: []byte(mayaProgram("Render")), Mode: 0o755},
		{Path: mayaRoot + "/bin/mayapy2026", Data: []byte(mayaProgram("mayapy")), Mode: 0o755, Inode: 9},
		{Path: mayaRoot + "/lib/libOpenMaya.so.2026", Data: lib, Mode: 0o755},
		{Path: mayaRoot + "/lib/libOpenMaya.so", Link: "libOpenMaya.so.2026"},
		{Path: mayaRoot + "/modules/README.txt", Data: []byte("Maya modules go here.\n"), Mode: 0o644},
		{Path: mayaRoot + "/Examples/FX/fluid.ma", Data: bytes.Repeat([]byte("//Maya ASCII example\n"), 200), Mode: 0o644},
		{Path: mayaRoot + "/Examples/Modeling/cube.ma", Data: []byte("//Maya ASCII cube\n"), Mode: 0o644},
	}
}

func licensingFiles() []rpmwrite.File {
	return []rpmwrite.File{
		{Path: "/opt/Autodesk/AdskLicensing/14.0.0/AdskLicensingService/AdskLicensingService", Data: []byte("#!/bin/sh\necho licensing\n"), Mode: 0o755},
		{Path: "/opt/Autodesk/AdskLicensing/14.0.0/helper/AdskLicensingInstHelper", Data: []byte("#!/bin/sh\necho helper\n"), Mode: 0o755},
	}
}

func xssFiles() []rpmwrite.File {
	return []rpmwrite.File{
		{Path: "/usr/lib64/libXss.so.1.0.0", Data: bytes.Repeat([]byte("\x7fELF libXss "), 300), Mode: 0o755},
		{Path: "/usr/lib64/libXss.so.1", Link: "libXss.so.1.0.0"},
		{Path: "/usr/share/licenses/libXScrnSaver/COPYING", Data: []byte("MIT/X11\n"), Mode: 0o644},
	}
}

func alsaFiles() []rpmwrite.File {
	return []rpmwrite.File{
		{Path: "/usr/lib64/libasound.so.2.0.0", Data: bytes.Repeat([]byte("\x7fELF libasound "), 300), Mode: 0o755},
		{Path: "/usr/lib64/libasound.so.2", Link: "libasound.so.2.0.0"},
		{Path: "/usr/share/alsa/alsa.conf", Data: []byte("# ALSA configuration\n"), Mode: 0o644},
	}
}

// packageZip is the release's package.zip.
func packageZip() ([]byte, error) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range []struct{ name, data string }{
		{"bin/ProductInformation.pit", "PIT 657Q1 2026.0.0.F\n"},
		{"bin/LicensingInstall.sh", "#!/bin/sh\n"},
		{"manifest.xml", "<manifest/>\n"},
	} {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: modTime}
		h.SetMode(0o644)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		w.Write([]byte(f.data))
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// MayaFiles returns the Maya-shaped release's archives by file name.
func MayaFiles() (map[string][]byte, error) {
	mtime := modTime.Unix()
	rpm := func(name, version, release, comp string, files []rpmwrite.File) ([]byte, error) {
		return rpmwrite.Package{Name: name, Version: version, Release: release, Arch: "x86_64", Compressor: comp, Files: files, MTime: mtime}.Bytes()
	}
	maya, err := rpm("Maya2026_64", "2026.0", "1234", "xz", mayaFiles())
	if err != nil {
		return nil, err
	}
	lic, err := rpm("adsklicensing14.0.0", "14.0.0", "0", "zstd", licensingFiles())
	if err != nil {
		return nil, err
	}
	zipData, err := packageZip()
	if err != nil {
		return nil, err
	}
	tarball, err := tgz("", map[string]file{
		"Packages/" + MayaRPM:      {string(maya), 0o644},
		"Packages/" + LicensingRPM: {string(lic), 0o644},
		"Packages/package.zip":     {string(zipData), 0o644},
		"Setup":                    {"#!/bin/sh\necho 'the graphical installer'\n", 0o755},
		"EULA.txt":                 {strings.Repeat("Autodesk example EULA.\n", 10), 0o644},
	})
	if err != nil {
		return nil, err
	}
	xss, err := rpm("libXScrnSaver", "1.2.3", "8.el9", "gzip", xssFiles())
	if err != nil {
		return nil, err
	}
	alsa, err := rpm("alsa-lib", "1.2.12", "1.el9", "zstd", alsaFiles())
	if err != nil {
		return nil, err
	}
	return map[string][]byte{MayaTarball: tarball, XssRPM: xss, AlsaRPM: alsa}, nil
}
