//go:build linux

package qgatest

import "syscall"

// childSysProcAttr makes the kernel kill the agent if the test process dies
// without running its cleanups (e.g. on a test timeout panic), so no
// qemu-ga is left behind.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
