package fuzz

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// This file is the one place where inputs are written to and read from
// disk: corpora (one raw input per file, the format of every engine) and
// crashers. Every file is written atomically (a temporary file in the same
// directory, synced, then renamed, then the directory synced), so a reader
// never sees a partially written input, even if qgafuzz is killed
// mid-write.

// WriteFileAtomic writes data to path through a temporary file and a
// rename.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := WriteTemp(dir, filepath.Base(path), data)
	if err == nil {
		if err = os.Rename(tmp, path); err != nil {
			_ = os.Remove(tmp)
		}
	}
	if err != nil {
		return fmt.Errorf("fuzz: writing %s: %w", path, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("fuzz: writing %s: %w: %w", path, ErrNotDurable, err)
	}
	return nil
}

// ErrNotDurable is the error (tested with errors.Is) of a write that put
// its file in place but could not sync its directory: the file is there
// and whole, but may not survive a crash of the machine. A caller that
// must not lose what it writes (a crasher) goes on with its next file.
var ErrNotDurable = errors.New("in place, but its directory could not be synced, so it may not survive a crash")

// WriteTemp writes data, synced and readable by all, to a new temporary
// file in dir named after base (see TempPattern) and returns its path, for
// a caller to rename into place: WriteFileAtomic, or one that must put
// several files in place together.
func WriteTemp(dir, base string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, TempPattern(base))
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// SyncDir flushes the directory dir's entries to disk, so that a rename
// into it survives a power cut as well as a kill. A system that cannot
// open or sync a directory (Windows, some network file systems) is not an
// error: the rename itself succeeded, and nothing more can be done there.
// Any other failure of the open or the sync (EIO, ENOSPC, EROFS...) is
// returned, as os returns it: what was just renamed into dir may not
// survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err == nil {
		err = syncFile(d)
		d.Close()
	}
	if err == nil || cannotSyncDirs(err) {
		return nil
	}
	return err
}

// syncFile syncs an open directory (a variable for the tests, which make
// it fail).
var syncFile = (*os.File).Sync

// cannotSyncDirs reports whether err, of opening or syncing a directory,
// says that directories cannot be synced here (or opened: a directory
// without read permission), rather than that the sync failed.
func cannotSyncDirs(err error) bool {
	return errors.Is(err, errors.ErrUnsupported) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EBADF) || errors.Is(err, syscall.EISDIR)
}

// TempPattern is the pattern (for os.CreateTemp and os.MkdirTemp) of the
// temporary name under which a file or directory named base is written
// before its rename: hidden, so readers skip it, and with base cut short,
// so that a name near the file system's 255-byte limit still leaves room
// for the prefix and the random part.
func TempPattern(base string) string {
	const keep = 64
	if len(base) > keep {
		base = base[:keep]
	}
	return ".tmp-" + base + "-*"
}

// MaxInputFile is the largest file read as an input (corpus.MaxFileSize):
// room for a stream past qemu-ga's 64 MiB token limit, with a bound.
const MaxInputFile = 128 << 20

// ReadCorpus reads every regular file of dir (not recursively; hidden and
// temporary files, and files over MaxInputFile, are skipped) as one input,
// sorted by name. A missing directory is an empty corpus.
func ReadCorpus(dir string) (names []string, inputs [][]byte, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if info, err := e.Info(); err == nil && info.Size() > MaxInputFile {
			continue // a stray core dump is not a seed (qgafuzz corpus stats reports it)
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, nil, err
		}
		names = append(names, e.Name())
		inputs = append(inputs, b)
	}
	return names, inputs, nil
}

// CrashStore keeps crashers in a directory: for each failing input, the
// input itself (crash-<hash>, raw, as every engine and `qgafuzz repro` read
// it) and a report (crash-<hash>.txt). The report is written first and both
// atomically, so a crasher on disk is always complete and has its report; a
// report without its input only means the writer was interrupted between
// the two renames (saving again completes it).
type CrashStore struct {
	Dir string
}

// Crasher is one stored crasher.
type Crasher struct {
	Path   string // the raw input
	Report string // the report file (Path + ".txt")
	// New is false when the same input was stored before.
	New bool
	// Repro is the command that reproduces the crasher ("" when unknown).
	Repro string
	// Signature is the engine-independent signature (Failure.Signature)
	// of re-running the crasher in process; "" when unknown, and
	// NoSignature then says why. Set by engine runs (see GroupCrashers).
	Signature, NoSignature string
	// Size is the input's length in bytes.
	Size int
}

// PathOf is where Save stores data: the name depends only on the input,
// so a report can name its crasher before it is written.
func (s CrashStore) PathOf(data []byte) string {
	return filepath.Join(s.Dir, "crash-"+InputName(data))
}

// Save stores a failing input and its report. Saving the same input twice
// keeps one copy.
func (s CrashStore) Save(data []byte, report string) (Crasher, error) {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return Crasher{}, err
	}
	p := s.PathOf(data)
	c := Crasher{Path: p, Report: p + ".txt", Size: len(data)}
	if _, err := os.Stat(p); err == nil {
		return c, nil
	}
	c.New = true
	// The report first: a crasher on disk always has its report. A report
	// in place but not synced does not stop the input from being written:
	// a crasher is never dropped for a failing directory sync.
	rerr := WriteFileAtomic(c.Report, []byte(report))
	if rerr != nil && !errors.Is(rerr, ErrNotDurable) {
		return c, rerr
	}
	// A failing write of the input is its own error: joined with the
	// report's ErrNotDurable, errors.Is would take it for stored.
	werr := WriteFileAtomic(p, data)
	if werr != nil && !errors.Is(werr, ErrNotDurable) {
		return c, werr
	}
	return c, errors.Join(rerr, werr)
}

// SaveFailure stores a failure with its report.
func (s CrashStore) SaveFailure(f *Failure) (Crasher, error) {
	return s.Save(f.Input, f.Report())
}

// List returns the stored crashers' input paths, sorted.
func (s CrashStore) List() ([]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, "crash-") && !strings.HasSuffix(n, ".txt") {
			out = append(out, filepath.Join(s.Dir, n))
		}
	}
	sort.Strings(out)
	return out, nil
}

// ModuleRoot finds the qgafuzz source tree (the directory holding its
// go.mod) from dir upwards. The engines need it: they build the fuzz
// package from source, and the seed corpora live in it.
func ModuleRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	start := d // named in the error: "." says nothing of where that is
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/qgafuzz/qgafuzz\n") {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("fuzz: %s is not inside the qgafuzz source tree (no go.mod of github.com/qgafuzz/qgafuzz above it); run from a checkout", start)
		}
		d = parent
	}
}

// CorpusDir is the seed corpus directory of a target in the source tree.
func CorpusDir(root, target string) string { return filepath.Join(root, "corpus", target) }

// SeedDir is the seed corpus directory a target starts from: its
// CorpusDir, except for the planted test fixture, which starts from the
// parser's seeds (as FuzzPlanted and the engine scripts seed it).
func SeedDir(root, target string) string {
	if target == PlantedTarget {
		target = "parser"
	}
	return CorpusDir(root, target)
}

// Printable escapes control characters (as \uXXXX) and bytes that are not
// UTF-8 (as \xNN) in text from outside (an agent's reply, a file name),
// so that it cannot move a terminal's cursor, set its title, or land raw
// in a report.
func Printable(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
