package fuzz

import "syscall"

// tiedSysProcAttr puts an agent command in a process group of its own
// (stopped as one) and has the kernel signal it when qgafuzz dies.
func tiedSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
