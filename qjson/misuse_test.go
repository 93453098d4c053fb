package qjson_test

import (
	"math"
	"testing"

	"github.com/qgafuzz/qgafuzz/qjson"
)

// The exported API on arguments a caller gets wrong: accessors asked for
// the wrong kind, nil options, zero limits.

// An accessor asked for another kind says false and returns 0, not the
// bits of whatever the Value holds (a double's bits, a string's length and
// kind tag), which a caller ignoring ok would otherwise take for a number.
func TestAccessorsOfOtherKinds(t *testing.T) {
	for _, v := range []qjson.Value{
		qjson.FloatValue(1.5), qjson.StringValue("ab"), qjson.BoolValue(true),
		qjson.ArrayValue(qjson.IntValue(1)), qjson.NullValue(),
	} {
		if i, ok := v.Int(); ok || i != 0 {
			t.Errorf("%v.Int() = %d, %v; want 0, false", v, i, ok)
		}
		if u, ok := v.Uint(); ok || u != 0 {
			t.Errorf("%v.Uint() = %d, %v; want 0, false", v, u, ok)
		}
	}
	if u, ok := qjson.IntValue(-1).Uint(); ok || u != 0 {
		t.Errorf("IntValue(-1).Uint() = %d, %v; want 0, false", u, ok)
	}
	if u, ok := qjson.UintValue(math.MaxUint64).Uint(); !ok || u != math.MaxUint64 {
		t.Errorf("UintValue(max).Uint() = %d, %v", u, ok)
	}
	if i, ok := qjson.IntValue(-7).Int(); !ok || i != -7 {
		t.Errorf("IntValue(-7).Int() = %d, %v", i, ok)
	}
}

// A nil Option is skipped, so that option lists can be built with
// conditional entries.
func TestNilOption(t *testing.T) {
	d := qjson.NewDecoder(nil, qjson.ReuseValues(), nil)
	if n, ok := d.Feed([]byte(`{"a":1}`)); !ok || n != 7 {
		t.Fatalf("Feed = %d, %v", n, ok)
	}
	if ev := d.Event(); ev.Err != nil || ev.Value.String() != `{"a": 1}` {
		t.Fatalf("event %+v", ev)
	}
}

// WithLimits(Limits{}) means qemu-ga's limits, as the zero Limits does in
// qga.AgentConfig, rather than limits that reject every token.
func TestZeroLimitsAreDefault(t *testing.T) {
	d := qjson.NewDecoder(qjson.WithLimits(qjson.Limits{}))
	if got := d.Limits(); got != qjson.DefaultLimits {
		t.Fatalf("Limits() = %+v, want DefaultLimits", got)
	}
	if _, ok := d.Feed([]byte(`{"execute":"guest-ping"}`)); !ok || d.Event().Err != nil {
		t.Fatalf("a request under zero limits: %+v", d.Event())
	}
	// A partial zero is taken as it is: depth 0 admits scalars only.
	d = qjson.NewDecoder(qjson.WithLimits(qjson.Limits{MaxTokenSize: 100, MaxTokenCount: 10}))
	if _, ok := d.Feed([]byte(`[`)); !ok || d.Event().Err == nil || d.Event().Err.Kind != qjson.LimitError {
		t.Fatalf("depth 0 admitted '[': %+v", d.Event())
	}
}
