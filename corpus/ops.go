package corpus

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// This file is what `qgafuzz corpus` does: minimize, merge and stats
// (which measure coverage through the server) and import/export (which
// only convert).

// Tool measures coverage with a running coverage server. Server is
// required: a Tool without one fails every call.
type Tool struct {
	Server *Server
	// Log receives one line per skipped file (unreadable, undecodable,
	// failing inputs). Nil discards.
	Log io.Writer
	// Progress, if set, is called while inputs are measured.
	Progress func(target string, done, total int)
	// ReadProgress, if set, is called after each file read before
	// measuring (Measure, Minimize, Merge, ReadStats), with the number
	// of files read and their total.
	ReadProgress func(done, total int)
}

func (t *Tool) logf(format string, args ...any) {
	if t.Log != nil {
		fmt.Fprintf(t.Log, format+"\n", args...)
	}
}

// Measured is a set of inputs with their coverage.
type Measured struct {
	Entries []Entry
	// Items are the sizes of Entries, in order, without their Features:
	// those are kept packed (see InputFeatures), since as []uint32 the
	// features of a corpus of tens of thousands of inputs take ~100 MiB.
	Items    []Item
	Failing  []Entry
	Problems []Problem
	Dups     int
	Elapsed  time.Duration
	// Exec is the time spent in the target itself (one run per input;
	// the server runs each input twice to drop unstable features).
	Exec time.Duration

	features   *featureSets    // of Entries, in order, when kept
	union      map[uint32]bool // the features, when not kept per input
	dupBytes   int64           // the bytes of the Dups
	entryBytes int64           // the bytes of Entries

	// The hash of each entry's data, when the data was dropped once
	// measured (see entries).
	sums []uint64
	seed maphash.Seed
}

// Features returns the number of distinct features of the set.
func (m *Measured) Features() int {
	if m.union != nil {
		return len(m.union)
	}
	if m.features != nil {
		return len(m.features.values)
	}
	return len(Union(m.Items))
}

// InputFeatures returns the features of Entries[i], ascending, or nil when
// they were not kept (Stats measures only their union).
func (m *Measured) InputFeatures(i int) []uint32 {
	if m.features == nil {
		return nil
	}
	return m.features.features(i)
}

// entries returns Entries[idx...] with their data, read again when it
// was dropped once measured: of a large corpus, minimize and merge write
// a few hundred inputs, and holding the data of all doubled what they
// hold besides the features.
func (m *Measured) entries(idx []int) ([]Entry, error) {
	out := make([]Entry, len(idx))
	for i, k := range idx {
		e := m.Entries[k]
		if m.sums != nil {
			data, _, err := readInput(e.Path, e.Format, true, nil)
			if err == nil && (len(data) != m.Items[k].Size || maphash.Bytes(m.seed, data) != m.sums[k]) {
				err = errors.New("it changed while the inputs were measured; run again")
			}
			if err != nil {
				return nil, fmt.Errorf("corpus: reading %s again: %w", e.Path, err)
			}
			e.Data = data
		}
		out[i] = e
	}
	return out, nil
}

// featureSet returns the set of the features of the inputs.
func (m *Measured) featureSet() map[uint32]bool {
	switch {
	case m.union != nil:
		return m.union
	case m.features != nil:
		return m.features.union()
	}
	return Union(m.Items)
}

// PerInput returns the measuring time per input.
func (m *Measured) PerInput() time.Duration {
	n := len(m.Entries) + len(m.Failing)
	if n == 0 {
		return 0
	}
	return m.Elapsed / time.Duration(n)
}

// ExecPerInput returns the target's own time per input (one run).
func (m *Measured) ExecPerInput() time.Duration {
	n := len(m.Entries) + len(m.Failing)
	if n == 0 {
		return 0
	}
	return m.Exec / time.Duration(n)
}

// Measure reads the inputs of paths and measures each. Failing inputs are
// set aside (a corpus must not hold crashers: Go's engine would stop on
// them before fuzzing), unreadable ones reported.
func (t *Tool) Measure(ctx context.Context, target string, paths ...string) (*Measured, error) {
	return t.measure(ctx, target, keepData, paths...)
}

// measure is Measure keeping what keep says.
func (t *Tool) measure(ctx context.Context, target string, keep inputsKept, paths ...string) (*Measured, error) {
	if t == nil || t.Server == nil {
		return nil, errNoServer
	}
	var es []Entry
	probs, err := walkDirs("", paths, func(e Entry) error {
		es = append(es, e)
		return nil
	}, t.ReadProgress)
	if err != nil {
		return nil, err
	}
	for _, p := range probs {
		t.logf("%s", p)
	}
	return t.measureChunks(ctx, target, es, probs, keep)
}

// inputsKept is what measureChunks keeps of each input it measures,
// besides its path, name and format.
type inputsKept int

const (
	keepData     inputsKept = iota // its data and features (Measure)
	keepFeatures                   // its features and the hash of its data
	keepUnion                      // none: the union of all features only
)

// measureChunk is how many inputs measureChunks gives the server at once.
const measureChunk = 1024

// measureChunks measures es a chunk at a time, keeping what keep says.
// With keepUnion, the features of each input are folded into the union
// and dropped (Items is left empty, Features still counts them): stats
// needs no more, and the features of every input of a large corpus are
// tens of MiB even packed. With keepFeatures, the data of each input is
// dropped once measured (entries reads it again).
func (t *Tool) measureChunks(ctx context.Context, target string, es []Entry, probs []Problem, keep inputsKept) (*Measured, error) {
	all := Size(es)
	es, dups := Dedup(es)
	m := &Measured{Problems: probs, Dups: dups, dupBytes: all - Size(es)}
	switch keep {
	case keepUnion:
		m.union = map[uint32]bool{}
	case keepFeatures:
		m.seed = maphash.MakeSeed()
		m.sums = []uint64{}
		fallthrough
	default:
		m.features = newFeatureSets()
	}
	var features []uint32 // of one input, decoded
	start := time.Now()
	for off := 0; off < len(es); off += measureChunk {
		chunk := es[off:min(off+measureChunk, len(es))]
		data := make([][]byte, len(chunk))
		for i, e := range chunk {
			data[i] = e.Data
		}
		// Packed as the server sends them: decoded, each input's
		// features would be garbage four times their packed size.
		res, err := t.Server.measurePacked(ctx, target, data, func(done int) {
			if t.Progress != nil {
				t.Progress(target, off+done, len(es))
			}
		})
		if err != nil {
			return nil, err
		}
		for i, r := range res {
			e := chunk[i]
			chunk[i].Data = nil // kept below if at all, not by es
			m.Exec += r.Duration
			switch {
			case r.Err != "":
				m.Problems = append(m.Problems, Problem{Path: e.Path, Err: fmt.Errorf("%s", r.Err)})
				t.logf("skipping %s: %s", e.Path, r.Err)
				continue
			case r.Fail != "":
				m.Failing = append(m.Failing, e)
				t.logf("skipping %s: it fails (%s); keep crashers out of corpora", e.Path, r.Fail)
				continue
			}
			features = appendDecodedFeatures(features[:0], r.packed) // valid: the batch checked
			m.entryBytes += int64(len(e.Data))
			switch keep {
			case keepUnion:
				m.Entries = append(m.Entries, Entry{Path: e.Path, Name: e.Name, Format: e.Format})
				for _, f := range features {
					m.union[f] = true
				}
				continue
			case keepFeatures:
				m.sums = append(m.sums, maphash.Bytes(m.seed, e.Data))
				m.Entries = append(m.Entries, Entry{Path: e.Path, Name: e.Name, Format: e.Format})
			default:
				m.Entries = append(m.Entries, e)
			}
			m.Items = append(m.Items, Item{Size: len(e.Data)})
			m.features.add(len(e.Data), normalizeList(features))
		}
	}
	m.Elapsed = time.Since(start)
	return m, nil
}

// MinimizeReport says what Minimize did.
type MinimizeReport struct {
	Target                  string
	FilesBefore, FilesAfter int
	BytesBefore, BytesAfter int64
	Duplicates, Failing     int
	Skipped                 int
	FeaturesBefore          int
	FeaturesAfter           int // measured again on the written files
	Elapsed, PerInput       time.Duration
	ExecPerInput            time.Duration
	// Problems are the files skipped or warned about (Skipped counts the
	// skipped ones); failing inputs are counted in Failing instead.
	Problems []Problem
}

// errNoServer is returned by a Tool that has no coverage server to measure
// with.
var errNoServer = errors.New("corpus: the Tool has no Server (start one from Build's binary)")

// Minimize writes to out a subset of the inputs of dirs with the same
// coverage. out must not exist or be empty; it is written in a temporary
// sibling directory and renamed into place, so it is never half-written.
func (t *Tool) Minimize(ctx context.Context, target string, dirs []string, out string) (*MinimizeReport, error) {
	if err := CheckMinimizeOut(out, dirs); err != nil {
		return nil, err
	}
	start := time.Now()
	m, err := t.measure(ctx, target, keepFeatures, dirs...)
	if err != nil {
		return nil, err
	}
	sel, err := m.entries(m.features.cover(nil))
	if err != nil {
		return nil, err
	}
	if err := writeDirAtomic(out, sel); err != nil {
		return nil, err
	}
	after, err := t.Measure(ctx, target, out)
	if err != nil {
		return nil, err
	}
	return &MinimizeReport{Target: target,
		FilesBefore: len(m.Entries) + m.Dups + len(m.Failing), FilesAfter: len(sel),
		BytesBefore: m.entryBytes + Size(m.Failing) + m.dupBytes, BytesAfter: Size(sel),
		Duplicates: m.Dups, Failing: len(m.Failing), Skipped: Skipped(m.Problems),
		FeaturesBefore: m.Features(), FeaturesAfter: after.Features(),
		Elapsed: time.Since(start), PerInput: m.PerInput(), ExecPerInput: m.ExecPerInput(),
		Problems: m.Problems}, nil
}

// CheckMinimizeOut refuses an output directory that holds files or is one
// of the inputs, so that minimizing never mixes with or destroys what is
// there. Minimize checks it first; a caller with expensive work to do
// before (building the coverage server) can check it sooner.
func CheckMinimizeOut(out string, dirs []string) error {
	for _, d := range dirs {
		if samePath(d, out) || samePath(inputDir(d), out) {
			return fmt.Errorf("corpus: --out %s is one of the input directories; write the minimized corpus elsewhere, then swap directories", out)
		}
	}
	ents, err := os.ReadDir(out)
	if err == nil && len(ents) > 0 {
		return fmt.Errorf("corpus: --out %s is not empty; give a new directory", out)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		// A file, say: found now, not after measuring the whole corpus.
		return fmt.Errorf("corpus: --out: %w", err)
	}
	return nil
}

// writeDirAtomic writes es into a new directory out through a temporary
// sibling and a rename.
func writeDirAtomic(out string, es []Entry) error {
	parent := filepath.Dir(filepath.Clean(out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, fuzz.TempPattern(filepath.Base(out)))
	if err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	if _, err := Write(tmp, Raw, es); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	os.Chmod(tmp, 0o755)
	if err := os.Rename(tmp, out); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("corpus: %w", err)
	}
	if err := syncDir(parent); err != nil {
		return fmt.Errorf("corpus: %w (%s is in place, but may not survive a crash)", err, out)
	}
	return nil
}

// MergeReport says what Merge did.
type MergeReport struct {
	Target                        string
	Dir                           string // where the inputs were added
	Format                        Format // in which format
	FilesBefore, Candidates       int
	Added                         int
	BytesAdded                    int64
	FeaturesBefore, FeaturesAfter int
	Skipped                       int
	// Problems are the files of into and of the other directories that
	// were skipped or warned about.
	Problems []Problem
}

// Merge adds to into the inputs of dirs that add coverage to it, in the
// layout into already has (see Layout).
func (t *Tool) Merge(ctx context.Context, target, into string, dirs []string) (*MergeReport, error) {
	if t == nil || t.Server == nil {
		return nil, errNoServer
	}
	base := &Measured{} // a new corpus: created when the first input is written
	if _, err := os.Stat(into); err == nil {
		if base, err = t.Measure(ctx, target, into); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	dir, format := Layout(into, append(append([]Entry(nil), base.Entries...), base.Failing...))
	cand, err := t.measure(ctx, target, keepFeatures, dirs...)
	if err != nil {
		return nil, err
	}
	have := base.featureSet()
	keep := cand.features.cover(cand.features.numbered(have))
	sel, err := cand.entries(keep)
	if err != nil {
		return nil, err
	}
	res, err := Write(dir, format, sel)
	if err != nil {
		return nil, err
	}
	return &MergeReport{Target: target, Dir: dir, Format: format, FilesBefore: len(base.Entries) + len(base.Failing) + base.Dups,
		Candidates: len(cand.Entries), Added: res.Written, BytesAdded: res.Bytes,
		FeaturesBefore: len(have), FeaturesAfter: len(have) + cand.features.countNew(keep, have),
		Skipped:  Skipped(base.Problems) + Skipped(cand.Problems),
		Problems: append(append([]Problem(nil), base.Problems...), cand.Problems...)}, nil
}

// Stats describes a corpus directory.
type Stats struct {
	Files, Duplicates int
	Bytes             int64
	Largest           Entry
	Problems          []Problem
	// Set when coverage was measured.
	Target   string
	Features int
	Failing  int
	PerInput time.Duration
	// ExecPerInput is the target's own time per input.
	ExecPerInput time.Duration
}

// ReadStats counts the files of dirs; with a tool and a target it also
// measures their coverage. The files it skips are in Stats.Problems, not
// in the tool's Log (which gets only what measuring adds: failing inputs
// and the server's errors). It stops with ctx's error when ctx ends.
func ReadStats(ctx context.Context, t *Tool, target string, dirs ...string) (*Stats, error) {
	var progress func(done, total int)
	if t != nil {
		progress = t.ReadProgress
	}
	return ReadStatsProgress(ctx, t, target, progress, dirs...)
}

// ReadStatsProgress is ReadStats calling progress, if not nil, after each
// file it reads, with the number of files read and their total.
func ReadStatsProgress(ctx context.Context, t *Tool, target string, progress func(done, total int), dirs ...string) (*Stats, error) {
	// One input at a time, keeping only the largest: counting a corpus
	// takes the memory of its largest file. Measuring needs every input
	// (the server is given them all): those are kept as they are read,
	// so that each file is read once, not once to count and again to
	// measure.
	measure := t != nil && target != ""
	var es []Entry
	st := &Stats{}
	seen := seenSet{}
	probs, err := walkDirs("", dirs, func(e Entry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		st.Files++
		st.Bytes += int64(len(e.Data))
		if len(e.Data) > len(st.Largest.Data) || st.Largest.Path == "" {
			st.Largest = e
		}
		if !seen.add(e.Data) {
			st.Duplicates++
		}
		if measure {
			es = append(es, e)
		}
		return nil
	}, progress)
	if err != nil {
		return nil, err
	}
	st.Problems = probs
	if !measure {
		return st, nil
	}
	if t.Server == nil {
		return nil, errNoServer
	}
	m, err := t.measureChunks(ctx, target, es, probs, keepUnion)
	if err != nil {
		return nil, err
	}
	st.Target, st.Features, st.Failing, st.PerInput, st.ExecPerInput = target, m.Features(), len(m.Failing), m.PerInput(), m.ExecPerInput()
	return st, nil
}

// Layout tells where and in which format new inputs go in the corpus
// directory dir, which holds the given entries, so that adding inputs keeps
// it usable by its engine: a go-fuzz workdir gets SHA-1-named files in its
// corpus/; a directory of native files (or an empty one named like a
// native target, FuzzX) gets native files, since Go's engine rejects
// anything else in testdata/fuzz/FuzzX; a libFuzzer corpus, where every
// file is named by its content's SHA-1, keeps that naming; anything else
// gets raw files.
func Layout(dir string, existing []Entry) (string, Format) {
	if isGoFuzzWorkdir(dir) {
		return filepath.Join(dir, "corpus"), GoFuzz
	}
	sha1Named, native := len(existing) > 0, len(existing) > 0
	for _, e := range existing {
		// All native, not some: a raw corpus may hold an input that
		// merely starts like a native file.
		native = native && e.Format == Native
		sha1Named = sha1Named && e.Name == SHA1Name(e.Data)
	}
	switch {
	case native:
		return dir, Native
	case len(existing) == 0 && isNativeDir(dir):
		return dir, Native
	case sha1Named:
		return dir, LibFuzzer
	}
	return dir, Raw
}

// isNativeDir reports whether dir is named like a corpus of Go's engine:
// testdata/fuzz/FuzzX, or a directory named after one of qgafuzz's native
// targets (as in Go's fuzz cache).
func isNativeDir(dir string) bool {
	abs, _ := filepath.Abs(dir)
	base, parent := filepath.Base(abs), filepath.Dir(abs)
	if strings.HasPrefix(base, "Fuzz") && filepath.Base(parent) == "fuzz" && filepath.Base(filepath.Dir(parent)) == "testdata" {
		return true
	}
	for _, t := range fuzz.Targets() {
		if base == t.FuncName() {
			return true
		}
	}
	return false
}

// Convert copies the inputs of srcs into dst in format to (import: raw;
// export: native, gofuzz or libfuzzer). from is the sources' format, or ""
// to tell each file's format from its content. For gofuzz, dst is a
// go-fuzz workdir and the inputs go to its corpus/ directory. dst may not
// be one of the sources: converting in place would mix formats in it.
// An input dst already holds, under any name, counts as Existing.
func Convert(from, to Format, dst string, srcs ...string) (WriteResult, []Problem, error) {
	return ConvertContext(context.Background(), from, to, dst, srcs...)
}

// ConvertContext is Convert stopping between two inputs when ctx ends,
// with ctx's error: every file it wrote by then is whole (written
// atomically), and running it again writes only the rest.
func ConvertContext(ctx context.Context, from, to Format, dst string, srcs ...string) (WriteResult, []Problem, error) {
	return ConvertProgress(ctx, from, to, dst, nil, nil, srcs...)
}

// ConvertProgress is ConvertContext calling progress, if not nil, after
// each file of srcs it reads, with the number of files read and their
// total; and dstProgress, likewise, while it reads what dst already
// holds, which comes first.
func ConvertProgress(ctx context.Context, from, to Format, dst string, progress, dstProgress func(done, total int), srcs ...string) (WriteResult, []Problem, error) {
	if to == GoFuzz {
		dst = filepath.Join(dst, "corpus")
	}
	for _, src := range srcs {
		if samePath(inputDir(src), dst) || samePath(src, dst) {
			return WriteResult{}, nil, fmt.Errorf("corpus: the output %s is one of the sources; convert into another directory", dst)
		}
	}
	// One input at a time: a corpus of any size converts in the memory of
	// its largest file.
	res := WriteResult{Dir: dst}
	seen, have := seenSet{}, seenSet{}
	if st, err := os.Stat(dst); err == nil && st.IsDir() {
		// What dst cannot give (an unreadable file) is not ours to
		// report: it stays as it is.
		have.addDir(to, dst, dstProgress)
	}
	probs, err := walkDirs(from, srcs, func(e Entry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !seen.add(e.Data) {
			res.Duplicates++
			return nil
		}
		if !have.add(e.Data) {
			res.Existing++
			return nil
		}
		return res.add(to, e)
	}, progress)
	// What was written before an error or ctx's end is put in place:
	// each file whole, as the interrupted run reports.
	if ferr := res.flush(); err == nil {
		err = ferr
	} else if ferr != nil {
		err = errors.Join(err, ferr) // the walk's error, and why a file was not put in place
	}
	return res, probs, err
}

// samePath reports whether a and b name the same file or directory, links
// resolved where they exist.
func samePath(a, b string) bool {
	resolve := func(p string) string {
		p, _ = filepath.Abs(p)
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return p
	}
	return resolve(a) == resolve(b)
}
