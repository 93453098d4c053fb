//go:build unix

package fuzz

import (
	"os"
	"syscall"
)

// groupSysProcAttr puts a command in a process group of its own, so that
// signalGroup reaches its children too.
func groupSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// signalGroup sends sig to the process group that p leads.
func signalGroup(p *os.Process, sig syscall.Signal) error { return syscall.Kill(-p.Pid, sig) }
