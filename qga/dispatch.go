package qga

import (
	"github.com/qgafuzz/qgafuzz/qjson"
)

// This file is the request dispatcher: what qemu-ga does with a parsed
// value, in the order it checks things, with its exact error texts.

// Error classes qemu-ga uses.
const (
	genericError    = "GenericError"
	commandNotFound = "CommandNotFound"
)

// Dispatcher error texts.
const (
	descNotObject   = "QMP input must be a JSON object"
	descNoExecute   = "QMP input lacks member 'execute'"
	descExecNotStr  = "QMP input member 'execute' must be a string"
	descArgsNotObj  = "QMP input member 'arguments' must be an object"
	descUnsupported = "this feature or command is not currently supported"
)

func errorReply(class, desc string) qjson.Member {
	return qjson.Member{Key: "error", Value: qjson.ObjectValue(
		qjson.Member{Key: "class", Value: qjson.StringValue(class)},
		qjson.Member{Key: "desc", Value: qjson.StringValue(desc)},
	)}
}

func returnReply(v qjson.Value) qjson.Member { return qjson.Member{Key: "return", Value: v} }

// appendReply serializes one reply line: body plus the echoed id, if any.
func appendReply(dst []byte, body qjson.Member, id qjson.Value, hasID bool) []byte {
	members := [2]qjson.Member{body, {Key: "id", Value: id}}
	n := 1
	if hasID {
		n = 2
	}
	dst = qjson.AppendValue(dst, qjson.ObjectValue(members[:n]...))
	return append(dst, '\n')
}

func (a *Agent) dispatch(dst []byte, req qjson.Value) []byte {
	if req.Kind() != qjson.Object {
		return appendReply(dst, errorReply(genericError, descNotObject), qjson.Value{}, false)
	}
	id, hasID := req.Get("id")
	fail := func(class, desc string) []byte {
		return appendReply(dst, errorReply(class, desc), id, hasID)
	}

	// Members are validated in hash order, so when several are bad the
	// one reported is the first in that order, not in the input.
	members := req.Members()
	var orderBuf [8]int
	var name string
	var args qjson.Value
	hasExec, hasArgs := false, false
	for _, i := range qjson.AppendHashOrder(orderBuf[:0], members) {
		m := members[i]
		switch m.Key {
		case "execute":
			s, ok := m.Value.Str()
			if !ok {
				return fail(genericError, descExecNotStr)
			}
			name, hasExec = s, true
		case "arguments":
			if m.Value.Kind() != qjson.Object {
				return fail(genericError, descArgsNotObj)
			}
			args, hasArgs = m.Value, true
		case "id":
		default:
			return fail(genericError, "QMP input member '"+m.Key+"' is unexpected")
		}
	}
	if !hasExec {
		return fail(genericError, descNoExecute)
	}
	idx, known := a.byName[name]
	if !known {
		dst = fail(commandNotFound, "The command "+name+" has not been found")
		if a.cfg.Bug == BugDroppedNewline {
			dst = dst[:len(dst)-1]
		}
		return dst
	}
	if !a.cfg.Commands[idx].Enabled {
		return fail(commandNotFound, "Command "+name+" has been disabled")
	}
	if !hasArgs {
		args = qjson.ObjectValue()
	}

	switch name {
	case CmdSync, CmdSyncDelimited:
		v, ok := args.Get("id")
		if !ok {
			return fail(genericError, "Parameter 'id' is missing")
		}
		n, isInt := v.Int()
		if !isInt {
			return fail(genericError, "Invalid parameter type for 'id', expected: integer")
		}
		if extra, ok := unexpectedArgument(args, "id"); ok {
			return fail(genericError, "Parameter '"+extra+"' is unexpected")
		}
		if name == CmdSyncDelimited && !(a.cfg.Bug == BugNoDelimiterLargeID && n > 1<<31-1) {
			dst = append(dst, Delimiter)
		}
		return appendReply(dst, returnReply(qjson.IntValue(n)), id, hasID)
	case CmdPing, CmdInfo:
		if extra, ok := unexpectedArgument(args); ok {
			return fail(genericError, "Parameter '"+extra+"' is unexpected")
		}
		if name == CmdPing {
			dst = appendReply(dst, returnReply(qjson.ObjectValue()), id, hasID)
			if a.cfg.Bug == BugDuplicateReply && hasID {
				dst = appendReply(dst, returnReply(qjson.ObjectValue()), id, hasID)
			}
			return dst
		}
		if !hasID {
			// The commonest reply by far in bytes, and always the same.
			if a.infoReply == nil {
				a.infoReply = appendReply(nil, returnReply(a.infoValue()), id, false)
			}
			return append(dst, a.infoReply...)
		}
		return appendReply(dst, returnReply(a.infoValue()), id, hasID)
	}
	return fail(genericError, descUnsupported)
}

// infoValue builds guest-info's return value once per agent, or once for
// all the agents with the default version and command table.
func (a *Agent) infoValue() qjson.Value {
	if a.info.Kind() == qjson.Object {
		return a.info
	}
	if a.defaultTable && a.cfg.Version == DefaultVersion {
		a.info = defaultInfo
	} else {
		a.info = infoOf(a.cfg.Version, a.cfg.Commands)
	}
	return a.info
}

// defaultInfo is shared by the agents that would each build the same value
// (values are never modified): the simulator and the fuzz targets start
// agents by the thousand a second. Like the default table, it is built
// when the package is initialised.
var defaultInfo = infoOf(DefaultVersion, defaultCommandTable)

// infoOf builds guest-info's return value.
func infoOf(version string, commands []CommandInfo) qjson.Value {
	cmds := make([]qjson.Value, len(commands))
	for i, c := range commands {
		cmds[i] = qjson.ObjectValue(
			qjson.Member{Key: "enabled", Value: qjson.BoolValue(c.Enabled)},
			qjson.Member{Key: "name", Value: qjson.StringValue(c.Name)},
			qjson.Member{Key: "success-response", Value: qjson.BoolValue(c.SuccessResponse)},
		)
	}
	return qjson.ObjectValue(
		qjson.Member{Key: "version", Value: qjson.StringValue(version)},
		qjson.Member{Key: "supported_commands", Value: qjson.ArrayValue(cmds...)},
	)
}
