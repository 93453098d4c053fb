package fuzz

import (
	"net"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// unreadSpin is how long waitUnread polls without sleeping: long enough
// for nine writes in ten to be read, against a reference agent on a
// socket and a qemu-ga alike.
const unreadSpin = 100 * time.Microsecond

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
	// Most writes are read within 10 µs, but a sleep that short lasts
	// 0.15–0.9 ms (measured), and a generated stream has hundreds of
	// writes: poll, yielding, for a while before sleeping. Bounded, so
	// that a slow agent (a loaded machine) gets the CPU back.
	for spin := time.Now().Add(unreadSpin); time.Now().Before(spin); {
		n, ok := pending()
		if !ok {
			return false
		}
		if n == 0 {
			return true
		}
		runtime.Gosched()
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
