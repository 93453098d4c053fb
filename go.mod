module github.com/qgafuzz/qgafuzz

go 1.26
