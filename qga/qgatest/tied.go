package qgatest

import (
	"os/exec"
	"runtime"
)

// StartTied starts cmd, whose SysProcAttr may ask for a parent-death
// signal, and waits for it on one locked OS thread that lives as long as
// the child: the kernel sends that signal when the thread that forked
// exits (go.dev/issue/27505), which must mean when this process dies.
// exited gets Wait's result; done is closed after it returns.
func StartTied(cmd *exec.Cmd, exited func(error)) (done <-chan struct{}, err error) {
	ch := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited(cmd.Wait())
		close(ch)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return ch, nil
}
