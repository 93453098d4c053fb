package fuzz_test

import (
	"fmt"

	"github.com/qgafuzz/qgafuzz/fuzz"
	"github.com/qgafuzz/qgafuzz/qga/qgatest"
)

// A request split across two writes goes through the parser target; every
// property holds, so there is no failure.
func ExampleRun() {
	t, _ := fuzz.Lookup("parser")
	input := fuzz.Encode(qgatest.Stream{Ops: []qgatest.Op{
		{Data: []byte(`{"execute":"guest-`)},
		{Data: []byte(`ping"}`)},
	}})
	fmt.Printf("%q\n", input)
	if f := fuzz.Run(t, input); f != nil {
		fmt.Println(f.Signature())
		return
	}
	fmt.Println("ok")
	// Output:
	// "{\"execute\":\"guest-\x00|ping\"}"
	// ok
}
