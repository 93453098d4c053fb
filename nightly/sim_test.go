package nightly

import (
	"context"
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/sim"
)

// TestSimShare runs the simulation share against an agent with a planted
// bug: the failures are grouped by signature, and the stored schedule is
// shrunk and still fails when replayed.
func TestSimShare(t *testing.T) {
	var bug qga.Bug
	var out simOutcome
	for _, b := range qga.Bugs() {
		out = runSim(context.Background(), 1, 0, 60, b, nil)
		if len(out.failures) > 0 {
			bug = b
			break
		}
	}
	if bug == qga.NoBug {
		t.Skip("no planted bug is found by 60 seeds of the simulation")
	}
	if out.status.Runs != 60 || out.first != 1 || out.last != 60 {
		t.Fatalf("bug %s: %+v", bug, out.status)
	}
	for sig, rs := range out.failures {
		if !strings.HasPrefix(sig, "sim/") || len(rs) == 0 || SimSignature(rs[0]) != sig {
			t.Fatalf("signature %q", sig)
		}
		files, summary, err := simCrashFiles(rs[0], sig, len(rs))
		if err != nil {
			t.Fatal(err)
		}
		s, err := sim.ParseSchedule(files[FileSchedule])
		if err != nil {
			t.Fatal(err)
		}
		r, err := sim.Replay(s, false)
		if err != nil || !r.Failed() || SimSignature(r) != sig {
			t.Fatalf("bug %s: the shrunk schedule does not fail the same way: %v", bug, err)
		}
		if _, err := sim.ParseSchedule(files[FileOrigSched]); err != nil {
			t.Fatal(err)
		}
		t.Logf("bug %s: %s: %s", bug, sig, summary)
		break
	}
}
