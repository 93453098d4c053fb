package corpus

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// This file reads and writes corpus directories. Reading never gives up on
// one bad file: an unreadable or undecodable file is reported as a Problem
// and skipped, so that a corpus of thousands of files with one broken
// entry can still be minimized or merged. Writing is atomic per file
// (fuzz.WriteFileAtomic) and never overwrites an existing file with
// different content.

// Entry is one input read from disk.
type Entry struct {
	Path   string
	Name   string // base name
	Data   []byte // the decoded input
	Format Format
}

// Problem is a file that could not be used, or, with Warning set, a file
// or directory that was read but perhaps not as its owner meant (Err says
// how it was read and why that may be wrong).
type Problem struct {
	Path    string
	Err     error
	Warning bool
}

func (p Problem) String() string {
	if p.Warning {
		return fuzz.Printable(fmt.Sprintf("warning: %s: %v", p.Path, p.Err))
	}
	return fuzz.Printable(fmt.Sprintf("skipping %s: %v", p.Path, p.Err))
}

// Skipped counts the problems that are files left out, not warnings.
func Skipped(probs []Problem) int {
	n := 0
	for _, p := range probs {
		if !p.Warning {
			n++
		}
	}
	return n
}

// ReadDirs reads every input of the given directories (not recursively;
// the corpus/ directory of a go-fuzz workdir is used when given the
// workdir). A path that is a file is read as one input. Each file's
// format is told from its content, except that a file of a directory
// is native only when every file of the directory is: a directory that
// mixes native files with others is read as raw, headers included, and
// reported as a warning Problem. A directory that does not exist or
// cannot be listed is an error; a file that cannot be read or decoded,
// and a subdirectory, is a Problem.
func ReadDirs(paths ...string) ([]Entry, []Problem, error) {
	return readDirs("", paths)
}

// ReadDirsAs is ReadDirs for inputs known to be in format f: no file's
// format is guessed from its content, so a libFuzzer input that happens to
// start with Go's "go test fuzz v1" header stays as it is, and a file of a
// native corpus that is not a native file is a Problem.
func ReadDirsAs(f Format, paths ...string) ([]Entry, []Problem, error) {
	return readDirs(f, paths)
}

// readDirs reads paths as format as, or guessing each file's format when
// as is "".
func readDirs(as Format, paths []string) ([]Entry, []Problem, error) {
	var out []Entry
	probs, err := walkDirs(as, paths, func(e Entry) error {
		out = append(out, e)
		return nil
	}, nil)
	if err != nil {
		return nil, nil, err
	}
	return out, probs, nil
}

// walkDirs reads the inputs of paths one at a time, as readDirs does, and
// hands each to fn, so that a caller that needs one input at a time holds
// one in memory, not the whole corpus. An error from fn stops the walk.
// progress, if not nil, is called once the directories are listed (done
// 0) and after each file with the number of files done (handed to fn,
// or reported as a Problem) and their total.
func walkDirs(as Format, paths []string, fn func(Entry) error, progress func(done, total int)) ([]Problem, error) {
	// A mistyped path, or a directory that cannot be listed, fails the
	// walk before fn sees any input, as when the whole corpus was read
	// first: export and import must not leave a partial output behind
	// for a typo in their last source. Listing every directory first
	// also gives progress its total.
	type source struct {
		path     string          // a file given as such
		dir      string          // or a directory
		files    []string        // of dir
		siblings map[string]bool // see detect
	}
	srcs := make([]source, len(paths))
	for i, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("corpus: %w", err)
		}
		if !st.IsDir() {
			srcs[i].path = p
		}
	}
	total := 0
	for i, p := range paths {
		if srcs[i].path != "" {
			total++
			continue
		}
		dir := inputDir(p)
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("corpus: cannot list %s: %w", dir, err)
		}
		sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
		var files []string
		siblings := map[string]bool{}
		for _, de := range ents {
			name := de.Name()
			if !skipFile(name, as) {
				files = append(files, filepath.Join(dir, name))
			}
			for _, ext := range []string{".quoted", ".output"} {
				if base, ok := strings.CutSuffix(name, ext); ok {
					siblings[base] = true
				}
			}
		}
		srcs[i].dir, srcs[i].files, srcs[i].siblings = dir, files, siblings
		total += len(files)
	}
	done := 0
	if progress != nil {
		progress(0, total)
	}
	step := func() {
		done++
		if progress != nil {
			progress(done, total)
		}
	}
	var probs []Problem
	for _, src := range srcs {
		if p := src.path; p != "" {
			e, err := readEntry(p, as, true, nil)
			if err == nil && isZip(p, e.Data) {
				// A seed corpus as OSS-Fuzz ships it, not an input.
				err = errors.New("a zip archive, not an input: unzip it and give the directory")
			}
			if err != nil {
				probs = append(probs, Problem{Path: p, Err: err})
			} else if err := fn(e); err != nil {
				return probs, err
			}
			step()
			continue
		}
		dir, files := src.dir, src.files
		// Guessing, a file is native only in a directory of native
		// files: a raw corpus may hold an input that merely starts like
		// one, and that input is raw (as in Layout). But a directory
		// where such files are many, or most, may well be a native
		// corpus with strays in it: say so, since its native files then
		// reach the target with their header. Only a directory that
		// may be native has its headers read before its files: for
		// the others (a raw corpus: its first header says so), the
		// files are counted as they are read, each file read once.
		native := as != ""
		counting := false
		if !native {
			native = allNative(files)
			counting = !native
		}
		first, nat, other := len(probs), 0, 0
		for _, path := range files {
			// Subdirectories, sockets and dangling links are not
			// read, but reported (ReadFile says why).
			e, err := readEntry(path, as, native, src.siblings)
			if counting {
				// As countNative counts: e.Data is the file's
				// content, read as raw.
				isNat, herr := err == nil && isNative(e.Data), error(nil)
				if err != nil {
					isNat, herr = regularNativeHeader(path)
				}
				switch {
				case herr != nil:
				case isNat:
					nat++
				default:
					other++
				}
			}
			if err != nil {
				probs = append(probs, Problem{Path: path, Err: err})
			} else if err := fn(e); err != nil {
				return probs, err
			}
			step()
		}
		if nat > 0 && other > 0 {
			probs = slices.Insert(probs, first, Problem{Path: dir, Warning: true, Err: fmt.Errorf(
				"%d of its %d files are Go native fuzz files (%q header) and the others are not: all are read as raw inputs, "+
					"headers included; if it is a native corpus, move the other files out (or convert it with "+
					"'qgafuzz corpus import --format native', which skips them)", nat, nat+other, strings.TrimSpace(nativeHeader))})
		}
	}
	return probs, nil
}

// isGoFuzzWorkdir reports whether dir is a go-fuzz workdir: it has a
// corpus/ subdirectory and no input files of its own.
func isGoFuzzWorkdir(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "corpus"))
	if err != nil || !st.IsDir() {
		return false
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Type().IsRegular() && !skipName(e.Name()) {
			return false
		}
	}
	return true
}

// inputDir is the directory that holds the inputs of the corpus directory
// dir: the corpus/ subdirectory of a go-fuzz workdir, else dir itself.
func inputDir(dir string) string {
	if isGoFuzzWorkdir(dir) {
		return filepath.Join(dir, "corpus")
	}
	return dir
}

// isZip reports whether the file at path, holding b, is a zip archive.
func isZip(path string, b []byte) bool {
	return strings.EqualFold(filepath.Ext(path), ".zip") && (bytes.HasPrefix(b, []byte("PK\x03\x04")) || bytes.HasPrefix(b, []byte("PK\x05\x06")))
}

// allNative reports whether the files at paths that can be read include
// native files and no others. It reads their headers up to the first
// that is not native.
func allNative(paths []string) bool {
	native := 0
	for _, p := range paths {
		switch isNat, err := regularNativeHeader(p); {
		case err != nil:
			continue
		case !isNat:
			return false
		}
		native++
	}
	return native > 0
}

// regularNativeHeader is hasNativeHeader for a regular file (or a link to
// one), and an error for anything else: a FIFO would block.
func regularNativeHeader(path string) (bool, error) {
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		return false, errors.New("not a regular file")
	}
	return hasNativeHeader(path)
}

// readEntry reads one input file as readInput does.
func readEntry(path string, as Format, native bool, siblings map[string]bool) (Entry, error) {
	data, f, err := readInput(path, as, native, siblings)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return Entry{}, pe.Err
		}
		return Entry{}, err
	}
	if f == SimTrace {
		return Entry{}, errors.New("a simulation schedule, not a fuzz input")
	}
	return Entry{Path: path, Name: filepath.Base(path), Data: data, Format: f}, nil
}

// seenSet holds the SHA-256 of the inputs met so far, to find duplicates
// without keeping a second copy of every input.
type seenSet map[[sha256.Size]byte]bool

// add records data and reports whether it was new.
func (s seenSet) add(data []byte) bool {
	k := sha256.Sum256(data)
	if s[k] {
		return false
	}
	s[k] = true
	return true
}

// addDir records the inputs of dir, read as format as, and returns how
// many it read. Files that cannot be read are left out; a directory that
// cannot be listed is the error.
// progress is as walkDirs's.
func (s seenSet) addDir(as Format, dir string, progress func(done, total int)) (int, error) {
	n := 0
	_, err := walkDirs(as, []string{dir}, func(e Entry) error {
		n++
		s.add(e.Data)
		return nil
	}, progress)
	return n, err
}

// Dedup returns the entries with distinct content (the first of each) and
// the number of duplicates dropped.
func Dedup(es []Entry) ([]Entry, int) {
	seen := seenSet{}
	var out []Entry
	for _, e := range es {
		if seen.add(e.Data) {
			out = append(out, e)
		}
	}
	return out, len(es) - len(out)
}

// WriteResult says what Write did.
type WriteResult struct {
	Dir               string // where the files are
	Written, Existing int
	Bytes             int64
	// Duplicates counts the inputs given more than once (Convert): each
	// is written once.
	Duplicates int
	// StaleTemp counts the temporary files (.tmp-*, over staleTempAge
	// old) that a writer killed mid-batch had left in Dir, removed
	// before the first write.
	StaleTemp int

	batch writeBatch
}

// staleTempAge is how old a temporary file must be to be taken for a
// dead writer's: a live one renames or removes its files within a batch.
const staleTempAge = 10 * time.Minute

// removeStaleTemp removes the temporary files of dead writers from dir
// (its top level, where add writes them) and returns how many it removed.
func removeStaleTemp(dir string) int {
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTempAge &&
			os.Remove(filepath.Join(dir, e.Name())) == nil {
			n++
		}
	}
	return n
}

// writeBatch is the files add has written under temporary names and not
// yet synced and renamed into place (see flush).
type writeBatch struct {
	made  bool // Dir exists
	files []pendingFile
	bytes int64
	at    map[string][sha256.Size]byte // final path -> content's SHA-256
}

type pendingFile struct {
	f         *os.File
	tmp, path string
	size      int64 // of the input
}

// A batch is flushed when it holds this many files or bytes. Syncing one
// file at a time, and the directory after each (fuzz.WriteFileAtomic),
// took two disk flushes per file: a minute for 50,000 files, while syncs
// issued together are committed together. Each file still appears only
// whole, synced before its rename.
const (
	batchFiles = 128
	batchBytes = 16 << 20
	syncers    = 16
)

// Write stores the entries in dir in format f, one file each, atomically.
// Raw and native files keep their names when these are free; go-fuzz and
// libFuzzer files are named by their SHA-1, as the engines name them. A
// file already holding the same input is left alone; a name taken by
// another input gets the content-addressed name instead. dir is created
// when there is something to write.
func Write(dir string, f Format, es []Entry) (WriteResult, error) {
	res := WriteResult{Dir: dir}
	for _, e := range es {
		if err := res.add(f, e); err != nil {
			return res, err
		}
	}
	// Flushed first, then returned: in "return res, res.flush()" the
	// order in which res is read and flush updates it is unspecified.
	err := res.flush()
	return res, err
}

// add writes one entry into res.Dir as Write does: into a temporary file,
// put in place (and counted in Written) by flush, which add calls when
// the batch is full and its caller must call after the last add, and
// before it uses the counts. An error is returned after a flush.
func (res *WriteResult) add(f Format, e Entry) error {
	if !res.batch.made {
		// The directory is made for the first input, and not for
		// nothing.
		if err := os.MkdirAll(res.Dir, 0o755); err != nil {
			return fmt.Errorf("corpus: %w", err)
		}
		res.batch.made = true
		// A writer killed mid-batch (kill -9) leaves up to a batch of
		// them; readers skip them, but they would stay for good.
		res.StaleTemp = removeStaleTemp(res.Dir)
	}
	content := Encode(f, e.Data)
	name := e.Name
	if f == GoFuzz || f == LibFuzzer || name == "" || skipName(name) {
		name = FileName(f, e.Data)
	}
	path := filepath.Join(res.Dir, name)
	same, taken := res.holds(path, content)
	if taken && !same {
		path = filepath.Join(res.Dir, FileName(f, e.Data))
		if same, taken = res.holds(path, content); taken && !same {
			ferr := res.flush()
			return errors.Join(fmt.Errorf("corpus: %s holds another input; not overwriting it (%d files written before are complete)", path, res.Written), ferr)
		}
	}
	if same {
		res.Existing++
		return nil
	}
	tmp, err := os.CreateTemp(res.Dir, fuzz.TempPattern(filepath.Base(path)))
	if err == nil {
		_, err = tmp.Write(content)
		if err == nil {
			err = tmp.Chmod(0o644)
		}
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}
	if err != nil {
		ferr := res.flush()
		return errors.Join(fmt.Errorf("corpus: writing %s: %w (%d files written before the failure are complete)", path, err, res.Written), ferr)
	}
	b := &res.batch
	if b.at == nil {
		b.at = map[string][sha256.Size]byte{}
	}
	b.at[path] = sha256.Sum256(content)
	b.files = append(b.files, pendingFile{f: tmp, tmp: tmp.Name(), path: path, size: int64(len(e.Data))})
	b.bytes += int64(len(content))
	if len(b.files) >= batchFiles || b.bytes >= batchBytes {
		return res.flush()
	}
	return nil
}

// flush syncs the batch's files (several at once), renames each into
// place, and syncs the directory once. A file that cannot be synced or
// renamed is removed, and so are the batch's files after it, so that
// Written counts exactly the files in place.
func (res *WriteResult) flush() error {
	b := &res.batch
	files := b.files
	b.files, b.bytes = nil, 0
	clear(b.at)
	if len(files) == 0 {
		return nil
	}
	written := res.Written
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, syncers)
	for i := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			errs[i] = files[i].f.Sync()
			if cerr := files[i].f.Close(); errs[i] == nil {
				errs[i] = cerr
			}
			<-sem
		}()
	}
	wg.Wait()
	var first error
	for i, p := range files {
		err := errs[i]
		if err == nil && first == nil {
			err = os.Rename(p.tmp, p.path)
		}
		if err != nil || first != nil {
			os.Remove(p.tmp)
			if first == nil {
				first = fmt.Errorf("corpus: writing %s: %w (%d files written before the failure are complete)", p.path, err, res.Written)
			}
			continue
		}
		res.Written++
		res.Bytes += p.size
	}
	if err := syncDir(res.Dir); err != nil && res.Written > written {
		// The files are in place and counted, but the renames may not
		// survive a crash.
		first = errors.Join(first, fmt.Errorf("corpus: %w (the %d files just written to %s may not survive a crash)", err, res.Written-written, res.Dir))
	}
	return first
}

// syncDir is fuzz.SyncDir, which the tests count and make fail.
var syncDir = fuzz.SyncDir

// holds is holds for the file at path, or the one the batch will put
// there.
func (res *WriteResult) holds(path string, content []byte) (same, taken bool) {
	if sum, ok := res.batch.at[path]; ok {
		return sum == sha256.Sum256(content), true
	}
	return holds(path, content)
}

// holds reports whether path holds exactly content, and whether anything
// is at path at all (a file that cannot be read counts as other content).
func holds(path string, content []byte) (same, taken bool) {
	if _, err := os.Lstat(path); err != nil {
		return false, !errors.Is(err, fs.ErrNotExist)
	}
	old, err := ReadFile(path)
	return err == nil && bytes.Equal(old, content), true
}

// Size returns the total bytes of the entries' inputs.
func Size(es []Entry) int64 {
	var n int64
	for _, e := range es {
		n += int64(len(e.Data))
	}
	return n
}

// HarvestResult says what Harvest did.
type HarvestResult struct {
	Added int // inputs new to the corpus, now written into it
	Total int // the corpus's inputs after
	// Problems are the files of src that could not be read (left where
	// they are). Those of the corpus itself are not: whoever reads the
	// corpus reports them.
	Problems []Problem
}

// Harvest copies the inputs of src (read as format from, so nothing is
// guessed from content) into the raw corpus directory into, under
// content-addressed names, except those that into or one of the known
// directories already holds. It is how what an engine found in its own
// directory (native fuzzing's cache, go-fuzz's workdir) comes back into a
// working corpus that every tool reads.
func Harvest(into, src string, from Format, known ...string) (HarvestResult, error) {
	var res HarvestResult
	if _, err := os.Stat(src); err != nil {
		return res, fmt.Errorf("corpus: %w", err)
	}
	// One input at a time, as everywhere a corpus is only copied.
	seen := seenSet{}
	if _, err := os.Stat(into); err == nil {
		if res.Total, err = seen.addDir(Raw, into, nil); err != nil {
			return res, err
		}
	}
	for _, dir := range known {
		seen.addDir("", dir, nil) // an absent seed directory knows nothing
	}
	w := WriteResult{Dir: into}
	probs, err := walkDirs(from, []string{src}, func(e Entry) error {
		if !seen.add(e.Data) {
			return nil
		}
		e.Name = fuzz.InputName(e.Data)
		return w.add(Raw, e)
	}, nil)
	// The files added are put in place whatever stopped the walk.
	if ferr := w.flush(); err == nil {
		err = ferr
	} else if ferr != nil {
		err = errors.Join(err, ferr) // the walk's error, and why a file was not put in place
	}
	res.Problems = append(res.Problems, probs...)
	res.Added = w.Written
	res.Total += w.Written
	return res, err
}
