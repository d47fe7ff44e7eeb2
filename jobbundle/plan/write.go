package plan

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/condachan/condachan/channel"
	"github.com/condachan/condachan/input"
	"github.com/condachan/condachan/jobbundle"
)

// ChannelPath is the CondaChannel value of a local channel given as raw (parsed as
// loc): its absolute path. A file:// URL is absolute already and kept, and so is a
// Windows path (C:\conda, C:/conda, \\server\share\conda) given on another system
// (windowsHost false), for Windows workers: made absolute here it would become a path
// under the current folder.
func ChannelPath(raw string, loc channel.Location, windowsHost bool) string {
	if strings.HasPrefix(strings.ToLower(raw), "file://") {
		return raw
	}
	if !windowsHost && isWindowsAbs(raw) {
		return raw
	}
	return loc.String()
}

// isWindowsAbs reports whether p is an absolute Windows path: a drive letter and a
// separator, or a UNC path.
func isWindowsAbs(p string) bool {
	if len(p) >= 3 && (p[0] >= 'a' && p[0] <= 'z' || p[0] >= 'A' && p[0] <= 'Z') && p[1] == ':' && (p[2] == '\\' || p[2] == '/') {
		return true
	}
	return strings.HasPrefix(p, `\\`) || strings.HasPrefix(p, "//")
}

// WriteJobs writes one bundle per job: into dir itself for one, into dir/<platform> for
// each of several (a deadline-cloud.yaml selecting several platforms). It returns the
// absolute folders. A failure removes what it wrote; a bundle that cannot be written
// from the job's values is an ErrInput error.
func WriteJobs(dir string, jobs []*Job) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(abs)
	created := errors.Is(statErr, fs.ErrNotExist)
	var dirs []string
	for _, j := range jobs {
		d := abs
		if len(jobs) > 1 {
			d = filepath.Join(abs, j.Platform)
		}
		if err := jobbundle.Write(d, j.Kind, j.Values, j.Host); err != nil {
			if created {
				os.RemoveAll(abs)
			}
			return nil, input.Mark(err)
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}

// WrittenJob is a job and the folder its bundle was written to, as a front end reports
// them: the folder, the kind, the parameters and the platform.
type WrittenJob struct {
	BundleDir string `json:"bundle_dir"`
	*Job
}

// Written pairs the jobs with the folders WriteJobs wrote them to.
func Written(dirs []string, jobs []*Job) []WrittenJob {
	out := make([]WrittenJob, len(jobs))
	for i, j := range jobs {
		out[i] = WrittenJob{BundleDir: dirs[i], Job: j}
	}
	return out
}
