//go:build unix

package fuzz

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSyncDirUnreadableDir: a directory that cannot be opened (write and
// search permission only) cannot be synced, and that is not an error; the
// file written into it is in place.
func TestSyncDirUnreadableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root opens any directory")
	}
	dir := filepath.Join(t.TempDir(), "wx")
	if err := os.Mkdir(dir, 0o333); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	if err := SyncDir(dir); err != nil {
		t.Errorf("SyncDir of a directory it cannot open: %v", err)
	}
	path := filepath.Join(dir, "f")
	if err := WriteFileAtomic(path, []byte("data")); err != nil {
		t.Fatalf("WriteFileAtomic into a directory it cannot open: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "data" {
		t.Errorf("the file holds %q, %v", b, err)
	}
}
