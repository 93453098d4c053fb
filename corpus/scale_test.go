package corpus

// Tests of e7c15c5 ("batched syncs, read progress and less memory"):
// internal, since walkDirs, normalize and the write batch are.

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWriteBatchSameName: two inputs of one batch wanting the same name
// do not overwrite each other: the batch's pending files count as taken
// names before they are renamed into place.
func TestWriteBatchSameName(t *testing.T) {
	t.Run("Write", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "out")
		es := []Entry{
			{Name: "seed", Data: []byte("first")},
			{Name: "seed", Data: []byte("second")},
			{Name: "seed", Data: []byte("first")}, // the same input again: already there
		}
		res, err := Write(dir, Raw, es)
		if err != nil {
			t.Fatal(err)
		}
		if res.Written != 2 || res.Existing != 1 || res.Bytes != int64(len("first")+len("second")) {
			t.Errorf("Write: %d written, %d existing, %d bytes; want 2, 1, %d", res.Written, res.Existing, res.Bytes, len("first")+len("second"))
		}
		checkSameName(t, dir, Raw, "seed", "first", "second")
	})
	t.Run("Convert", func(t *testing.T) {
		src1, src2 := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
		writeFiles(t, src1, map[string]string{"seed": "first"})
		writeFiles(t, src2, map[string]string{"seed": "second"})
		dst := filepath.Join(t.TempDir(), "out")
		res, probs, err := Convert(Raw, Native, dst, src1, src2)
		if err != nil || len(probs) != 0 {
			t.Fatalf("Convert: %v, %v", probs, err)
		}
		if res.Written != 2 || res.Existing != 0 || res.Duplicates != 0 {
			t.Errorf("Convert: %d written, %d existing, %d duplicates; want 2, 0, 0", res.Written, res.Existing, res.Duplicates)
		}
		checkSameName(t, dst, Native, "seed", "first", "second")
	})
}

// checkSameName checks that dir holds exactly name (with first) and the
// content-addressed file of second, both whole, in format f.
func checkSameName(t *testing.T, dir string, f Format, name, first, second string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	other := FileName(f, []byte(second))
	want := []string{name, other}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("%s holds %q, want %q (no temporary files left)", dir, names, want)
	}
	if got := readString(t, filepath.Join(dir, name)); got != string(Encode(f, []byte(first))) {
		t.Errorf("%s holds %q, want the first input %q", name, got, Encode(f, []byte(first)))
	}
	if got := readString(t, filepath.Join(dir, other)); got != string(Encode(f, []byte(second))) {
		t.Errorf("%s holds %q, want the second input %q", other, got, Encode(f, []byte(second)))
	}
}

// TestWalkProgress: progress is told the total once every directory is
// listed, then each file done, read or not.
func TestWalkProgress(t *testing.T) {
	base := t.TempDir()
	d1, d2 := filepath.Join(base, "d1"), filepath.Join(base, "d2")
	writeFiles(t, d1, map[string]string{"a": "1", "b": "2", "notes.txt": "skipped, not counted"})
	if err := os.Mkdir(filepath.Join(d1, "sub"), 0o755); err != nil { // a Problem
		t.Fatal(err)
	}
	writeFiles(t, d2, map[string]string{"c": "3", "d": "4"})
	single := filepath.Join(base, "single")
	zip := filepath.Join(base, "seeds.zip") // a Problem
	writeFiles(t, base, map[string]string{"single": "5", "seeds.zip": "PK\x03\x04rest"})
	const total = 3 + 2 + 2

	type call struct{ done, total, handled int }
	var calls []call
	handled := 0
	probs, err := walkDirs("", []string{d1, single, d2, zip}, func(Entry) error {
		handled++
		return nil
	}, func(done, total int) {
		calls = append(calls, call{done, total, handled})
	})
	if err != nil {
		t.Fatal(err)
	}
	if handled != 5 || len(probs) != 2 {
		t.Fatalf("%d inputs and problems %v; want 5 and 2", handled, probs)
	}
	if len(calls) != total+1 {
		t.Fatalf("progress called %d times, want %d: %v", len(calls), total+1, calls)
	}
	for i, c := range calls {
		if c.done != i || c.total != total {
			t.Errorf("call %d: progress(%d, %d), want (%d, %d)", i, c.done, c.total, i, total)
		}
	}
	// Each call follows the file it counts: the inputs handed to fn by
	// then are at most done, and at least done less the two problems.
	if calls[0].handled != 0 {
		t.Errorf("progress(0, %d) after %d inputs, want before any", total, calls[0].handled)
	}
	for _, c := range calls {
		if c.handled > c.done || c.done-c.handled > 2 {
			t.Errorf("progress(%d, %d) after %d inputs", c.done, c.total, c.handled)
		}
	}
	if last := calls[len(calls)-1]; last.done != last.total {
		t.Errorf("progress ends at %d of %d", last.done, last.total)
	}

	// readDirs (no progress) still works, and a nil progress is fine.
	if _, err := walkDirs("", []string{d1}, func(Entry) error { return nil }, nil); err != nil {
		t.Fatal(err)
	}
}

// TestMixedDirReadOnce: a directory mixing native and raw files is read
// as raw, headers included, with a warning counting them, placed before
// the directory's own problems; a directory of native files only is
// native.
func TestMixedDirReadOnce(t *testing.T) {
	base := t.TempDir()
	// A first directory with a problem of its own: the warning goes
	// after it, before the mixed directory's problems.
	first := filepath.Join(base, "a-first")
	writeFiles(t, first, map[string]string{"ok": "fine"})
	if err := os.Mkdir(filepath.Join(first, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	mixed := filepath.Join(base, "b-mixed")
	nat1, nat2 := string(EncodeNative([]byte("n1"))), string(EncodeNative([]byte("n2")))
	writeFiles(t, mixed, map[string]string{
		"1-raw": "raw one", "2-nat": nat1, "3-raw": "raw two", "4-nat": nat2, "5-raw": "raw three",
		"skip.txt": string(EncodeNative([]byte("not counted"))),
	})
	// A problem of the mixed directory, sorted among its files: neither
	// native nor other.
	if err := os.Mkdir(filepath.Join(mixed, "0-sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	allNat := filepath.Join(base, "c-native")
	writeFiles(t, allNat, map[string]string{"x": nat1, "y": nat2})

	es, probs, err := ReadDirs(first, mixed, allNat)
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != 3 {
		t.Fatalf("problems %v, want 3", probs)
	}
	if p := probs[0]; p.Path != filepath.Join(first, "sub") || p.Warning {
		t.Errorf("problem 0: %v, want the first directory's", p)
	}
	w := probs[1]
	if w.Path != mixed || !w.Warning || w.Err == nil || !strings.Contains(w.Err.Error(), "2 of its 5 files are Go native fuzz files") {
		t.Errorf("problem 1: %v (warning %v), want the mixed directory's warning counting 2 of its 5 files", w, w.Warning)
	}
	if p := probs[2]; p.Path != filepath.Join(mixed, "0-sub") || p.Warning {
		t.Errorf("problem 2: %v, want the mixed directory's subdirectory, after its warning", p)
	}
	got := map[string]Entry{}
	for _, e := range es {
		got[e.Path] = e
	}
	if len(es) != 1+5+2 {
		t.Errorf("%d inputs, want 8", len(es))
	}
	for name, want := range map[string]string{"1-raw": "raw one", "2-nat": nat1, "3-raw": "raw two", "4-nat": nat2, "5-raw": "raw three"} {
		e, ok := got[filepath.Join(mixed, name)]
		if !ok || string(e.Data) != want || e.Format != Raw {
			t.Errorf("%s: read %v as %q, %q; want raw %q", name, ok, e.Format, e.Data, want)
		}
	}
	for name, want := range map[string]string{"x": "n1", "y": "n2"} {
		e, ok := got[filepath.Join(allNat, name)]
		if !ok || string(e.Data) != want || e.Format != Native {
			t.Errorf("%s: read %v as %q, %q; want native %q", name, ok, e.Format, e.Data, want)
		}
	}

	// A directory without native files is no mix: no warning.
	onlyRaw := filepath.Join(base, "d-raw")
	writeFiles(t, onlyRaw, map[string]string{"r": "raw", "s": "raw too"})
	if _, probs, err := ReadDirs(onlyRaw); err != nil || len(probs) != 0 {
		t.Errorf("a raw directory: %v, %v", probs, err)
	}
}

// TestGoFuzzSiblingsFromListing: in go-fuzz's crashers directory, an
// input X with X.quoted and X.output siblings is read, as a go-fuzz file
// (even when its name looks like a libFuzzer artifact), and its siblings
// are not read; a file without siblings is raw.
func TestGoFuzzSiblingsFromListing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "crashers")
	// Names libFuzzer gives its artifacts.
	crash1, crash2 := "crash-"+strings.Repeat("1", 40), "crash-"+strings.Repeat("2", 40)
	writeFiles(t, dir, map[string]string{
		"abc":              "crasher",
		"abc.quoted":       `"crasher"`,
		"abc.output":       "panic: boom",
		crash1:             "only an output",
		crash1 + ".output": "panic: bang",
		crash2:             "a libFuzzer artifact",
		"plain":            "no siblings",
		"lone.quoted":      `"a sibling without its input"`,
	})
	for _, as := range []Format{"", GoFuzz} {
		es, probs, err := readDirs(as, []string{dir})
		if err != nil || len(probs) != 0 {
			t.Fatalf("as %q: %v, %v", as, probs, err)
		}
		got := map[string]Entry{}
		for _, e := range es {
			got[e.Name] = e
		}
		want := map[string]Format{"abc": GoFuzz, crash1: GoFuzz, crash2: LibFuzzer, "plain": Raw}
		if as != "" {
			want = map[string]Format{"abc": GoFuzz, crash1: GoFuzz, crash2: GoFuzz, "plain": GoFuzz}
		}
		if len(es) != len(want) {
			t.Errorf("as %q: read %d inputs, want %d (no siblings): %v", as, len(es), len(want), es)
		}
		for name, f := range want {
			e, ok := got[name]
			if !ok || e.Format != f || e.Path != filepath.Join(dir, name) {
				t.Errorf("as %q: %s read %v as %q, want %q", as, name, ok, e.Format, f)
			}
		}
		if e := got["abc"]; string(e.Data) != "crasher" {
			t.Errorf("as %q: abc read as %q, want its own content", as, e.Data)
		}
	}
	// The listing decides as the file system does (Detect, one file).
	for name, f := range map[string]Format{"abc": GoFuzz, crash1: GoFuzz, crash2: LibFuzzer, "plain": Raw} {
		b := []byte(readString(t, filepath.Join(dir, name)))
		if got := Detect(filepath.Join(dir, name), b); got != f {
			t.Errorf("Detect(%s) = %q, want %q", name, got, f)
		}
	}
}

// TestDecodeFeaturesExact: DecodeFeatures gives back what EncodeFeatures
// packed, in a slice with no spare capacity.
func TestDecodeFeaturesExact(t *testing.T) {
	big := make([]uint32, 1000)
	for i := range big {
		big[i] = uint32(i*i*37 + i) // gaps of one to five varint bytes
	}
	big = append(big, 1<<31, 1<<32-1)
	for _, fs := range [][]uint32{
		nil,
		{0},
		{5},
		{1, 2, 3, 127, 128, 16383, 16384, 1 << 21, 1 << 28, 1<<32 - 1},
		{9, 3, 3, 1 << 30, 0}, // not sorted: the differences wrap, and back
		big,
	} {
		b := EncodeFeatures(fs)
		got, err := DecodeFeatures(b)
		if err != nil {
			t.Fatalf("%d features: %v", len(fs), err)
		}
		if !slices.Equal(got, fs) {
			t.Errorf("%d features: decoded %v, want %v", len(fs), got, fs)
		}
		if cap(got) != len(got) {
			t.Errorf("%d features: cap %d, want %d", len(fs), cap(got), len(got))
		}
	}
	// By hand, as the decoder reads: deltas as uvarints (3, 128, 0 and
	// 2^32-1, which wraps 131 round to 130).
	got, err := DecodeFeatures([]byte{0x03, 0x80, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f})
	if want := []uint32{3, 131, 131, 130}; err != nil || !slices.Equal(got, want) || cap(got) != len(got) {
		t.Errorf("by hand: %v (cap %d), %v; want %v", got, cap(got), err, want)
	}
	for _, bad := range [][]byte{{0x80}, {0x01, 0xff}, bytes.Repeat([]byte{0xff}, 11)} {
		if got, err := DecodeFeatures(bad); err == nil {
			t.Errorf("DecodeFeatures(% x) = %v, want an error", bad, got)
		}
	}
}

// TestNormalizeShares: normalize shares the feature lists already sorted
// without repeats (no copy, no allocation but the result), and sorts and
// dedups the others into new lists, leaving its input alone.
func TestNormalizeShares(t *testing.T) {
	sorted := []uint32{1, 5, 9, 200}
	unsorted := []uint32{9, 1, 5, 1, 9}
	repeats := []uint32{1, 1, 2, 3, 3} // sorted, with repeats
	items := []Item{
		{Size: 1, Features: sorted},
		{Size: 2, Features: unsorted},
		{Size: 3, Features: repeats},
		{Size: 4, Features: nil},
		{Size: 5, Features: []uint32{7}},
	}
	out := normalize(items)
	if len(out) != len(items) {
		t.Fatalf("%d items, want %d", len(out), len(items))
	}
	want := [][]uint32{{1, 5, 9, 200}, {1, 5, 9}, {1, 2, 3}, nil, {7}}
	for i := range out {
		if out[i].Size != items[i].Size || !slices.Equal(out[i].Features, want[i]) {
			t.Errorf("item %d: %+v, want size %d, features %v", i, out[i], items[i].Size, want[i])
		}
	}
	if &out[0].Features[0] != &sorted[0] || &out[4].Features[0] != &items[4].Features[0] {
		t.Errorf("sorted lists are copied, not shared")
	}
	if &out[1].Features[0] == &unsorted[0] || &out[2].Features[0] == &repeats[0] {
		t.Errorf("lists sorted or deduped in the caller's arrays")
	}
	if !slices.Equal(unsorted, []uint32{9, 1, 5, 1, 9}) || !slices.Equal(repeats, []uint32{1, 1, 2, 3, 3}) {
		t.Errorf("the input changed: %v, %v", unsorted, repeats)
	}

	// A measured corpus: every list already normalized, so only the
	// result slice is allocated.
	many := make([]Item, 100)
	for i := range many {
		many[i] = Item{Size: i, Features: []uint32{uint32(i), uint32(i) + 1, uint32(i) + 10}}
	}
	if n := testing.AllocsPerRun(10, func() { normalize(many) }); n != 1 {
		t.Errorf("normalize of %d normalized items: %v allocations, want 1", len(many), n)
	}
}
