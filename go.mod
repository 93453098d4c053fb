module github.com/qgafuzz/qgafuzz

go 1.26

require (
	github.com/go-json-experiment/json v1.27.2 // indirect
	pgregory.net/rapid v1.3.0 // indirect
)
