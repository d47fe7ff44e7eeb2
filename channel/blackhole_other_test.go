//go:build !linux

package channel_test

import (
	"net"
	"testing"
)

// blackhole returns an address that accepts connections and never answers (where a
// listener with a full queue cannot be set up portably, this stands in for a firewall
// that drops packets: the request times out all the same).
func blackhole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return l.Addr().String()
}
