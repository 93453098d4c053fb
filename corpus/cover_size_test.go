package corpus

import (
	"math"
	"slices"
	"testing"
)

// TestCoverBytesDoNotOverflow: of two covers with as many inputs, Cover
// keeps the one with fewer bytes. bytesOf sums sizes in an int, which on
// a 32-bit platform overflows past 2 GiB, where a corpus can now be
// minimized (its data is dropped once measured): the 2.2 GB cover then
// looks negative and wins over the 2-byte one.
func TestCoverBytesDoNotOverflow(t *testing.T) {
	// Two of them pass 2^31: the test fails only where int is 32 bits
	// (GOARCH=386, arm), before the fix.
	const big = math.MaxInt32/2 + 1
	items := []Item{
		{Size: big, Features: []uint32{1, 2, 3, 4}},
		{Size: big, Features: []uint32{5, 6}},
		{Size: 1, Features: []uint32{1, 2, 5}},
		{Size: 1, Features: []uint32{3, 4, 6}},
	}
	if got := Cover(items, nil); !slices.Equal(got, []int{2, 3}) {
		t.Errorf("Cover kept %v, want the two 1-byte inputs [2 3]", got)
	}
}
