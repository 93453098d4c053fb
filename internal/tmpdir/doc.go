// Package tmpdir makes the temporary directories of qgafuzz's runs (built
// engines, agent sockets, live qemu-ga state) so that a run killed before
// it could remove its own (kill -9, a CI timeout, the OOM killer) does not
// leave it in the temporary directory for good: every directory holds a
// lock file that its process keeps locked, and each new directory's maker
// first removes the directories with its prefix whose lock nobody holds.
//
//	d, err := tmpdir.Make("qgafuzz-agent-")
//	if err != nil {
//		return err
//	}
//	defer d.Remove()
//	sock := filepath.Join(d.Path, "agent.sock")
//
// The lock is the kernel's (flock), so it dies with the process, whatever
// killed it. Where flock is missing (Windows, or a file system without it)
// directories are made and removed as with os.MkdirTemp, and never swept.
package tmpdir
