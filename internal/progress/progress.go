// Package progress reports the progress of long operations: a bar on a terminal,
// `openjd_progress:` / `openjd_status:` lines for Deadline Cloud (OpenJD reads them from
// stdout), or nothing.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Reporter receives progress. Implementations are safe for concurrent use.
type Reporter interface {
	// Status announces a new phase.
	Status(msg string)
	// Update reports done out of total units (bytes); total 0 means unknown.
	Update(done, total int64)
	// Finish ends the display.
	Finish()
}

// Mode names how progress is shown.
type Mode string

const (
	ModeAuto   Mode = "auto"   // a bar when stderr is a terminal, otherwise nothing
	ModeBar    Mode = "bar"    // always a bar on stderr
	ModeOpenJD Mode = "openjd" // openjd_progress / openjd_status lines on stdout
	ModeNone   Mode = "none"
)

// ParseMode validates a --progress value.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case ModeAuto, ModeBar, ModeOpenJD, ModeNone:
		return Mode(s), nil
	case "":
		return ModeAuto, nil
	}
	return "", fmt.Errorf("unknown progress mode %q: use auto, bar, openjd or none", s)
}

// New returns a Reporter for mode, writing bars to stderr and OpenJD lines to stdout.
func New(mode Mode, stdout, stderr io.Writer) Reporter {
	switch mode {
	case ModeOpenJD:
		return &openJD{w: stdout, last: -1}
	case ModeBar:
		return &bar{w: stderr}
	case ModeAuto:
		if IsTerminal(stderr) {
			return &bar{w: stderr}
		}
	}
	return Nop{}
}

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Nop reports nothing.
type Nop struct{}

func (Nop) Status(string)       {}
func (Nop) Update(int64, int64) {}
func (Nop) Finish()             {}

// openJD prints a progress line each time the whole percentage changes.
type openJD struct {
	mu   sync.Mutex
	w    io.Writer
	last int
}

func (o *openJD) Status(msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, "openjd_status: %s\n", oneLine(msg))
}

func (o *openJD) Update(done, total int64) {
	if total <= 0 {
		return
	}
	pct := int(done * 100 / total)
	pct = max(0, min(pct, 100))
	o.mu.Lock()
	defer o.mu.Unlock()
	if pct != o.last {
		o.last = pct
		fmt.Fprintf(o.w, "openjd_progress: %d\n", pct)
	}
}

func (o *openJD) Finish() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.last != 100 {
		o.last = 100
		fmt.Fprintf(o.w, "openjd_progress: 100\n")
	}
}

// bar redraws one line on a terminal, at most ten times a second.
type bar struct {
	mu      sync.Mutex
	w       io.Writer
	status  string
	start   time.Time
	drawn   time.Time
	visible bool
}

func (b *bar) Status(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.visible {
		fmt.Fprint(b.w, "\r\033[K")
		b.visible = false
	}
	b.status = oneLine(msg)
	b.start = time.Now()
	fmt.Fprintf(b.w, "%s\n", b.status)
}

func (b *bar) Update(done, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if now.Sub(b.drawn) < 100*time.Millisecond && done < total {
		return
	}
	b.drawn = now
	const width = 30
	var line string
	if total > 0 {
		frac := float64(done) / float64(total)
		frac = max(0, min(frac, 1))
		fill := int(frac * width)
		eta := ""
		if el := now.Sub(b.start); frac > 0.02 && frac < 1 {
			eta = fmt.Sprintf(" ETA %s", (time.Duration(float64(el)/frac) - el).Round(time.Second))
		}
		line = fmt.Sprintf("[%s%s] %3d%% %s/%s%s", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), int(frac*100), HumanBytes(done), HumanBytes(total), eta)
	} else {
		line = HumanBytes(done)
	}
	fmt.Fprintf(b.w, "\r\033[K%s", line)
	b.visible = true
}

func (b *bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.visible {
		fmt.Fprint(b.w, "\r\033[K")
		b.visible = false
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// HumanBytes formats a byte count with binary units.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
