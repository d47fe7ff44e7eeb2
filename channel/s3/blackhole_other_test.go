//go:build !linux

package s3store_test

import "testing"

// blackhole returns an address that accepts connections and never answers (where a
// listener with a full queue cannot be set up portably, this stands in for a firewall
// that drops packets: the request times out all the same).
func blackhole(t *testing.T) string {
	t.Helper()
	addr, _ := silentListener(t)
	return addr
}
