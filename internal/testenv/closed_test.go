package testenv_test

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/wacamp/wacamp/internal/testenv"
)

// A closed address refuses connections, and no server can take its port
// while the test runs.
func TestClosedAddrRefusesAndIsHeld(t *testing.T) {
	t.Parallel()
	addr := testenv.ClosedAddr(t)
	_, err := net.DialTimeout("tcp", addr, time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want connection refused", addr, err)
	}
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		t.Fatalf("%s could be taken by another server", addr)
	}
}
