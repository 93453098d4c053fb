package fuzz

import (
	"net"
	"syscall"
	"time"
	"unsafe"
)

// waitUnread waits until the peer of conn has read everything written to
// it, or deadline() (which an interrupt moves closer), and reports whether
// it could tell. On a unix socket
// the kernel counts what the peer has not read yet (TIOCOUTQ, zero once
// the last byte is read), so the next write reaches the agent as a read
// of its own however loaded the machine is; a fixed pause cannot promise
// that. Other connections cannot tell.
func waitUnread(conn net.Conn, deadline func() time.Time) bool {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return false
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return false
	}
	pending := func() (n int32, ok bool) {
		cerr := rc.Control(func(fd uintptr) {
			_, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n)))
			ok = e == 0
		})
		return n, ok && cerr == nil
	}
	for wait := time.Duration(0); ; wait = min(2*wait+10*time.Microsecond, time.Millisecond) {
		n, ok := pending()
		if !ok {
			return false
		}
		if n == 0 || time.Now().After(deadline()) {
			return true
		}
		time.Sleep(wait)
	}
}
