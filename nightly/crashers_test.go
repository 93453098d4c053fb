package nightly

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

func TestSlug(t *testing.T) {
	sig := "parser/panic runtime error: index out of range at github.com/qgafuzz/qgafuzz/qjson.(*Decoder).Feed < github.com/qgafuzz/qgafuzz/fuzz.fuzzParser"
	s := Slug("parser", sig)
	if s != Slug("parser", sig) || strings.ContainsAny(s, "/ *()<:") || len(s) > 90 {
		t.Fatalf("slug %q", s)
	}
	if !strings.HasPrefix(s, "panic-runtime-error-index-out-of-range-at-qjson.-decoder-.feed") {
		t.Fatalf("slug %q is not readable", s)
	}
	if Slug("parser", sig+"x") == s {
		t.Fatal("different signatures, same slug")
	}
}

func TestSuppressions(t *testing.T) {
	p := filepath.Join(t.TempDir(), "supp")
	os.WriteFile(p, []byte("# known bugs\nparser/panic runtime error: nil map at x < y  # issue 12\n\nsim/liveness*\nagent/replies-match\n"), 0o644)
	s, err := LoadSuppressions(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		target, sig string
		want        bool
	}{
		{"parser", "parser/panic runtime error: nil map at x < y", true},
		{"sim", "sim/liveness", true},
		{"sim", "sim/safety", false},
		{"agent", "agent/replies-match", true},
		{"agent", "agent/one-reply", false},
	} {
		if got := s.Match(c.target, c.sig); got != c.want {
			t.Errorf("Match(%q) = %v", c.sig, got)
		}
	}
	// A crash directory's name works as well.
	os.WriteFile(p, []byte(Slug("agent", "agent/x")+"\n"), 0o644)
	if s, _ := LoadSuppressions(p); !s.Match("agent", "agent/x") {
		t.Error("a slug does not suppress")
	}
	if _, err := LoadSuppressions(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing suppressions file is not an error")
	}
}

// TestCrashStoreRecover checks what a killed run leaves behind: a
// temporary directory is removed; a directory missing a file is moved
// aside with its files, and the crash can then be stored again.
func TestCrashStoreRecover(t *testing.T) {
	s := crashStore{dir: filepath.Join(t.TempDir(), "crashers")}
	tmp := filepath.Join(s.dir, "parser", ".tmp-sig-123")
	os.MkdirAll(tmp, 0o755)
	os.WriteFile(filepath.Join(tmp, FileMinimized), []byte("x"), 0o644)
	half := filepath.Join(s.dir, "parser", "sig-abc")
	os.MkdirAll(half, 0o755)
	os.WriteFile(filepath.Join(half, FileOriginal), []byte("precious"), 0o644)
	msgs := s.recover()
	if len(msgs) != 2 {
		t.Fatalf("messages %q", msgs)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatal("temporary directory left")
	}
	matches, _ := filepath.Glob(half + ".incomplete-*")
	if len(matches) != 1 {
		t.Fatalf("incomplete directory not moved aside: %v", matches)
	}
	if b, _ := os.ReadFile(filepath.Join(matches[0], FileOriginal)); string(b) != "precious" {
		t.Fatal("the incomplete directory's files were lost")
	}
	files := map[string][]byte{FileMinimized: []byte("m"), FileOriginal: []byte("o"), FileFailure: []byte("f"),
		FileSignature: []byte("s"), FileRepro: []byte("r")}
	if _, err := s.save("parser", "sig-abc", files); err != nil {
		t.Fatal(err)
	}
	if !s.exists("parser", "sig-abc") {
		t.Fatal("stored crash is not complete")
	}
	// Storing again keeps the first night's files.
	files[FileMinimized] = []byte("other")
	s.save("parser", "sig-abc", files)
	if b, _ := os.ReadFile(filepath.Join(half, FileMinimized)); string(b) != "m" {
		t.Fatalf("stored crash replaced: %q", b)
	}
	if msgs := s.recover(); len(msgs) != 0 {
		t.Fatalf("second recovery: %q", msgs)
	}
}

// TestCrashStoreFullDisk stores a crash on a full file system: it fails
// and leaves neither the crash directory nor a temporary one.
func TestCrashStoreFullDisk(t *testing.T) {
	mnt := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mnt).Run(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v", err)
	}
	defer exec.Command("umount", mnt).Run()
	s := crashStore{dir: mnt}
	big := make([]byte, 64<<10)
	_, err := s.save("parser", "sig", map[string][]byte{FileMinimized: []byte("m"), FileOriginal: big,
		FileFailure: []byte("f"), FileSignature: []byte("s"), FileRepro: []byte("r")})
	if err == nil || !strings.Contains(err.Error(), "no space") {
		t.Fatalf("want a no-space error, got %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(mnt, "parser"))
	if len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

func TestDivergenceSignature(t *testing.T) {
	a := divergenceSignature(&fuzz.Divergence{Detail: "reply line 3 differs:\nreference \"x\"\nagent \"y\""})
	b := divergenceSignature(&fuzz.Divergence{Detail: "reply line 12 differs:\nreference \"z\""})
	c := divergenceSignature(&fuzz.Divergence{Detail: `reply line 2: the agent did not send "{\"return\": 1}\n"`})
	if a != b || a != "qemu-ga/reply line N differs" || c != "qemu-ga/reply line N: the agent did not send" {
		t.Fatalf("%q %q %q", a, b, c)
	}
	// With the replies, the kind of difference and its request: two bugs
	// are two signatures, and the ids do not matter.
	in := qgatest.Stream{Ops: []qgatest.Op{{Data: []byte(`{"execute":"guest-ping","id":5}{"execute":"guest-sync","arguments":{"id":9}}`)}}}
	sig := func(ref, got string) string {
		return divergenceSignature(&fuzz.Divergence{Input: in, Reference: []byte(ref), Agent: []byte(got),
			Detail: fuzz.CompareReplies([]byte(ref), []byte(got))})
	}
	ping, sync := "{\"return\": {}, \"id\": 5}\n", "{\"return\": 9}\n"
	dup := sig(ping+sync, ping+ping+sync)
	dup2 := sig(strings.ReplaceAll(ping, "5", "6")+sync, strings.Repeat(strings.ReplaceAll(ping, "5", "6"), 2)+sync)
	gone := sig(ping+sync, ping)
	if dup != "qemu-ga/replies-match: extra-reply after guest-ping" || dup2 != dup || gone != "qemu-ga/replies-match: missing-reply guest-sync" {
		t.Fatalf("%q %q %q", dup, dup2, gone)
	}
}

// TestSuppressionsMalformed checks that a line that cannot match as
// documented (a bare '*', a '*' inside, free text) is an error naming the
// file and line, rather than silently suppressing everything or nothing.
func TestSuppressionsMalformed(t *testing.T) {
	for _, line := range []string{"*", "sim/*liveness", "this is not a signature"} {
		p := filepath.Join(t.TempDir(), "supp.txt")
		os.WriteFile(p, []byte("# known\nsim/liveness*\n"+line+"\n"), 0o644)
		s, err := LoadSuppressions(p)
		if err == nil || !strings.Contains(err.Error(), p+":3:") {
			t.Errorf("line %q: err %v (suppressions %+v), want an error at %s:3", line, err, s, p)
		}
	}
	p := filepath.Join(t.TempDir(), "supp.txt")
	os.WriteFile(p, []byte("parser/panic x at a < b # c\nsim/liveness*\n"+Slug("parser", "parser/panic y")+"\r\n\n"), 0o644)
	s, err := LoadSuppressions(p)
	if err != nil || s.Len() != 3 || !s.Match("parser", "parser/panic y") || !s.Match("sim", "sim/liveness") {
		t.Fatalf("valid file: %v %+v", err, s)
	}
	// A panic's signature names frames with pointer receivers: the '*' of
	// "(*T)" is part of it, not a misplaced wildcard (the README's example).
	ptrSig := "parser/panic runtime error: index out of range at github.com/qgafuzz/qgafuzz/qjson.(*Decoder).Feed < github.com/qgafuzz/qgafuzz/fuzz.fuzzParser"
	os.WriteFile(p, []byte(ptrSig+"\nagent/panic x at a.(*B).c*\n"), 0o644)
	s, err = LoadSuppressions(p)
	if err != nil || s.Len() != 2 || !s.Match("parser", ptrSig) || s.Match("parser", ptrSig+" < x") ||
		!s.Match("agent", "agent/panic x at a.(*B).c < d") {
		t.Fatalf("signatures with (*T): %v %+v", err, s)
	}
}

// TestRunCrashersNotADirectory: a file where DIR/crashers should be is a
// clear error at the start of the night, not after fuzzing.
func TestRunCrashersNotADirectory(t *testing.T) {
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "crashers"), []byte("x"), 0o644)
	rep := Run(context.Background(), Options{Budget: time.Minute, Out: out, Root: t.TempDir()})
	if rep.ExitCode != 2 || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "crashers is not a directory") {
		t.Fatalf("exit %d, errors %q", rep.ExitCode, rep.Errors)
	}
}

// TestRunInterruptedWhileBuilding: Ctrl-C while the engine builds is an
// interruption (exit 0, "interrupted": true, a skipped nightly/budget
// case), as it is while fuzzing, not an internal error (exit 2 with the
// killed build as the run's error).
func TestRunInterruptedWhileBuilding(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := Run(ctx, Options{Budget: time.Minute, Out: out, Root: t.TempDir()})
	if rep.ExitCode != 0 || !rep.Interrupted || len(rep.Problems()) != 0 || !rep.Written ||
		len(rep.Notes) != 1 || !strings.HasPrefix(rep.Notes[0], "interrupted while building") {
		t.Fatalf("exit %d, interrupted %v, problems %q, written %v, notes %q", rep.ExitCode, rep.Interrupted, rep.Problems(), rep.Written, rep.Notes)
	}
	x, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	ValidateJUnit(t, x, 1, 0, 0, 1)
}

// TestDropReportsLeavesARunningNight: a usage error's DropReports removes
// the last night's reports, but not while a night holds the lock.
func TestDropReportsLeavesARunningNight(t *testing.T) {
	out := t.TempDir()
	for _, n := range reportNames {
		if err := os.WriteFile(filepath.Join(out, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	release, err := lockOut(out)
	if err != nil {
		t.Fatal(err)
	}
	DropReports(out)
	for _, n := range reportNames {
		if _, err := os.Stat(filepath.Join(out, n)); err != nil {
			t.Errorf("%s removed while a night runs: %v", n, err)
		}
	}
	release()
	DropReports(out)
	for _, n := range reportNames {
		if _, err := os.Stat(filepath.Join(out, n)); !os.IsNotExist(err) {
			t.Errorf("%s still there after DropReports: %v", n, err)
		}
	}
}

// TestRunOutLocked: a second night in a busy --out fails at once with
// exit 2 and touches nothing there; once the first night is gone, the
// next one removes the work directory a killed night left.
func TestRunOutLocked(t *testing.T) {
	out := t.TempDir()
	release, err := lockOut(out)
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(out, ".work-123")
	os.MkdirAll(filepath.Join(stale, "cache"), 0o755)
	// The running night's reports (or the last night's) are not the
	// busy one's to remove.
	for _, f := range reportNames {
		os.WriteFile(filepath.Join(out, f), []byte("the running night's"), 0o644)
	}
	rep := Run(context.Background(), Options{Budget: time.Minute, Out: out, Root: t.TempDir()})
	var busy *BusyError
	if rep.ExitCode != 2 || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], fmt.Sprintf("(pid %d) is using", os.Getpid())) || rep.Written {
		t.Fatalf("busy: exit %d, written %v, errors %q", rep.ExitCode, rep.Written, rep.Errors)
	}
	if _, err := lockOut(out); !errors.As(err, &busy) || busy.Dir != out {
		t.Fatalf("second lock: %v", err)
	}
	for _, f := range reportNames {
		if b, err := os.ReadFile(filepath.Join(out, f)); err != nil || string(b) != "the running night's" {
			t.Fatalf("the busy night touched %s: %q, %v", f, b, err)
		}
	}
	if _, err := os.Stat(stale); err != nil {
		t.Fatal("the busy night removed a work directory in use")
	}
	release()
	// Root has no source tree, so the build fails after the cleanup.
	rep = Run(context.Background(), Options{Budget: time.Minute, Out: out, Root: t.TempDir()})
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale work directory still there: %v", err)
	}
	if len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "night that was killed") || !rep.Written {
		t.Fatalf("notes %q, written %v", rep.Notes, rep.Written)
	}
}

// TestRunRemovesLastReports: a night that holds the lock removes the last
// night's reports before it builds, not only when it writes its own at
// the end: killed (kill -9) in between, it must not leave the last
// night's green reports for CI to publish as its own.
func TestRunRemovesLastReports(t *testing.T) {
	out := t.TempDir()
	for _, f := range reportNames {
		os.WriteFile(filepath.Join(out, f), []byte("last night: all fine"), 0o644)
	}
	w := &atBuild{check: func() []string {
		var left []string
		for _, f := range reportNames {
			if _, err := os.Stat(filepath.Join(out, f)); err == nil {
				left = append(left, f)
			}
		}
		return left
	}}
	// Root has no source tree, so the build fails at once.
	rep := Run(context.Background(), Options{Budget: time.Minute, Out: out, Root: t.TempDir(), Stdout: w})
	if !w.seen {
		t.Fatalf("no building line in the progress output")
	}
	if len(w.left) > 0 {
		t.Errorf("the last night's %q still there when the night built", w.left)
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.md"))
	if !rep.Written || err != nil || strings.Contains(string(b), "last night") {
		t.Errorf("written %v, summary.md %q, %v: want this night's", rep.Written, b, err)
	}
}

// atBuild is a progress output that runs check when the night says it
// builds.
type atBuild struct {
	check func() []string
	seen  bool
	left  []string
}

func (w *atBuild) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "nightly: building") {
		w.seen, w.left = true, w.check()
	}
	return len(p), nil
}

// TestRunRemovesStaleTemp: the temporary files a night killed mid-write
// left in the corpus, the crash store and the output directory are
// removed at the next start, and the report says so; the inputs and
// crashes themselves stay, and the crash store's half-written directory
// is removed (and reported) once.
func TestRunRemovesStaleTemp(t *testing.T) {
	out := t.TempDir()
	keep := []string{
		filepath.Join(out, "corpus", "parser", "0123abcd"),
	}
	for _, f := range []string{FileMinimized, FileOriginal, FileFailure, FileSignature, FileRepro} {
		keep = append(keep, filepath.Join(out, "crashers", "parser", "sig-1", f))
	}
	stale := []string{
		filepath.Join(out, "corpus", "parser", ".tmp-0123abce-42"),
		filepath.Join(out, "crashers", "parser", "sig-1", ".tmp-"+FileRepro+"-7"),
		filepath.Join(out, ".tmp-report.json-9"),
		filepath.Join(out, "corpus", ".tmp-merged-3", "x"), // a half-written directory
	}
	tmpCrash := filepath.Join(out, "crashers", "parser", ".tmp-sig-2-5")
	// One being written now, by a command that does not take the lock.
	fresh := filepath.Join(out, "corpus", "parser", ".tmp-0123abcf-43")
	keep = append(keep, fresh)
	for _, p := range append(append(keep, stale...), filepath.Join(tmpCrash, FileMinimized)) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
	}
	old := time.Now().Add(-time.Hour)
	for _, p := range stale {
		os.Chtimes(p, old, old)
		if filepath.Base(p) == "x" {
			os.Chtimes(filepath.Dir(p), old, old)
		}
	}
	// Root has no source tree, so the build fails after the cleanup.
	rep := Run(context.Background(), Options{Budget: time.Minute, Out: out, Root: t.TempDir()})
	for _, p := range keep {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("removed %s", p)
		}
	}
	for _, p := range append(stale, tmpCrash) {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("left %s", p)
		}
	}
	notes := strings.Join(rep.Notes, "\n")
	if !strings.Contains(notes, "removed 4 temporary file(s)") || !strings.Contains(notes, "half-written crash directory") ||
		strings.Count(notes, ".tmp-sig-2-5") != 1 || !rep.Written {
		t.Fatalf("notes %q, written %v", rep.Notes, rep.Written)
	}
}
