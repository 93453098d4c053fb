package qga_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// replayInProcess feeds a vector to a fresh reference agent and returns the
// replies per step (plus an empty closing read, as the recorder had).
// Reconnects change nothing: parser state survives them in qemu-ga too.
func replayInProcess(v *qgatest.Vector) (got []byte, steps [][]byte) {
	a := qga.NewAgent(qga.AgentConfig{})
	a.Feed(nil, v.Setup)
	list := v.Steps
	if len(list) == 0 {
		list = []qgatest.Step{{Input: true}}
	}
	for i := range list {
		s := &list[i]
		var out []byte
		if !s.Reconnect && !s.IsSleep() {
			out = a.Feed(nil, s.SendBytes(v))
		}
		got = append(got, out...)
		steps = append(steps, out)
	}
	return got, append(steps, nil)
}

// TestVectorsInProcess replays every recorded qemu-ga 7.2 vector through the
// reference agent and requires byte-identical replies, and for vectors
// recorded step by step, the same replies at the same step (look-ahead).
func TestVectorsInProcess(t *testing.T) {
	for _, v := range qgatest.RealVectors(t) {
		if v.Big() && testing.Short() {
			continue // the limit vectors feed up to 130 MiB each
		}
		got, steps := replayInProcess(&v)
		if !bytes.Equal(got, v.Output) {
			t.Errorf("%s (line %d): %s\ninput: %s\nwant: %q\ngot:  %q", v.Name, v.Line, v.Note,
				excerptHex(v.InputBytes()), v.Output, got)
			continue
		}
		if v.StepOutputs != nil {
			for i := range v.StepOutputs {
				if i >= len(steps) || !bytes.Equal(steps[i], v.StepOutputs[i]) {
					t.Errorf("%s: step %d: want %q, got %q", v.Name, i, v.StepOutputs[i], steps)
					break
				}
			}
		}
	}
}

func excerptHex(b []byte) string {
	if len(b) > 256 {
		return hex.EncodeToString(b[:256]) + "..."
	}
	return hex.EncodeToString(b)
}
