package qjson

// SetFastPath turns the full-parse hot path on or off (tests only) and
// returns the previous setting.
func SetFastPath(on bool) bool {
	was := !noFastPath
	noFastPath = !on
	return was
}

// ParseFloat is the parser's conversion of a number token to a double.
func ParseFloat(s string) float64 { return parseFloat(s) }
