package corpus_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/corpus"
)

// The exported API given arguments a caller gets wrong: an error, never a
// panic or a silent guess.

// A Tool without a Server fails with an error instead of a nil-pointer
// panic, also through ReadStats.
func TestToolWithoutServer(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tool := &corpus.Tool{}
	if _, err := tool.Measure(ctx, "parser", dir); err == nil {
		t.Error("Measure without a Server succeeded")
	}
	if _, err := tool.Merge(ctx, "parser", filepath.Join(t.TempDir(), "into"), []string{dir}); err == nil {
		t.Error("Merge without a Server succeeded")
	}
	if _, err := tool.Minimize(ctx, "parser", []string{dir}, filepath.Join(t.TempDir(), "out")); err == nil {
		t.Error("Minimize without a Server succeeded")
	}
	if _, err := corpus.ReadStats(ctx, tool, "parser", dir); err == nil {
		t.Error("ReadStats with a Tool without a Server succeeded")
	}
	// A nil Tool is documented as "count only".
	if st, err := corpus.ReadStats(ctx, nil, "parser", dir); err != nil || st.Files != 1 {
		t.Errorf("ReadStats without a Tool: %+v, %v", st, err)
	}
}

// Decode refuses a format it does not know instead of returning the bytes
// as if they were raw.
func TestDecodeUnknownFormat(t *testing.T) {
	if _, err := corpus.Decode("afl", []byte("x")); err == nil {
		t.Error(`Decode("afl") succeeded`)
	}
	for _, f := range []corpus.Format{corpus.Raw, corpus.GoFuzz, corpus.LibFuzzer} {
		if b, err := corpus.Decode(f, []byte("x")); err != nil || string(b) != "x" {
			t.Errorf("Decode(%s) = %q, %v", f, b, err)
		}
	}
}

// Minimize refuses an --out that is a file before measuring anything,
// not when it renames the result into place at the end.
func TestMinimizeOutIsAFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.WriteFile(out, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := (&corpus.Tool{}).Minimize(context.Background(), "parser", []string{dir}, out)
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Minimize into a file: %v", err)
	}
}
