package sim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// This file parses fault parameters ("rate=0.5,min=1,gap=2ms") into typed
// values with defaults, and renders the canonical spec of a fault with
// every parameter spelled out, so that a reported fault mix can be pasted
// back into --faults.

type params struct {
	name  string
	given map[string]string
	keys  []string // the given parameters, in the order given
	used  map[string]bool
	order []string // parameters in the order the fault asked for them
	vals  map[string]string
	rate  float64
	err   error
}

func parseParams(name, s string) (*params, error) {
	p := &params{name: name, given: map[string]string{}, used: map[string]bool{}, vals: map[string]string{}}
	if s == "" {
		return p, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("fault %s: parameter %q: want key=value", name, kv)
		}
		if _, dup := p.given[k]; dup {
			return nil, fmt.Errorf("fault %s: parameter %s given twice", name, k)
		}
		p.given[k] = v
		p.keys = append(p.keys, k)
	}
	return p, nil
}

func (p *params) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("fault %s: "+format, append([]any{p.name}, args...)...)
	}
}

func (p *params) lookup(key, def string) string {
	p.used[key] = true
	v, ok := p.given[key]
	if !ok {
		v = def
	}
	if _, seen := p.vals[key]; !seen {
		p.order = append(p.order, key)
	}
	p.vals[key] = v
	return v
}

func (p *params) float(key string, def float64) float64 {
	s := p.lookup(key, strconv.FormatFloat(def, 'g', 4, 64))
	f, err := strconv.ParseFloat(s, 64)
	// NaN passes every range check (each comparison is false), so it
	// is refused here with Inf, which no parameter can mean.
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		p.fail("%s=%q: want a finite non-negative number", key, s)
		return 0
	}
	return f
}

func (p *params) int(key string, def int) int {
	s := p.lookup(key, strconv.Itoa(def))
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		p.fail("%s=%q: want a non-negative integer", key, s)
	}
	return n
}

func (p *params) dur(key string, def time.Duration) time.Duration {
	s := p.lookup(key, fmtDur(def))
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		p.fail("%s=%q: want a duration such as 20ms", key, s)
	}
	return d
}

// durRange reads min and max durations (named lo and hi) and checks them.
func (p *params) durRange(lo, hi string, defLo, defHi time.Duration) (time.Duration, time.Duration) {
	a, b := p.dur(lo, defLo), p.dur(hi, defHi)
	if b < a {
		p.fail("%s=%v is below %s=%v", hi, b, lo, a)
	}
	return a, b
}

// dir reads the direction parameter: h2a, a2h or both, within allowed.
func (p *params) dir(def, allowed Site) Site {
	s := p.lookup("dir", dirName(def))
	var d Site
	switch s {
	case "h2a":
		d = SiteH2A
	case "a2h":
		d = SiteA2H
	case "both":
		d = SiteH2A | SiteA2H
	default:
		p.fail("dir=%q: want h2a, a2h or both", s)
		return def
	}
	if d&^allowed != 0 {
		p.fail("dir=%s is not supported (only %s)", s, dirName(allowed))
	}
	return d
}

func dirName(s Site) string {
	switch s {
	case SiteH2A:
		return "h2a"
	case SiteA2H:
		return "a2h"
	}
	return "both"
}

// finish reports unknown parameters (the first one given: not in map
// order, so that the message is the same every time) and bad values.
func (p *params) finish() error {
	if p.err != nil {
		return p.err
	}
	for _, k := range p.keys {
		if !p.used[k] {
			known := strings.Join(p.order, ", ")
			return fmt.Errorf("fault %s: unknown parameter %q (known: %s)", p.name, k, known)
		}
	}
	return nil
}

// spec renders name:k=v,... with rate first and every parameter.
func (p *params) spec() string {
	var b strings.Builder
	b.WriteString(p.name)
	for i, k := range p.order {
		if i == 0 {
			b.WriteByte(':')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + p.vals[k])
	}
	return b.String()
}

// base carries what every fault has: its name, rate and canonical spec.
type base struct {
	name string
	rate float64
	spec string
}

func newBase(p *params) base { return base{name: p.name, rate: p.rate} }

// setSpec is called by NewFault once every parameter has been read.
func (b *base) setSpec(s string) { b.spec = s }

// setRate changes the rate of a copy of a fault, and its spec to match
// (SwarmFaults).
func (b *base) setRate(rate float64, spec string) { b.rate, b.spec = rate, spec }

func (b base) Name() string  { return b.name }
func (b base) Rate() float64 { return b.rate }
func (b base) Spec() string  { return b.spec }
