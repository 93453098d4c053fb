package qga

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// This file holds the Client's error types. Callers tell failures apart with
// errors.Is and errors.As:
//
//	var ae *qga.AgentError
//	switch {
//	case errors.As(err, &ae):               // the agent answered with an error
//	case errors.Is(err, qga.ErrTimeout):     // a deadline passed
//	case errors.Is(err, qga.ErrClosed):      // EOF or a closed channel
//	case errors.Is(err, qga.ErrProtocol):    // bytes that are not a valid reply
//	case errors.Is(err, qga.ErrReplyTooLarge):
//	}
//
// Every error except *AgentError and ErrInvalidRequest leaves the channel in
// an unknown state, so the next call resynchronises first.

// Sentinels matched by the Client's errors.
var (
	// ErrTimeout: a deadline (from the context or ClientOptions.Timeout)
	// passed. Errors matching it also match os.ErrDeadlineExceeded and
	// context.DeadlineExceeded.
	ErrTimeout = errors.New("qga: timeout")
	// ErrClosed: the channel reached EOF, was reset, or the Client was
	// closed.
	ErrClosed = errors.New("qga: channel closed")
	// ErrProtocol: the agent sent bytes that are not a reply to the
	// request (malformed JSON, a reply to someone else, too much garbage
	// before the sync reply). See *ProtocolError.
	ErrProtocol = errors.New("qga: protocol error")
	// ErrReplyTooLarge: a reply exceeded ClientOptions.MaxReplySize (or its
	// token budget). See *ReplyTooLargeError.
	ErrReplyTooLarge = errors.New("qga: reply too large")
	// ErrInvalidRequest: the request cannot be sent as given (arguments
	// that are not an object, non-finite numbers, beyond qemu-ga's input
	// limits). Nothing was sent; the channel state is unchanged.
	ErrInvalidRequest = errors.New("qga: invalid request")
)

// AgentError is an error reply from the agent:
// {"error": {"class": Class, "desc": Desc}}. It is the only error after
// which the channel is known to be in step.
type AgentError struct {
	Class string // e.g. "GenericError", "CommandNotFound"
	Desc  string
}

func (e *AgentError) Error() string { return e.Class + ": " + e.Desc }

// ProtocolError reports bytes from the agent that cannot be the reply to the
// request. Offset is the position in the byte stream received on the
// current connection (0 = its first byte).
type ProtocolError struct {
	Offset  int64
	Excerpt []byte // up to 16 bytes around Offset
	Reason  string
}

const excerptLen = 16

func (e *ProtocolError) Error() string {
	s := "qga: protocol error at offset " + strconv.FormatInt(e.Offset, 10) + ": " + e.Reason
	if len(e.Excerpt) > 0 {
		s += " (bytes " + hex.EncodeToString(e.Excerpt) + ")"
	}
	return s
}

// Is makes errors.Is(err, ErrProtocol) true.
func (e *ProtocolError) Is(target error) bool { return target == ErrProtocol }

// ReplyTooLargeError reports a reply line longer than Limit bytes, or with
// more tokens than the Client parses for one reply.
type ReplyTooLargeError struct {
	Limit  int64 // the limit that tripped (bytes, or tokens when Tokens)
	Tokens bool
	Offset int64 // stream offset of the reply's first byte
}

func (e *ReplyTooLargeError) Error() string {
	unit := " bytes"
	if e.Tokens {
		unit = " JSON tokens"
	}
	return "qga: reply at offset " + strconv.FormatInt(e.Offset, 10) + " is larger than " +
		strconv.FormatInt(e.Limit, 10) + unit + " (ClientOptions.MaxReplySize)"
}

// Is makes errors.Is(err, ErrReplyTooLarge) true.
func (e *ReplyTooLargeError) Is(target error) bool { return target == ErrReplyTooLarge }

// opError is a timeout or closed-channel error with the step that hit it and
// the transport's own error, which stays reachable through Unwrap (so
// errors.Is(err, io.EOF) works too).
type opError struct {
	kind error // ErrTimeout or ErrClosed
	op   string
	err  error
}

func (e *opError) Error() string {
	if e.err == nil {
		return e.kind.Error() + " while " + e.op
	}
	return e.kind.Error() + " while " + e.op + ": " + e.err.Error()
}

func (e *opError) Unwrap() error { return e.err }

func (e *opError) Is(target error) bool {
	if target == e.kind {
		return true
	}
	return e.kind == ErrTimeout && (target == os.ErrDeadlineExceeded || target == context.DeadlineExceeded)
}

// Timeout reports whether the error is a timeout, like net.Error.
func (e *opError) Timeout() bool { return e.kind == ErrTimeout }

// errBroken is the cause reported when a call finds the transport already
// failed and may not redial.
var errBroken = errors.New("the transport failed earlier and ClientOptions.Reconnect is off")

// errClientClosed is the cause reported by a call that Close interrupted,
// and by every call after Close.
var errClientClosed = errors.New("the Client was closed")

// errNoTransport is the cause reported by a Client that never had a
// transport (the zero Client, or NewClient(nil, ...) without Redial).
var errNoTransport = errors.New("the Client has no transport (create it with DialClient, or NewClient with a Transport or with Reconnect and Redial)")

// errNoRedialTransport is the cause reported when ClientOptions.Redial
// returns neither a transport nor an error.
var errNoRedialTransport = errors.New("ClientOptions.Redial returned neither a transport nor an error")

func timeoutError(op string, cause error) error { return &opError{ErrTimeout, op, cause} }

// ctxError maps a done context: its deadline is a timeout, cancellation is
// reported as context.Canceled.
func ctxError(op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return timeoutError(op, err)
	}
	return fmt.Errorf("qga: %s: %w", op, err)
}

func closedError(op string, cause error) error { return &opError{ErrClosed, op, cause} }

func protocolError(off int64, line []byte, at int, format string, args ...any) *ProtocolError {
	return &ProtocolError{Offset: off + int64(at), Excerpt: excerpt(line, at), Reason: fmt.Sprintf(format, args...)}
}

// excerpt copies up to excerptLen bytes of b starting a little before at.
func excerpt(b []byte, at int) []byte {
	start := max(0, min(at, len(b))-excerptLen/2)
	end := min(len(b), start+excerptLen)
	return append([]byte(nil), b[start:end]...)
}

// channelKnown reports whether the channel is still in step after err.
func channelKnown(err error) bool {
	var ae *AgentError
	return err == nil || errors.As(err, &ae) || errors.Is(err, ErrInvalidRequest)
}
