//go:build unix

package qga_test

import (
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/qga"
)

// socketPairFDs returns the ends of a unix stream socket pair, both
// close-on-exec so that no agent a parallel test starts inherits one. It
// sets the flag as package net does where SOCK_CLOEXEC is missing (macOS):
// under ForkLock.
func socketPairFDs(t *testing.T) [2]int {
	t.Helper()
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	return fds
}

// TestClientFileTransport runs the client over an *os.File (here one end
// of a socket pair, standing in for a virtio-serial port): deadlines work,
// so a silent agent ends in a timeout.
func TestClientFileTransport(t *testing.T) {
	fds := socketPairFDs(t)
	syscall.SetNonblock(fds[0], true)
	f := os.NewFile(uintptr(fds[0]), "port")
	peer := os.NewFile(uintptr(fds[1]), "agent")
	agentConn, err := net.FileConn(peer)
	peer.Close()
	if err != nil {
		t.Fatal(err)
	}
	srv := &qga.Server{Agent: qga.NewAgent(qga.AgentConfig{})}
	go srv.ServeConn(agentConn)
	c := qga.NewClient(f, qga.ClientOptions{Timeout: 2 * time.Second})
	v, err := callValue(c, 0, qga.CmdSync, syncArgs(11))
	wantSync(t, v, err, 11)
	agentConn.Close() // the agent goes away: EOF
	_, err = callValue(c, 0, qga.CmdPing, nil)
	wantErr(t, err, qga.ErrClosed)
	c.Close()
}
