package corpus_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/qgafuzz/qgafuzz/corpus"
)

func TestNativeRoundTrip(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, in := range [][]byte{nil, []byte("{\"execute\":\"guest-ping\"}"), all, []byte("é\xff\x00`\"\\")} {
		enc := corpus.EncodeNative(in)
		if !bytes.HasPrefix(enc, []byte("go test fuzz v1\n[]byte(")) {
			t.Fatalf("encoding %q: %q", in, enc)
		}
		got, err := corpus.DecodeNative(enc)
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("round trip of %q: %q, %v", in, got, err)
		}
	}
	// What Go's engine writes for a string argument, and comments.
	got, err := corpus.DecodeNative([]byte("go test fuzz v1\n// a comment\nstring(\"a\\x00b\")\n"))
	if err != nil || string(got) != "a\x00b" {
		t.Fatalf("string value: %q, %v", got, err)
	}
	for _, bad := range []string{"hello", "go test fuzz v1\n[]byte(\"a\")\nint(1)\n", "go test fuzz v1\n[]byte(\"unterminated)\n", "go test fuzz v1\n"} {
		if _, err := corpus.DecodeNative([]byte(bad)); err == nil {
			t.Errorf("DecodeNative(%q) accepted it", bad)
		}
	}
}

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gf := write("0123abcd", "raw")
	write("0123abcd.quoted", `"raw"`)
	cases := map[string]corpus.Format{
		write("native", "go test fuzz v1\n[]byte(\"x\")\n"):                 corpus.Native,
		write("crash-da39a3ee5e6b4b0d3255bfef95601890afd80709", "\xff\xff"): corpus.LibFuzzer,
		gf: corpus.GoFuzz,
		write("schedule.json", `{"version": 1, "seed": 3, "ops": [], "events": []}`):        corpus.SimTrace,
		write("trace.jsonl", `{"t":0,"actor":"sim","event":"schedule","schedule":{}}`+"\n"): corpus.SimTrace,
		write("plain", `{"execute":"guest-ping"}`):                                          corpus.Raw,
	}
	for p, want := range cases {
		b, _ := os.ReadFile(p)
		if got := corpus.Detect(p, b); got != want {
			t.Errorf("Detect(%s) = %s, want %s", filepath.Base(p), got, want)
		}
	}
}

func TestTargetFromPath(t *testing.T) {
	for path, want := range map[string]string{
		"fuzz/testdata/fuzz/FuzzParser/582528ddfad69eb5": "parser",
		"/x/out/crashers/agent/panic-abc/minimized":      "agent",
		"corpus/delimiter/x-silent":                      "delimiter",
		"/tmp/differential/crash-1":                      "differential",
		"/tmp/nothing/here":                              "",
	} {
		got, ok := corpus.TargetFromPath(path)
		if got != want || ok != (want != "") {
			t.Errorf("TargetFromPath(%s) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

// TestReadDirsProblems checks that a bad file is reported and skipped, and
// that the rest of the directory is still read.
func TestReadDirsProblems(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "good"), []byte("ok"), 0o644)
	os.WriteFile(filepath.Join(dir, "bad-native"), []byte("go test fuzz v1\nint(3)\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("skip"), 0o644)
	os.WriteFile(filepath.Join(dir, "x.output"), []byte("go-fuzz output"), 0o644)
	// Unreadable even for root: reading /proc/self/mem at offset 0 fails.
	unreadable := false
	if _, err := os.ReadFile("/proc/self/mem"); err != nil {
		if os.Symlink("/proc/self/mem", filepath.Join(dir, "unreadable")) == nil {
			unreadable = true
		}
	}
	es, probs, err := corpus.ReadDirs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Name != "good" {
		t.Fatalf("entries %+v", es)
	}
	want := 1
	if unreadable {
		want = 2
	}
	if len(probs) != want {
		t.Fatalf("problems %v, want %d", probs, want)
	}
	if _, _, err := corpus.ReadDirs(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing directory is not an error")
	}
}

// TestWriteKeepsExisting checks that Write never replaces a file that
// holds another input.
func TestWriteKeepsExisting(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("old"), 0o644)
	res, err := corpus.Write(dir, corpus.Raw, []corpus.Entry{{Name: "a", Data: []byte("new")}, {Name: "b", Data: []byte("b")}})
	if err != nil || res.Written != 2 {
		t.Fatalf("%+v, %v", res, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a")); string(b) != "old" {
		t.Fatalf("a was overwritten: %q", b)
	}
	es, _, _ := corpus.ReadDirs(dir)
	if len(es) != 3 {
		t.Fatalf("want 3 files, got %d", len(es))
	}
}

// TestConvertRoundTrip exports a corpus into every engine's format and
// imports it back.
func TestConvertRoundTrip(t *testing.T) {
	src := filepath.Join("parser")
	orig, _, err := corpus.ReadDirs(src)
	if err != nil || len(orig) == 0 {
		t.Fatalf("corpus/parser: %v", err)
	}
	for _, f := range corpus.ExportFormats {
		out := filepath.Join(t.TempDir(), string(f))
		res, probs, err := corpus.Convert(f, out, src)
		if err != nil || len(probs) > 0 || res.Written == 0 {
			t.Fatalf("export %s: %+v %v %v", f, res, probs, err)
		}
		back := filepath.Join(t.TempDir(), "back")
		if _, probs, err := corpus.Convert(corpus.Raw, back, out); err != nil || len(probs) > 0 {
			t.Fatalf("import %s: %v %v", f, probs, err)
		}
		got, _, _ := corpus.ReadDirs(back)
		want, _ := corpus.Dedup(orig)
		if len(got) != len(want) {
			t.Fatalf("%s: %d inputs back, want %d", f, len(got), len(want))
		}
		seen := map[string]bool{}
		for _, e := range got {
			seen[string(e.Data)] = true
		}
		for _, e := range want {
			if !seen[string(e.Data)] {
				t.Fatalf("%s: lost %s", f, e.Name)
			}
		}
	}
}
