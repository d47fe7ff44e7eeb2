// Package faultpoint lets tests stop the condachan binary at named points, to kill or
// pause it exactly there (crash-consistency tests of publishing and the channel lease).
// CONDACHAN_FAULTPOINT=name[,name...] makes Hit(name) print "faultpoint: name" on stderr
// and then sleep for CONDACHAN_FAULTPOINT_SLEEP (default one hour). Without the variable
// Hit does nothing.
package faultpoint

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

var (
	once   sync.Once
	points map[string]bool
	pause  time.Duration
)

func load() {
	v := os.Getenv("CONDACHAN_FAULTPOINT")
	if v == "" {
		return
	}
	points = map[string]bool{}
	for _, p := range strings.Split(v, ",") {
		points[strings.TrimSpace(p)] = true
	}
	pause = time.Hour
	if d, err := time.ParseDuration(os.Getenv("CONDACHAN_FAULTPOINT_SLEEP")); err == nil {
		pause = d
	}
}

// Hit announces the point and pauses there when a test asked for it.
func Hit(name string) {
	once.Do(load)
	if points[name] {
		fmt.Fprintf(os.Stderr, "faultpoint: %s\n", name)
		time.Sleep(pause)
	}
}
