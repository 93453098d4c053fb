package qjson_test

import (
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/qgafuzz/qgafuzz/qjson"
)

// exactFloat rounds the number token s to the nearest double, ties to
// even, as strtod does (the reference for parseFloat).
func exactFloat(t *testing.T, s string) float64 {
	t.Helper()
	neg := strings.HasPrefix(s, "-")
	r, ok := new(big.Rat).SetString(strings.TrimPrefix(s, "-"))
	if !ok {
		t.Fatalf("big.Rat cannot read %.40q", s)
	}
	f, _ := r.Float64()
	if neg {
		f = -f
	}
	return f
}

// parseFloatToken parses a number token through the Decoder and returns
// its value as a double.
func parseFloatToken(t *testing.T, s string) float64 {
	t.Helper()
	v := parseOne(t, []byte(s+" "))
	f, ok := v.Float()
	if !ok {
		t.Fatalf("%.40q: kind %v", s, v.Kind())
	}
	return f
}

// TestLongFloatsRoundLikeStrtod: a FLOAT token of any length is the double
// nearest to its value, as qemu-ga's strtod gives it. strconv.ParseFloat
// alone misreads tokens with more than 800 digits before the point, or an
// exponent of 5 digits or more offset by the digits: "1" + 1000 zeros +
// "e-1000" came out as 1e-201 where a live qemu-ga echoes 1.
func TestLongFloatsRoundLikeStrtod(t *testing.T) {
	z := func(n int) string { return strings.Repeat("0", n) }
	half := "1.00000000000000011102230246251565404236316680908203125" // 1 + 2^-53
	cases := []string{
		"1" + z(1000) + "e-1000",
		"1" + z(1000) + ".5e-1000",
		"-1" + z(20000) + "e-20000",
		"1" + z(20000) + "e-20001",
		"0." + z(20000) + "1e20001",
		"0." + z(10010) + "1e10000",
		strings.Repeat("9", 1000) + "e-1000",
		strings.Repeat("1234567890", 100) + "e-990",
		"1" + z(801) + "e-801",
		"1" + z(779) + "e-779",
		"1" + z(780) + "e-780",
		"1" + z(781) + "e-781",
		half,
		half + z(900),
		half + z(900) + "1",
		"-" + half + z(900) + "1",
		"1." + z(1000),
		"0." + z(1000) + "1",
		"0." + z(300) + "4940656458412465441765687928682213723651e-23",
		"0." + z(300) + "2470328229206232720882538e-23", // just above half the least subnormal
		"2.4703282292062327208828439643411068618252990130716238221279284125033775363510437593264991818081799618989828234772285886546332835517796989819938739800539093906315035659515570226392290858392449105184435931802849936536152500319370457678249219365623669863658480757001585769269903706311928279558551332927834338409351978015531246597263579574622766465272827220056374006485499977096599470454020828166226237857393450736339007967761930577506740176324673600968951340535537458516661134223766678604162159680461914467291840300530057530849048765391711386591646239524912623653881879636239373280423891018672348497668235089863388587925628302755995657524455507255189313690836254779186948667994968324049705821028513185451396213837722826145437693412532098591327667236328125e-324",
		"2.4703282292062327208828439643411068618252990130716238221279284125033775363510437593264991818081799618989828234772285886546332835517796989819938739800539093906315035659515570226392290858392449105184435931802849936536152500319370457678249219365623669863658480757001585769269903706311928279558551332927834338409351978015531246597263579574622766465272827220056374006485499977096599470454020828166226237857393450736339007967761930577506740176324673600968951340535537458516661134223766678604162159680461914467291840300530057530849048765391711386591646239524912623653881879636239373280423891018672348497668235089863388587925628302755995657524455507255189313690836254779186948667994968324049705821028513185451396213837722826145437693412532098591327667236328125" + z(100) + "1e-324",
		"17976931348623158" + z(292) + ".0" + z(800),
		"17976931348623158" + z(291) + "9" + z(800) + "e0",
		"17976931348623157" + z(292) + "9" + z(800),
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		n := 1 + r.IntN(1600)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + r.IntN(10))
		}
		b[0] = byte('1' + r.IntN(9))
		s := string(b)
		if n > 1 && r.IntN(2) == 0 {
			k := 1 + r.IntN(n-1)
			s = s[:k] + "." + s[k:]
		}
		if !strings.Contains(s, ".") || r.IntN(2) == 0 {
			s += "e" + strconv.Itoa(r.IntN(700)-350-n)
		}
		if r.IntN(2) == 0 {
			s = "-" + s
		}
		cases = append(cases, s)
	}
	for _, s := range cases {
		got, want := parseFloatToken(t, s), exactFloat(t, s)
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("%d-byte token %.60q...: got %v, want %v", len(s), s, got, want)
		}
	}
	// Beyond any double, or below: exponents too large for big.Rat.
	for s, want := range map[string]float64{
		"1e" + z(100000) + "5":                          1e5,
		"1e-" + z(100000) + "5":                         1e-5,
		"1" + z(900) + "e99999999999999999999":          math.Inf(1),
		"-1" + z(900) + "e99999999999999999999":         math.Inf(-1),
		"1" + z(900) + "e-99999999999999999999":         0,
		"-1" + z(900) + "e-99999999999999999999":        math.Copysign(0, -1),
		"0." + z(900) + "e" + strings.Repeat("9", 1000): 0,
		"-0." + z(900):                                  math.Copysign(0, -1),
		"0." + z(100000) + "1e100001":                   1,
	} {
		if got := parseFloatToken(t, s); math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("%d-byte token %.60q...: got %v, want %v", len(s), s, got, want)
		}
	}
}

// TestLongFloatsNearMidpoints: long tokens at and around the exact
// midpoint of two doubles, where one digit far down decides the rounding:
// exact midpoints padded with zeros, then ended with nothing or a 1.
func TestLongFloatsNearMidpoints(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pad := strings.Repeat("0", 1500)
	for range 300 {
		f := math.Float64frombits(rng.Uint64() &^ (1 << 63))
		up := math.Nextafter(f, math.Inf(1))
		if math.IsInf(up, 0) || math.IsNaN(f) {
			continue
		}
		mid := new(big.Float).SetPrec(2100).SetFloat64(f)
		mid.Add(mid, new(big.Float).SetFloat64(up)).Quo(mid, big.NewFloat(2))
		exact := mid.Text('f', 1100) // a binary fraction ends within 1075 digits
		sign := ""
		if rng.IntN(2) == 0 {
			sign = "-"
		}
		for _, tail := range []string{"", "1"} {
			for _, s := range []string{
				sign + exact + pad[:rng.IntN(len(pad))] + tail,
				sign + exact + pad[:rng.IntN(len(pad))] + tail + "e" + strconv.Itoa(rng.IntN(40)-20),
			} {
				if got, want := parseFloatToken(t, s), exactFloat(t, s); math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("%d-byte token %.60q...: got %v, want %v", len(s), s, got, want)
				}
			}
		}
	}
}

// TestLongFloatsParseInPlace: a long FLOAT token is not copied, also when
// it overflows (strconv's range error quotes its input).
func TestLongFloatsParseInPlace(t *testing.T) {
	checkHugeNumberNoCopy(t, "0."+strings.Repeat("0", 1<<20)+"15e1048577", 1.5)
	checkHugeNumberNoCopy(t, strings.Repeat("1", 1<<20)+".5", math.Inf(1))
}

// checkHugeNumberNoCopy parses a huge number token and checks its value,
// and that parsing it allocated little (no copy of the token).
func checkHugeNumberNoCopy(t *testing.T, token string, want float64) {
	t.Helper()
	huge := []byte(token + " ")
	d := qjson.NewDecoder()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, ok := d.Feed(huge)
	runtime.ReadMemStats(&after)
	if !ok || n != len(huge)-1 {
		t.Fatalf("Feed: %d, %v", n, ok)
	}
	if f, _ := d.Event().Value.Float(); f != want {
		t.Errorf("a %d-byte number is %v, want %v", len(token), f, want)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
		t.Errorf("parsing a %d-byte number allocated %d KiB", len(token), grew>>10)
	}
}
