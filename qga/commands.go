package qga

// CommandInfo describes one RPC as guest-info reports it.
type CommandInfo struct {
	Name string
	// Enabled is false for commands blocked with qemu-ga's -b option (and,
	// on Linux, guest-get-devices).
	Enabled bool
	// SuccessResponse is false for the commands that send no reply when
	// they succeed (shutdown and suspend).
	SuccessResponse bool
}

// Names of the commands the reference agent implements.
const (
	CmdSync          = "guest-sync"
	CmdSyncDelimited = "guest-sync-delimited"
	CmdPing          = "guest-ping"
	CmdInfo          = "guest-info"
)

// DefaultVersion is the version qemu-ga 7.2 reports in guest-info.
const DefaultVersion = "7.2.22"

// commands72 is qemu-ga 7.2's command list in guest-info order (the
// reverse of registration), taken from a live agent.
var commands72 = []string{
	"guest-get-cpustats", "guest-get-diskstats", "guest-ssh-remove-authorized-keys",
	"guest-ssh-add-authorized-keys", "guest-ssh-get-authorized-keys", "guest-get-devices",
	"guest-get-osinfo", "guest-get-timezone", "guest-get-users", "guest-get-host-name",
	"guest-exec", "guest-exec-status", "guest-get-memory-block-info", "guest-set-memory-blocks",
	"guest-get-memory-blocks", "guest-set-user-password", "guest-get-fsinfo", "guest-get-disks",
	"guest-set-vcpus", "guest-get-vcpus", "guest-network-get-interfaces",
	"guest-suspend-hybrid", "guest-suspend-ram", "guest-suspend-disk", "guest-fstrim",
	"guest-fsfreeze-thaw", "guest-fsfreeze-freeze-list", "guest-fsfreeze-freeze",
	"guest-fsfreeze-status", "guest-file-flush", "guest-file-seek", "guest-file-write",
	"guest-file-read", "guest-file-close", "guest-file-open", "guest-shutdown", "guest-info",
	"guest-set-time", "guest-get-time", "guest-ping", "guest-sync", "guest-sync-delimited",
}

// Commands72 returns qemu-ga 7.2's 42 commands in guest-info order, as a
// qemu-ga started with every command blocked except guest-sync,
// guest-sync-delimited, guest-ping and guest-info reports them: the only
// safe configuration for tests, and the reference agent's default.
func Commands72() []CommandInfo {
	out := make([]CommandInfo, len(commands72))
	for i, name := range commands72 {
		out[i] = CommandInfo{Name: name, SuccessResponse: true}
		switch name {
		case CmdSync, CmdSyncDelimited, CmdPing, CmdInfo:
			out[i].Enabled = true
		case "guest-shutdown", "guest-suspend-disk", "guest-suspend-ram", "guest-suspend-hybrid":
			out[i].SuccessResponse = false
		}
	}
	return out
}

// SafeCommands reports whether name is one of the four commands the
// reference agent implements and that are safe to send to a real agent.
func SafeCommands(name string) bool {
	switch name {
	case CmdSync, CmdSyncDelimited, CmdPing, CmdInfo:
		return true
	}
	return false
}
