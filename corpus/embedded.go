package corpus

import (
	"embed"
	"io/fs"
)

// differentialSeeds is corpus/differential/ as built into the binary.
//
//go:embed differential
var differentialSeeds embed.FS

// DifferentialSeeds returns the checked-in seeds of the differential
// target (corpus/differential/, as this binary was built with), in name
// order, as fuzz.ReadCorpus reads that directory. The differential driver
// (qgafuzz fuzz --agent/--agent-cmd) starts from them, so that its streams
// depend on --seed and --corpus only, not on the directory it runs in.
func DifferentialSeeds() [][]byte {
	ents, err := fs.ReadDir(differentialSeeds, "differential")
	if err != nil {
		panic(err) // embedded at build time
	}
	var out [][]byte
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name()[0] == '.' {
			continue
		}
		b, err := differentialSeeds.ReadFile("differential/" + e.Name())
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}
