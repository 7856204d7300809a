package agentenrichprocessor

import (
	"bytes"
	"io"
	"os"
	"os/user"
	"strings"

	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"
)

// machineIDPaths are where Linux keeps the host's machine id: systemd's
// /etc/machine-id, else D-Bus's copy on systems without systemd. The id is
// stable across reboots and network changes, unlike a host name or an
// address. On other systems neither exists and host.id is not added.
var machineIDPaths = []string{"/etc/machine-id", "/var/lib/dbus/machine-id"}

// identity is what the collector knows about itself, detected once at start.
type identity struct {
	hostID           string // "" when not detected
	hostName         string
	userName         string // only when user_from_process
	collectorID      string // service.instance.id of the collector
	collectorVersion string
}

// detectIdentity reads the host's and the collector's identity. Nothing of
// it is required: what cannot be detected is left out of the records, and
// the reason is logged.
func detectIdentity(cfg *Config, set processor.Settings, logger *zap.Logger) identity {
	var id identity
	for _, p := range machineIDPaths {
		v, err := readMachineID(p)
		if err == nil && v != "" {
			id.hostID = v
			break
		}
	}
	if id.hostID == "" && cfg.HostIdentity {
		logger.Info("no machine id found: records get no host.id from this collector", zap.Strings("paths", machineIDPaths))
	}
	if h, err := os.Hostname(); err == nil {
		id.hostName = h
	} else {
		logger.Warn("cannot read the host name", zap.Error(err))
	}
	if cfg.UserFromProcess {
		if u, err := user.Current(); err == nil {
			id.userName = u.Username
		} else {
			logger.Warn("cannot read the collector's OS user: records get no user.name", zap.Error(err))
		}
	}
	if v, ok := set.Resource.Attributes().Get("service.instance.id"); ok {
		id.collectorID = v.AsString()
	}
	id.collectorVersion = set.BuildInfo.Version
	return id
}

// readMachineID reads one machine-id file. systemd writes "uninitialized"
// there during the first boot, before the id exists; that is no id.
func readMachineID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	// A machine id is 32 hex digits; the bound keeps a wrong file (a
	// symlink to something large) from costing more than a page.
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(bytes.TrimRight(b, "\x00")))
	if v == "uninitialized" || strings.ContainsAny(v, " \t\r\n") {
		return "", nil
	}
	return v, nil
}
