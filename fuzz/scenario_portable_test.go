package fuzz_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

// TestScenarioFixedSize checks that a Scenario holds no int, uint or
// uintptr: go-fuzz-headers decodes a uint from 8 bytes on 64-bit machines
// and from 4 on 32-bit ones, which would map one input to two scenarios.
func TestScenarioFixedSize(t *testing.T) {
	var walk func(path string, ty reflect.Type)
	walk = func(path string, ty reflect.Type) {
		switch ty.Kind() {
		case reflect.Int, reflect.Uint, reflect.Uintptr:
			t.Errorf("%s is a %s, whose size depends on GOARCH: use a sized type (uint8 or uint64)", path, ty)
		case reflect.Struct:
			for i := range ty.NumField() {
				walk(path+"."+ty.Field(i).Name, ty.Field(i).Type)
			}
		case reflect.Slice, reflect.Array, reflect.Pointer:
			walk(path+"[]", ty.Elem())
		case reflect.Map:
			walk(path+"{key}", ty.Key())
			walk(path+"{}", ty.Elem())
		}
	}
	walk("Scenario", reflect.TypeFor[fuzz.Scenario]())
}

// TestScenarioGolden pins what the checked-in scenario inputs decode to
// and how their runs go, on every GOARCH (scripts/test.sh runs it on
// s390x too): a crasher found on one machine replays on another.
func TestScenarioGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "corpus", "scenario", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario corpus (%v)", err)
	}
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := fuzz.DecodeScenario(b)
		s, err := json.Marshal(sc.Schedule())
		if err != nil {
			t.Fatal(err)
		}
		r, err := fuzz.RunScenario(sc)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		h.Write([]byte(filepath.Base(f) + "\n"))
		h.Write(s)
		h.Write([]byte("\n" + r.TraceHash + "\n"))
	}
	// The digest changed when the simulator began to trace a reboot or
	// reconnect that came to nothing as such, and when truncate began to
	// keep the newline of half the replies it cuts; and when schedules
	// became version 2 and reconnect got at (fault-reconnect's spec now
	// says at=any, and half its events strike in a call).
	if got, want := hex.EncodeToString(h.Sum(nil)[:8]), "150f128e9af6a8e3"; got != want {
		t.Errorf("corpus/scenario (%d inputs) on %s: digest %s, want %s (a change to the corpus or to the simulator updates it)",
			len(files), runtime.GOARCH, got, want)
	}
}
