//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// manyCrashersEngine stands in for the native engine binary: it writes
// nine crashers at once, as go-fuzz writes a dozen for one bug, and
// fails as go test does on a crash.
const manyCrashersEngine = `#!/bin/sh
for a; do
	case $a in
	-test.fuzz=*) fn=${a#-test.fuzz=^}; fn=${fn%\$} ;;
	esac
done
mkdir -p "testdata/fuzz/$fn"
echo "fuzz: elapsed: 1s, execs: 10 (10/sec), new interesting: 0 (total: 1)"
i=0
for in in boom-7777777 boom-333 boom-1 boom-55555 boom-22 boom-666666 boom-4444 bad calm; do
	i=$((i+1))
	printf 'go test fuzz v1\n[]byte("%s")\n' "$in" > "testdata/fuzz/$fn/crash$i"
done
echo "--- FAIL: $fn"
exit 1
`

// groupedTarget fails in process on the fake engine's crashers: every
// "boom" input panics at one place (one signature), "bad" violates a
// property (another), and "calm" passes (a crash of the engine's state:
// its signature is unknown).
var groupedTarget = fuzz.Target{Name: "grouped", Fn: func(data []byte) error {
	switch {
	case bytes.HasPrefix(data, []byte("boom")):
		var table []int
		_ = table[len(data)]
	case string(data) == "bad":
		return &fuzz.Violation{Target: "grouped", Property: "not-bad", Detail: "bad input"}
	}
	return nil
}}

// TestFuzzGroupsCrashersBySignature: an engine run that stores nine
// crashers of two signatures and one of unknown signature prints one
// block per group (the smallest input and its reproduce line, the others
// by name), a summary that counts them, and the same groups in --json;
// every input stays on disk. A second run that finds them again says they
// were stored before.
func TestFuzzGroupsCrashersBySignature(t *testing.T) {
	fakeNativeEngine(t, manyCrashersEngine)
	out := t.TempDir()
	f := fuzzFlags{engine: "native", time: time.Second, corpus: t.TempDir(), out: out}
	run := func() (int, string, fuzzJSONSchema) {
		t.Helper()
		stdout, stderr := &syncBuffer{}, &syncBuffer{}
		j := &fuzzJSON{Target: groupedTarget.Name}
		code := runEngine(context.Background(), &env{stdout: stdout, stderr: stderr}, f, groupedTarget, j)
		var js bytes.Buffer
		code = j.emit(&js, stderr, code, time.Second)
		return code, stdout.String(), decodeFuzzJSON(t, code, js.String(), stderr.String())
	}
	code, stdout, j := run()
	if code != exitFinding {
		t.Fatalf("exit %d, want %d\n%s", code, exitFinding, stdout)
	}
	path := func(in string) string { return fuzz.CrashStore{Dir: out}.PathOf([]byte(in)) }
	boomSig := fuzz.Run(groupedTarget, []byte("boom")).Signature()
	boomOthers := []string{"boom-22", "boom-333", "boom-4444", "boom-55555"}
	for _, want := range []string{
		"qgafuzz fuzz: 9 crashers, 2 distinct signatures, 1 of unknown signature; every input is kept in " + out + "\n",
		"qgafuzz fuzz: signature grouped/not-bad: 1 input, new\n  crasher: " + path("bad") + " (3 bytes; report ",
		"qgafuzz fuzz: signature " + boomSig + ": 7 inputs, all new\n  smallest: " + path("boom-1") + " (6 bytes; report " + filepath.Base(path("boom-1")) + ".txt)\n",
		"  reproduce with: " + self() + " repro --target grouped " + path("boom-1") + "\n",
		"qgafuzz fuzz: unknown signature (it does not fail when re-run in process",
		"  crasher: " + path("calm") + " (4 bytes; ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// The boom group's other six inputs: four named, two counted.
	var names []string
	for _, in := range boomOthers {
		names = append(names, filepath.Base(path(in)))
	}
	if want := "  also: " + strings.Join(names, ", ") + " and 2 more\n"; !strings.Contains(stdout, want) {
		t.Errorf("output lacks %q:\n%s", want, stdout)
	}
	if n := len(printedRepros(stdout)); n != 3 {
		t.Errorf("%d reproduce lines printed, want one per group (3):\n%s", n, stdout)
	}
	// Nothing is lost: every input and its report are on disk, the report
	// giving the signature on a line of its own.
	if stored, err := (fuzz.CrashStore{Dir: out}).List(); err != nil || len(stored) != 9 {
		t.Errorf("%d crashers stored (%v), want 9", len(stored), err)
	}
	if report, err := os.ReadFile(path("boom-22") + ".txt"); err != nil || !strings.Contains(string(report), "\nsignature: "+boomSig+"\n") {
		t.Errorf("report of boom-22 lacks its signature line (%v):\n%s", err, report)
	}

	if !is(j.DistinctSignatures, 2) || len(j.CrashGroups) != 3 || len(j.Findings) != 9 {
		t.Fatalf("%d crash groups, %d findings; want distinct_signatures 2, 3 and 9:\n%s", len(j.CrashGroups), len(j.Findings), stdout)
	}
	checkFindings(t, j, stdout)
	boom := j.CrashGroups[1]
	if boom.Signature != boomSig || boom.Inputs != 7 || boom.New != 7 || boom.Smallest != path("boom-1") || len(boom.Files) != 7 ||
		boom.Files[0] != boom.Smallest || boom.Files[1] != path(boomOthers[0]) {
		t.Errorf("boom group %+v; want %q with 7 new inputs, smallest %s first", boom, boomSig, path("boom-1"))
	}
	if g := j.CrashGroups[2]; g.Signature != "" || g.SignatureUnknown == "" || g.Smallest != path("calm") {
		t.Errorf("third group %+v; want calm, of unknown signature", g)
	}
	signed := 0
	for _, fd := range j.Findings {
		if fd.Signature != "" {
			signed++
		}
	}
	if signed != 8 {
		t.Errorf("%d findings with a signature, want 8", signed)
	}

	// Found again, in the same --out: known bugs, not new ones.
	_, stdout, j = run()
	if !strings.Contains(stdout, ": 7 inputs, all stored before\n") || len(j.CrashGroups) != 3 || j.CrashGroups[1].New != 0 {
		t.Errorf("second run: want the boom group all stored before:\n%s", stdout)
	}
}
