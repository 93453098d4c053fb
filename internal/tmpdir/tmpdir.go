package tmpdir

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/qgafuzz/qgafuzz/internal/flock"
)

// ownerName is the lock file in each directory. A directory without one
// (being made, or made by an older qgafuzz) is never swept.
const ownerName = ".owner"

// Dir is a temporary directory that this process owns until Remove.
type Dir struct {
	Path  string
	owner *os.File // locked while the directory is ours
}

// Make sweeps the abandoned directories named prefix* in os.TempDir(),
// then creates a new one, prefix followed by a random string, and takes
// its lock.
func Make(prefix string) (*Dir, error) {
	Sweep(os.TempDir(), prefix)
	return makeIn(os.TempDir(), prefix)
}

func makeIn(parent, prefix string) (*Dir, error) {
	path, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return nil, err
	}
	// The lock file is made and locked under another name, then renamed:
	// a sweeper that finds ownerName finds it locked (a lock belongs to
	// the open file, which the rename keeps).
	f, err := os.CreateTemp(path, ownerName+".new-")
	if err != nil {
		os.RemoveAll(path)
		return nil, err
	}
	if err := tryLock(f); err != nil {
		// No locks here: Windows (ErrUnsupported), or a file system
		// without flock (ENOLCK on an NFS mount without a lock manager,
		// EOPNOTSUPP). A plain temporary directory, never swept, as
		// os.MkdirTemp made before, rather than no directory at all.
		f.Close()
		os.Remove(f.Name())
		return &Dir{Path: path}, nil
	}
	if err := os.Rename(f.Name(), filepath.Join(path, ownerName)); err != nil {
		f.Close()
		os.RemoveAll(path)
		return nil, err
	}
	return &Dir{Path: path, owner: f}, nil
}

// tryLock is flock.TryLock; tests replace it to play a file system
// without locks.
var tryLock = flock.TryLock

// Remove removes the directory and everything in it, then lets go of it.
// It is safe to call more than once.
func (d *Dir) Remove() error {
	if d == nil || d.Path == "" {
		return nil
	}
	err := os.RemoveAll(d.Path)
	if d.owner != nil {
		d.owner.Close()
		d.owner = nil
	}
	return err
}

// Sweep removes the directories in parent named prefix* whose owner has
// died: their lock file exists and nobody holds its lock. It returns the
// directories it removed.
func Sweep(parent, prefix string) []string {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		path := filepath.Join(parent, e.Name())
		// Without waiting: in a shared temporary directory anyone may
		// put a FIFO there, and opening it would block.
		f, err := os.OpenFile(filepath.Join(path, ownerName), os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			continue // being made, or not ours
		}
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && tryLock(f) == nil && os.RemoveAll(path) == nil {
			removed = append(removed, path)
		}
		f.Close()
	}
	return removed
}
