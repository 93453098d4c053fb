//go:build unix

package corpus

import "syscall"

// ownGroup puts the server in a process group of its own: Ctrl-C on a
// terminal interrupts qgafuzz, which still needs the server to triage
// what was found.
func ownGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
