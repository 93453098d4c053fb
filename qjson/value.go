package qjson

import (
	"math"
	"strconv"
	"strings"
	"unsafe"
)

// Kind is the type of a Value, following qemu-ga's QObject types.
type Kind uint8

const (
	Null   Kind = iota // null, and the zero Value
	Bool               // true or false
	Int                // a signed 64-bit integer
	Uint               // an integer in (2^63-1, 2^64-1], which qemu-ga keeps unsigned
	Float              // a double: any FLOAT token, and integers out of 64-bit range
	String             // text; U+0000 is held as a NUL byte
	Array              // ordered elements
	Object             // members in input order; duplicate keys cannot occur
)

var kindNames = [...]string{"null", "bool", "int", "uint", "float", "string", "array", "object"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is a parsed JSON value. The zero Value is null.
//
// A Value is two words, so that the parser writes little per member: a
// String or a container keeps its data pointer and its length the way a
// string or slice header would, with the kind in the length's top byte; a
// Bool or a number keeps its bits, and points at the tag of its kind.
type Value struct {
	ptr  unsafe.Pointer // String: its bytes; Array, Object: the first member; else &scalarTags[kind] or nil
	bits uint64         // Bool, Int, Uint, Float: the value's bits; else kind<<kindShift | length
}

// scalarTags gives each kind an address, for a Bool or number to point at.
var scalarTags [8]byte

const (
	kindShift = 56
	lenMask   = 1<<kindShift - 1
)

// scalarValue returns a Bool or a number of kind k.
func scalarValue(k Kind, bits uint64) Value {
	return Value{ptr: unsafe.Pointer(&scalarTags[k]), bits: bits}
}

func stringValue(s string) Value {
	return Value{ptr: unsafe.Pointer(unsafe.StringData(s)), bits: uint64(String)<<kindShift | uint64(len(s))}
}

// listValue returns an Array or Object holding list (elements have empty
// keys).
func listValue(k Kind, list []Member) Value {
	return Value{ptr: unsafe.Pointer(unsafe.SliceData(list)), bits: uint64(k)<<kindShift | uint64(len(list))}
}

// str returns a String's text, "" for other kinds.
func (v Value) str() string {
	if v.Kind() != String {
		return ""
	}
	return unsafe.String((*byte)(v.ptr), int(v.bits&lenMask))
}

// list returns the members or elements of a container, nil for other kinds.
func (v Value) list() []Member {
	if k := v.Kind(); k != Array && k != Object {
		return nil
	}
	return unsafe.Slice((*Member)(v.ptr), int(v.bits&lenMask))
}

// Member is one key/value pair of an object.
type Member struct {
	Key   string
	Value Value
}

// NullValue returns null.
func NullValue() Value { return Value{} }

// BoolValue returns true or false.
func BoolValue(b bool) Value {
	if b {
		return scalarValue(Bool, 1)
	}
	return scalarValue(Bool, 0)
}

// IntValue returns a signed integer.
func IntValue(i int64) Value { return scalarValue(Int, uint64(i)) }

// UintValue returns an unsigned integer; values that fit int64 become Int,
// as qemu-ga's parser would produce them.
func UintValue(u uint64) Value {
	if u <= math.MaxInt64 {
		return IntValue(int64(u))
	}
	return scalarValue(Uint, u)
}

// FloatValue returns a double.
func FloatValue(f float64) Value { return scalarValue(Float, math.Float64bits(f)) }

// StringValue returns a string.
func StringValue(s string) Value { return stringValue(s) }

// ArrayValue returns an array of the given elements.
func ArrayValue(elems ...Value) Value {
	list := make([]Member, len(elems))
	for i, e := range elems {
		list[i].Value = e
	}
	return listValue(Array, list)
}

// ObjectValue returns an object with the members in the given (insertion)
// order. Keys must be distinct. The object uses members itself, not a copy
// (unlike ArrayValue, which must build a []Member), so later changes to the
// slice show in the Value.
func ObjectValue(members ...Member) Value { return listValue(Object, members) }

// Kind returns the value's type.
func (v Value) Kind() Kind {
	if off := uintptr(v.ptr) - uintptr(unsafe.Pointer(&scalarTags)); off < uintptr(len(scalarTags)) {
		return Kind(off)
	}
	return Kind(v.bits >> kindShift)
}

// Bool returns the boolean, false for other kinds.
func (v Value) Bool() bool { return v.Kind() == Bool && v.bits != 0 }

// Int returns the value as int64 and whether it is an Int (0 and false
// for other kinds, as the bits of a Float or a string's length are no
// integer).
func (v Value) Int() (int64, bool) {
	if v.Kind() != Int {
		return 0, false
	}
	return int64(v.bits), true
}

// Uint returns the value as uint64 and whether it is a non-negative
// integer (0 and false otherwise).
func (v Value) Uint() (uint64, bool) {
	if v.Kind() == Uint || (v.Kind() == Int && int64(v.bits) >= 0) {
		return v.bits, true
	}
	return 0, false
}

// Float returns the value as a float64 for any number kind (0 and false
// for other kinds).
func (v Value) Float() (float64, bool) {
	switch v.Kind() {
	case Int:
		return float64(int64(v.bits)), true
	case Uint:
		return float64(v.bits), true
	case Float:
		return math.Float64frombits(v.bits), true
	}
	return 0, false
}

// Str returns the string and whether the value is a String.
func (v Value) Str() (string, bool) { return v.str(), v.Kind() == String }

// Len returns the number of elements or members.
func (v Value) Len() int { return len(v.list()) }

// Index returns element i of an array (or the value of member i of an
// object). Like indexing a slice, it panics if i is out of range, which it
// always is for other kinds: check Len first.
func (v Value) Index(i int) Value { return v.list()[i].Value }

// Members returns the members of an object in input order. The slice is
// shared with v.
func (v Value) Members() []Member {
	if v.Kind() != Object {
		return nil
	}
	return v.list()
}

// Get returns the member named key of an object.
func (v Value) Get(key string) (Value, bool) {
	if v.Kind() != Object {
		return Value{}, false
	}
	list := v.list()
	for i := range list {
		if list[i].Key == key {
			return list[i].Value, true
		}
	}
	return Value{}, false
}

// Clone returns a deep copy of v in memory of its own, for keeping a value
// that a Decoder with ReuseValues made.
func (v Value) Clone() Value {
	switch v.Kind() {
	case String:
		return stringValue(strings.Clone(v.str()))
	case Array, Object:
		list := make([]Member, v.Len())
		for i, m := range v.list() {
			list[i] = Member{Key: strings.Clone(m.Key), Value: m.Value.Clone()}
		}
		return listValue(v.Kind(), list)
	}
	return v
}

// Finite reports whether every number in v is finite. A parsed double can
// be infinite (a literal beyond the double range), and the serializer then
// writes "inf" as qemu-ga does, which is not JSON: only a finite value's
// serialization parses back.
func (v Value) Finite() bool {
	switch v.Kind() {
	case Float:
		f := math.Float64frombits(v.bits)
		return !math.IsInf(f, 0) && !math.IsNaN(f)
	case Array, Object:
		for _, m := range v.list() {
			if !m.Value.Finite() {
				return false
			}
		}
	}
	return true
}

// String returns the qemu-ga serialization of v.
func (v Value) String() string { return string(AppendValue(nil, v)) }

// Equal reports whether a and b are the same JSON value. Numbers compare by
// mathematical value across kinds (Int 1 equals Float 1.0, and -0.0 equals
// 0), because qemu-ga's serializer prints 1.0 as "1", which reads back as an
// integer. Objects compare as sets of members, since the serializer reorders
// them.
func Equal(a, b Value) bool {
	if isNumber(a.Kind()) && isNumber(b.Kind()) {
		return numbersEqual(a, b)
	}
	if a.Kind() != b.Kind() {
		return false
	}
	switch a.Kind() {
	case Null:
		return true
	case Bool:
		return a.bits == b.bits
	case String:
		return a.str() == b.str()
	case Array:
		al, bl := a.list(), b.list()
		if len(al) != len(bl) {
			return false
		}
		for i := range al {
			if !Equal(al[i].Value, bl[i].Value) {
				return false
			}
		}
		return true
	case Object:
		if a.bits != b.bits {
			return false
		}
		for _, m := range a.list() {
			bv, ok := b.Get(m.Key)
			if !ok || !Equal(m.Value, bv) {
				return false
			}
		}
		return true
	}
	return false
}

func isNumber(k Kind) bool { return k == Int || k == Uint || k == Float }

func numbersEqual(a, b Value) bool {
	if a.Kind() == b.Kind() && a.Kind() != Float {
		return a.bits == b.bits
	}
	if a.Kind() == Float && b.Kind() == Float {
		fa, fb := math.Float64frombits(a.bits), math.Float64frombits(b.bits)
		return fa == fb || (math.IsNaN(fa) && math.IsNaN(fb))
	}
	if a.Kind() != Float && b.Kind() != Float { // Int vs Uint: disjoint ranges
		return false
	}
	if b.Kind() == Float {
		a, b = b, a
	}
	f := math.Float64frombits(a.bits)
	if f != math.Trunc(f) || math.IsInf(f, 0) {
		return false
	}
	if b.Kind() == Int {
		i := int64(b.bits)
		return f >= -(1<<63) && f < 1<<63 && int64(f) == i
	}
	return f >= 1<<63 && f < 1<<64 && uint64(f) == b.bits
}
