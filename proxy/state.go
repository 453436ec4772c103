package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

// stateVersion is the format of the state file.
const stateVersion = 1

// State is what the proxy keeps across restarts: routes (without draining
// targets: requests in flight do not survive a restart), locks, records
// and the audit log.
type State struct {
	Version int              `json:"version"`
	Routes  []drivers.Route  `json:"routes"`
	Locks   []drivers.Lock   `json:"locks"`
	Records []machine.Record `json:"records"`
	Events  []drivers.Event  `json:"events,omitempty"`
	// Ports are the projects' port claims (ports.go).
	Ports []drivers.PortClaim `json:"ports,omitempty"`
	// Unknown are top-level entries a newer luma-proxy wrote: kept and
	// written back as they are, so running an older proxy (an older
	// luma's setup) loses nothing a newer one recorded.
	Unknown map[string]json.RawMessage `json:"-"`
}

// knownState are the top-level keys State decodes.
var knownState = map[string]bool{"version": true, "routes": true, "locks": true, "records": true, "events": true, "ports": true}

// rawState decodes the file entry by entry, so one bad entry costs only
// itself.
type rawState struct {
	Version int               `json:"version"`
	Routes  []json.RawMessage `json:"routes"`
	Locks   []json.RawMessage `json:"locks"`
	Records []json.RawMessage `json:"records"`
	Events  []json.RawMessage `json:"events"`
	Ports   []json.RawMessage `json:"ports"`
}

// readState reads path. A missing file is an empty state. Entries that do
// not decode or make no sense are skipped and reported in skipped.
func readState(path string) (st State, skipped []error, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return State{Version: stateVersion}, nil, nil
	}
	if err != nil {
		return State{}, nil, err
	}
	var raw rawState
	if err := json.Unmarshal(data, &raw); err != nil {
		return State{}, nil, fmt.Errorf("state file %s is not valid JSON: %w", path, err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err == nil {
		for k, v := range top {
			if !knownState[k] {
				if st.Unknown == nil {
					st.Unknown = map[string]json.RawMessage{}
				}
				st.Unknown[k] = v
			}
		}
	}
	st.Version = raw.Version
	for i, m := range raw.Routes {
		var r drivers.Route
		if err := json.Unmarshal(m, &r); err != nil {
			skipped = append(skipped, fmt.Errorf("route #%d: %w", i+1, err))
			continue
		}
		st.Routes = append(st.Routes, r)
	}
	for i, m := range raw.Locks {
		var l drivers.Lock
		err := json.Unmarshal(m, &l)
		if err == nil && (l.Key == "" || l.Holder == "") {
			err = errors.New("lock without key or holder")
		}
		if err != nil {
			skipped = append(skipped, fmt.Errorf("lock #%d: %w", i+1, err))
			continue
		}
		st.Locks = append(st.Locks, l)
	}
	for i, m := range raw.Records {
		var r machine.Record
		err := json.Unmarshal(m, &r)
		if err == nil && (r.Project == "" || r.App == "") {
			err = errors.New("record without project or app")
		}
		if err != nil {
			skipped = append(skipped, fmt.Errorf("record #%d: %w", i+1, err))
			continue
		}
		st.Records = append(st.Records, r)
	}
	for i, m := range raw.Events {
		var e drivers.Event
		err := json.Unmarshal(m, &e)
		if err == nil && (e.Kind == "" || e.Project == "") {
			err = errors.New("event without kind or project")
		}
		if err != nil {
			skipped = append(skipped, fmt.Errorf("event #%d: %w", i+1, err))
			continue
		}
		st.Events = append(st.Events, e)
	}
	for i, m := range raw.Ports {
		var c drivers.PortClaim
		err := json.Unmarshal(m, &c)
		if err == nil && (c.Project == "" || c.HTTP <= 0) {
			err = errors.New("port claim without project or HTTP port")
		}
		if err != nil {
			skipped = append(skipped, fmt.Errorf("port claim #%d: %w", i+1, err))
			continue
		}
		st.Ports = append(st.Ports, c)
	}
	return st, skipped, nil
}

// writeState replaces path atomically (writeFileAtomic).
func writeState(path string, st State) error {
	var v any = st
	if len(st.Unknown) > 0 {
		known, err := json.Marshal(st)
		if err != nil {
			return err
		}
		all := map[string]json.RawMessage{}
		if err := json.Unmarshal(known, &all); err != nil {
			return err
		}
		for k, raw := range st.Unknown {
			if _, ok := all[k]; !ok {
				all[k] = raw
			}
		}
		v = all
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'))
}

// writeFileAtomic replaces path with data (mode 0600): a temp file in the
// same directory, fsynced, renamed over path, then the directory fsynced
// so the rename itself survives a crash. A crash leaves the old file or
// the new one, never half of either.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// quarantine moves an unreadable state file aside, keeping it for a human,
// so the proxy can start and be set up again.
func quarantine(path string, now time.Time) (string, error) {
	dst := fmt.Sprintf("%s.corrupt-%s", path, now.UTC().Format("20060102T150405Z"))
	return dst, os.Rename(path, dst)
}
