package qjson

import (
	"math"
	"slices"
	"strconv"
)

// This file is qemu-ga's reply serializer: compact JSON with ", " and ": "
// separators, every control and non-ASCII character escaped, doubles printed
// like C's "%.17g", and object members in the order of qemu-ga's hash table.

const hexUpper = "0123456789ABCDEF"

// AppendValue appends the qemu-ga serialization of v to dst (no newline).
func AppendValue(dst []byte, v Value) []byte {
	switch v.Kind() {
	case Null:
		return append(dst, "null"...)
	case Bool:
		if v.bits != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case Int:
		return strconv.AppendInt(dst, int64(v.bits), 10)
	case Uint:
		return strconv.AppendUint(dst, v.bits, 10)
	case Float:
		return appendFloat(dst, math.Float64frombits(v.bits))
	case String:
		return AppendString(dst, v.str())
	case Array:
		dst = append(dst, '[')
		for i, m := range v.list() {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = AppendValue(dst, m.Value)
		}
		return append(dst, ']')
	case Object:
		return appendObject(dst, v.list())
	}
	return dst
}

// appendFloat prints f as C's printf("%.17g") does, which qemu-ga uses.
// Infinities come out as "inf" and "-inf": not JSON, but what qemu-ga sends.
func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case math.IsNaN(f):
		return append(dst, "nan"...)
	}
	return strconv.AppendFloat(dst, f, 'g', 17, 64)
}

// appendObject writes members in qemu-ga's hash order.
func appendObject(dst []byte, members []Member) []byte {
	var small [16]int
	dst = append(dst, '{')
	for n, i := range AppendHashOrder(small[:0], members) {
		if n > 0 {
			dst = append(dst, ", "...)
		}
		dst = AppendString(dst, members[i].Key)
		dst = append(dst, ": "...)
		dst = AppendValue(dst, members[i].Value)
	}
	return append(dst, '}')
}

// AppendHashOrder appends to dst the indices of members in the order
// qemu-ga walks its dictionaries (when it serializes an object and when it
// validates a request's members): buckets ascending, and within one bucket
// the most recently inserted member first.
func AppendHashOrder(dst []int, members []Member) []int {
	base := len(dst)
	for i := range members {
		dst = append(dst, i)
	}
	if len(members) < 2 {
		return dst
	}
	var kb [16]uint16
	keys := kb[:0]
	if len(members) > len(kb) {
		keys = make([]uint16, 0, len(members))
	}
	for i := range members {
		keys = append(keys, uint16(HashBucket(members[i].Key)))
	}
	slices.SortFunc(dst[base:], func(a, b int) int {
		if keys[a] != keys[b] {
			return int(keys[a]) - int(keys[b])
		}
		return b - a
	})
	return dst
}

// HashBuckets is the number of buckets of qemu-ga's dictionaries.
const HashBuckets = 512

// HashBucket returns the bucket qemu-ga files key under, which decides the
// order of members in replies and in member validation. The hash runs over
// the key's modified UTF-8 bytes, so U+0000 counts as the two bytes C0 80.
func HashBucket(key string) int {
	n := uint32(len(key))
	for i := 0; i < len(key); i++ {
		if key[i] == 0 {
			n++
		}
	}
	h := 0x238F13AF * n
	j := uint32(0)
	add := func(c byte) {
		h += uint32(c) << (j * 5 % 24)
		j++
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c != 0 {
			add(c)
		} else {
			add(0xC0)
			add(0x80)
		}
	}
	return int((1103515243*h + 12345) % HashBuckets)
}

// AppendString appends s as a qemu-ga JSON string, quotes included. s may
// hold any bytes: valid UTF-8 is escaped as \uXXXX above U+007E, and each
// invalid sequence becomes \uFFFD, as qemu-ga renders raw error tokens.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendStringBody(dst, s)
	return append(dst, '"')
}

func appendStringBody(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		// Copy the longest run that needs no escaping in one go.
		j := i
		for j < len(s) && s[j] >= 0x20 && s[j] < 0x7F && s[j] != '"' && s[j] != '\\' {
			j++
		}
		dst = append(dst, s[i:j]...)
		if j == len(s) {
			break
		}
		i = j
		c := s[i]
		if c < 0x80 {
			i++
			switch c {
			case '"':
				dst = append(dst, `\"`...)
			case '\\':
				dst = append(dst, `\\`...)
			case '\b':
				dst = append(dst, `\b`...)
			case '\f':
				dst = append(dst, `\f`...)
			case '\n':
				dst = append(dst, `\n`...)
			case '\r':
				dst = append(dst, `\r`...)
			case '\t':
				dst = append(dst, `\t`...)
			default: // other controls and 0x7F
				dst = appendU(dst, rune(c))
			}
			continue
		}
		r, size, ok := decodeMUTF8(s[i:min(len(s), i+6)])
		i += size
		if !ok {
			r = 0xFFFD
		}
		if r > 0xFFFF {
			r -= 0x10000
			dst = appendU(dst, 0xD800+(r>>10))
			dst = appendU(dst, 0xDC00+(r&0x3FF))
			continue
		}
		dst = appendU(dst, r)
	}
	return dst
}

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexUpper[r>>12&0xF], hexUpper[r>>8&0xF], hexUpper[r>>4&0xF], hexUpper[r&0xF])
}
