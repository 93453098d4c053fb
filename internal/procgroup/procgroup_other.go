//go:build !unix

package procgroup

import (
	"os"
	"syscall"
)

// Attr makes no process group outside Unix.
func Attr() *syscall.SysProcAttr { return nil }

// Signal kills p alone, whatever sig is.
func Signal(p *os.Process, _ syscall.Signal) error { return p.Kill() }
