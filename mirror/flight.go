package mirror

import (
	"errors"
	"sync"
)

// Flight is how many packages a run had in flight at its peak: fetching (downloading,
// or copying out of a bundle, and verifying) and uploading, and the most of both at one
// moment, which shows the two overlapped.
type Flight struct {
	Fetching  int `json:"fetching"`
	Uploading int `json:"uploading"`
	// Overlap is the peak of fetching and uploading packages together while both were
	// under way.
	Overlap int `json:"overlap"`
}

// flight counts packages in flight, and collects the packages that failed to arrive:
// a run goes on fetching the others after one fails, so that a single run names every
// package that is missing or wrong, and a re-run finds the rest in the cache.
type flight struct {
	mu                  sync.Mutex
	fetching, uploading int
	peak                Flight
	failures            []error
}

// fail records a package that could not be fetched.
func (f *flight) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, err)
}

// failed reports whether a package could not be fetched: uploading more is pointless.
func (f *flight) failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.failures) > 0
}

// err is every failure, or nil.
func (f *flight) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return errors.Join(f.failures...)
}

// fetch and upload count a package in (+1) or out (-1) of a stage.
// A nil flight counts nothing.
func (f *flight) fetch(d int) {
	if f != nil {
		f.add(&f.fetching, d)
	}
}

func (f *flight) upload(d int) {
	if f != nil {
		f.add(&f.uploading, d)
	}
}

func (f *flight) add(n *int, d int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*n += d
	f.peak.Fetching = max(f.peak.Fetching, f.fetching)
	f.peak.Uploading = max(f.peak.Uploading, f.uploading)
	if f.fetching > 0 && f.uploading > 0 {
		f.peak.Overlap = max(f.peak.Overlap, f.fetching+f.uploading)
	}
}

func (f *flight) peaks() Flight {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.peak
}
