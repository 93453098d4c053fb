//go:build unix

package corpus

import (
	"os"
	"syscall"
)

// ownGroup puts the server in a process group of its own: Ctrl-C on a
// terminal interrupts qgafuzz, which still needs the server to triage
// what was found.
func ownGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// killGroup kills the process group that p leads (made by ownGroup): the
// go command with the compilers it runs.
func killGroup(p *os.Process) error { return syscall.Kill(-p.Pid, syscall.SIGKILL) }
