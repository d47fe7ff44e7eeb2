package channel

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
)

// processStart reads a process's start time (clock ticks after boot, field 22 of
// /proc/<pid>/stat) and whether it is a zombie (exited, not yet reaped).
func processStart(pid int) (start string, zombie bool, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", false, err
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return "", false, errors.New("unreadable /proc stat")
	}
	fields := strings.Fields(string(data[i+1:])) // fields[0] is field 3 (state)
	if len(fields) < 20 {
		return "", false, errors.New("unreadable /proc stat")
	}
	if fields[0] == "Z" || fields[0] == "X" {
		return "", true, nil
	}
	return fields[19], false, nil
}

// bootID identifies this boot of this machine's kernel ("" when unknown).
func bootID() string {
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// pidNamespace identifies the PID namespace of this process ("" when unknown), so that
// PIDs recorded by a process of another container are never looked up here.
func pidNamespace() string {
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return ns
}
