package fuzz_test

import (
	"context"
	"testing"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// The exported API given arguments a caller gets wrong: an error or a
// documented default, never a panic.

func TestDifferWithoutAgent(t *testing.T) {
	if _, err := fuzz.Differ(context.Background(), fuzz.DiffOptions{MaxStreams: 1}); err == nil {
		t.Error("Differ without an agent succeeded")
	}
	st := qgatest.Stream{Ops: []qgatest.Op{{Data: []byte(`{"execute":"guest-ping"}`)}, {Data: qgatest.Fence}}}
	if _, err := fuzz.Replay(fuzz.InProcessEndpoint(qga.AgentConfig{}), nil, st); err == nil {
		t.Error("Replay without an agent succeeded")
	}
	// A nil reference is the built-in one, as in DiffOptions.
	d, err := fuzz.Replay(nil, fuzz.InProcessEndpoint(qga.AgentConfig{Bug: qga.BugDuplicateReply}), qgatest.Stream{Ops: []qgatest.Op{
		{Data: []byte(`{"execute":"guest-ping","id":1}`)}, {Data: qgatest.Fence}}})
	if err != nil || d == nil {
		t.Errorf("Replay against the built-in reference: %v, %v; want a divergence", d, err)
	}
}

func TestFuncNameOfUnnamedTarget(t *testing.T) {
	if got := (fuzz.Target{}).FuncName(); got != "" {
		t.Errorf("FuncName() = %q", got)
	}
	if got := (fuzz.Target{Name: "parser"}).FuncName(); got != "FuzzParser" {
		t.Errorf("FuncName() = %q", got)
	}
}
