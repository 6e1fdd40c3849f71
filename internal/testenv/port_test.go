package testenv

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePortIsOutsideTheEphemeralRange(t *testing.T) {
	low, high := ephemeralRange()
	for range 20 {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if port >= low && port <= high {
			t.Fatalf("port %d is in the ephemeral range %d-%d", port, low, high)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("port %d was not free: %v", port, err)
		}
		l.Close()
	}
}

func TestListenableNeedsEveryAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if listenable(port, []string{"127.0.0.1"}) {
		t.Fatalf("port %d is taken on 127.0.0.1 but was found listenable", port)
	}
	if listenable(port, []string{"::1", "127.0.0.1"}) {
		t.Fatalf("port %d is taken on one of the addresses but was found listenable on all", port)
	}
}
