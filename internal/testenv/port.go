package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"testing"
)

// FreePort returns a TCP port that nothing listens on at any of ips
// (127.0.0.1 when none) right now, for a server that another process
// starts. It is chosen at random outside the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), where asking for port 0 would pick it:
// there, any outgoing connection of the tests running beside could take it
// as its source port before the server binds it. Outside, only another
// listener could, and the tests choose among some 20,000.
func FreePort(ips ...string) (int, error) {
	if len(ips) == 0 {
		ips = []string{"127.0.0.1"}
	}
	low, high := ephemeralRange()
	var ranges [][2]int // [first, last] outside the ephemeral range
	if low > 10000 {
		ranges = append(ranges, [2]int{10000, low - 1})
	}
	if high < 65535 {
		ranges = append(ranges, [2]int{high + 1, 65535})
	}
	if len(ranges) == 0 {
		return 0, fmt.Errorf("no ports outside the ephemeral range %d-%d", low, high)
	}
	for range 100 {
		r := ranges[rand.IntN(len(ranges))]
		port := r[0] + rand.IntN(r[1]-r[0]+1)
		if listenable(port, ips) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port outside %d-%d on %v after 100 tries", low, high, ips)
}

// FreePortFor is FreePort for a test, which it fails when there is none.
func FreePortFor(t testing.TB, ips ...string) int {
	t.Helper()
	port, err := FreePort(ips...)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// ephemeralRange is the kernel's range of ports for port 0 and outgoing
// connections; Linux's default when it cannot be read.
func ephemeralRange() (low, high int) {
	low, high = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return low, high
	}
	var l, h int
	if _, err := fmt.Sscan(string(b), &l, &h); err == nil && l <= h {
		return l, h
	}
	return low, high
}

// listenable says whether port could be listened on at every one of ips.
func listenable(port int, ips []string) bool {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for _, ip := range ips {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			return false
		}
		ls = append(ls, l)
	}
	return true
}
