package fuzz_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// TestReadCorpusSkipsHuge: a file over MaxInputFile (sparse here) is not a
// seed, and is not read into memory.
func TestReadCorpusSkipsHuge(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ok"), []byte("ok"), 0o644)
	huge := filepath.Join(dir, "core")
	os.WriteFile(huge, nil, 0o644)
	if err := os.Truncate(huge, fuzz.MaxInputFile+1); err != nil {
		t.Fatal(err)
	}
	names, inputs, err := fuzz.ReadCorpus(dir)
	if err != nil || len(names) != 1 || names[0] != "ok" || string(inputs[0]) != "ok" {
		t.Fatalf("%v %d inputs, %v", names, len(inputs), err)
	}
}

// TestPrintable: text from outside cannot put terminal controls or bytes
// that are not UTF-8 on the terminal or into a report.
func TestPrintable(t *testing.T) {
	if got, want := fuzz.Printable("a\x1b[2Jb\xffé\uFFFD\x00"), `a\u001B[2Jb\xffé`+"\uFFFD"+`\u0000`; got != want {
		t.Errorf("Printable = %q, want %q", got, want)
	}
}
