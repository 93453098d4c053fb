package fuzz_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// TestFuzzSmoke runs every target under the native engine for a short time,
// through the same driver as `qgafuzz fuzz --engine native` (go test -fuzz
// as a subprocess, progress parsing, crasher storage). A crasher fails the
// test and is left in the test's temporary out directory; its report is
// printed. It runs in CI on purpose (not skipped with -short): the seed
// replay under plain go test checks the corpus, this checks that fuzzing
// itself finds nothing in a few seconds per target.
//
//	QGAFUZZ_SMOKE_TIME  fuzzing time per target (default 10s; 5 targets)
func TestFuzzSmoke(t *testing.T) {
	per := 10 * time.Second
	if s := os.Getenv("QGAFUZZ_SMOKE_TIME"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("QGAFUZZ_SMOKE_TIME=%q: %v", s, err)
		}
		per = d
	}
	root, err := fuzz.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range fuzz.Targets() {
		t.Run(tg.Name, func(t *testing.T) {
			dir := t.TempDir()
			var log strings.Builder
			res, err := fuzz.RunEngine(context.Background(), "native", fuzz.EngineOptions{
				Root: root, Target: tg, Time: per,
				Corpus: filepath.Join(dir, "corpus"), Out: filepath.Join(dir, "out"), Log: &log,
			})
			if err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			for _, c := range res.Crashers {
				b, _ := os.ReadFile(c.Report)
				t.Errorf("crasher %s:\n%s\nengine output:\n%s", c.Path, b, log.String())
			}
			if res.Last.Execs == 0 {
				t.Errorf("no executions reported; engine output:\n%s", log.String())
			}
			t.Logf("%s", res.Last)
		})
	}
}

// TestParseNativeInput checks the reader of go test's corpus files.
func TestParseNativeInput(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(p, []byte("go test fuzz v1\n[]byte(\"\\xff{\\\"a\\\"\\x00\")\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := fuzz.ReadNativeInput(p)
	if err != nil || string(b) != "\xff{\"a\"\x00" {
		t.Fatalf("got %q, %v", b, err)
	}
}
