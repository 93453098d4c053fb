//go:build unix && !linux

package fuzz

import "syscall"

// tiedSysProcAttr puts an agent command in a process group of its own
// (stopped as one). Only Linux can signal it when qgafuzz dies.
func tiedSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
