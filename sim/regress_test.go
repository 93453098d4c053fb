package sim

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRegressionSchedules replays the shrunk schedules of failures that
// were found and fixed (testdata/regress, as the nightly job stores them
// in crashers/sim/.../schedule.json). Each must now run clean.
func TestRegressionSchedules(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "regress", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schedules in testdata/regress (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := LoadSchedule(f)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Replay(s, false)
			if err != nil {
				t.Fatal(err)
			}
			if r.Failed() {
				wd, _ := os.Getwd()
				t.Fatalf("%v\nreproduce: go run ./cmd/qgafuzz repro %s", r.First(), filepath.Join(wd, f))
			}
		})
	}
}
