package qjson

import (
	"strconv"
	"strings"
)

// ErrorKind says which stage of qemu-ga's input path raised an error.
type ErrorKind uint8

const (
	// LexicalError is a byte with no transition in the lexer (for example
	// 0xFF). The lexer enters recovery mode afterwards.
	LexicalError ErrorKind = iota + 1
	// LimitError is a tripped token size, token count or nesting depth
	// limit. The lexer stays in its start state.
	LimitError
	// ParseError is a complete message that is not one valid JSON value.
	ParseError
)

func (k ErrorKind) String() string {
	switch k {
	case LexicalError:
		return "lexical"
	case LimitError:
		return "limit"
	case ParseError:
		return "parse"
	}
	return "ErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// Error is the one error type of this package. It carries what qemu-ga would
// reply (Class and Desc) and where in the stream it happened.
//
// Desc holds the description exactly as qemu-ga holds it internally; for a
// lexical error it embeds the raw bytes of the offending token, which need not
// be valid UTF-8. AppendString renders it the way qemu-ga puts it on the wire.
type Error struct {
	// Offset is the 0-based stream offset of the byte that raised the error.
	Offset int64
	Kind   ErrorKind
	// Class is the QMP error class, "GenericError" for every parser error.
	Class string
	// Desc is qemu-ga's description, e.g. "JSON parse error, stray '\xff'".
	Desc string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("qjson: ")
	b.WriteString(e.Kind.String())
	b.WriteString(" error at offset ")
	b.WriteString(strconv.FormatInt(e.Offset, 10))
	b.WriteString(": ")
	// Render the description as it would appear on the wire so that raw
	// bytes in a stray token never reach a terminal unescaped.
	b.Write(appendStringBody(nil, e.Desc))
	return b.String()
}

const genericError = "GenericError"

// Parse error descriptions, exactly as qemu-ga 7.2 words them.
const (
	msgExpectingValue  = "expecting value"
	msgListSeparator   = "expected separator in list"
	msgDictSeparator   = "expected separator in dict"
	msgKeyNotString    = "key is not a string in object"
	msgMissingColon    = "missing : in object pair"
	msgDuplicateKey    = "duplicate key"
	msgInvalidEscape   = "invalid escape sequence in string"
	msgInvalidUTF8     = "invalid UTF-8 sequence in string"
	msgPrematureEnd    = "premature EOI"
	descTokenSize      = "JSON token size limit exceeded"
	descTokenCount     = "JSON token count limit exceeded"
	descNestingDepth   = "JSON nesting depth limit exceeded"
	parseErrorPrefix   = "JSON parse error, "
	invalidUnicodeTail = " is not a valid Unicode character"
)

func newParseError(off int64, msg string) *Error {
	return &Error{Offset: off, Kind: ParseError, Class: genericError, Desc: parseErrorPrefix + msg}
}

// newStrayError builds the error for a lexical error token. qemu-ga treats
// the token text as a C string, so a NUL byte cuts it.
func newStrayError(off int64, text []byte) *Error {
	for i, c := range text {
		if c == 0 {
			text = text[:i]
			break
		}
	}
	return &Error{Offset: off, Kind: LexicalError, Class: genericError,
		Desc: parseErrorPrefix + "stray '" + string(text) + "'"}
}
