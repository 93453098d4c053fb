//go:build unix

package procgroup

import (
	"os"
	"syscall"
)

// Attr puts a command in a process group of its own.
func Attr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// Signal sends sig to the process group that p leads (made by Attr).
func Signal(p *os.Process, sig syscall.Signal) error { return syscall.Kill(-p.Pid, sig) }
