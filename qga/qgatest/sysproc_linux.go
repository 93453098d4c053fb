//go:build linux

package qgatest

import "syscall"

// childSysProcAttr makes the kernel kill the agent if the test process dies
// without running its cleanups (e.g. on a test timeout panic), so no
// qemu-ga is left behind. The agent gets a process group of its own: a
// Ctrl-C on a terminal, sent to the whole foreground group, would
// otherwise kill it under a process that still needs it (qgafuzz
// nightly finishes its qemu-ga share and triages after Ctrl-C).
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
