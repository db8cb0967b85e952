package freeport

import (
	"fmt"
	"net"
	"testing"
)

func TestGetReturnsAPortOneCanListenOn(t *testing.T) {
	p := Must(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("Must() = %d, want a TCP port", p)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("listening on the port Must returned: %v", err)
	}
	l.Close()
}
