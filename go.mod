module github.com/qgafuzz/qgafuzz

go 1.26

require (
	github.com/AdaLogics/go-fuzz-headers v0.0.0-20240806141605-e8a1dd7889d6
	github.com/dvyukov/go-fuzz v0.0.0-20220726122315-1d375ef9f9f6
	github.com/go-json-experiment/json v1.27.2
	pgregory.net/rapid v1.3.0
)
