// Package detmath computes the few floating-point functions that the
// seeded generators (sim's swarm fault mix, qgatest's request streams)
// need, with the same bits on every GOARCH, so that a seed recorded on
// one machine reproduces on another.
//
// The standard library does not promise that: math.Log, math.Exp and
// math.Pow have assembly versions on some architectures (amd64, arm64,
// s390x) that differ from the pure Go ones in the last bit, and the Go
// compiler may fuse x*y+z into one fused multiply-add (FMA) instruction
// on arm64, s390x, ppc64le and riscv64 (never on amd64 or 386), which
// rounds once instead of twice. rand.Rand's NormFloat64 inherits both.
//
// The functions here are the standard library's pure Go algorithms
// (FreeBSD's msun, by way of Go's math package) with every product that
// feeds an addition rounded by an explicit float64 conversion, which the
// Go specification says prevents fusion. They give the results the pure
// Go code gives on amd64 and 386, which for Log is also what amd64's
// assembly gives; the tests pin their bits.
package detmath
