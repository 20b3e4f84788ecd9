//go:build linux
// +build linux

// Package fs manages cgroup v1 hierarchies through the filesystem, one subsystem at a time.
// kmem-build example: only the memory subsystem exists, and the hierarchy root is a parameter
// (Manager.Root) so the example can run against a plain directory.
package fs

import (
	"fmt"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer/cgroups"
	"github.com/opencontainers/runc/libcontainer/configs"
)

type subsystem interface {
	// Name returns the name of the subsystem.
	Name() string
	// Apply creates the cgroup of the subsystem.
	Apply(d *cgroupData) error
	// Set sets the cgroup resources.
	Set(path string, cgroup *configs.Cgroup) error
}

var subsystems = []subsystem{
	&MemoryGroup{},
}

// Manager applies a configs.Cgroup below Root, where the v1 hierarchies are mounted
// (Root/memory, ...).
type Manager struct {
	Cgroups *configs.Cgroup
	Root    string
	Paths   map[string]string
}

// Apply creates the cgroup in every subsystem. The example never moves a process: pid is only
// recorded.
func (m *Manager) Apply(pid int) error {
	if m.Cgroups == nil || m.Cgroups.Resources == nil {
		return fmt.Errorf("no cgroup configuration")
	}
	if err := cgroups.CheckNotRealCgroupfs(m.Root); err != nil {
		return err
	}
	inner := m.Cgroups.Path
	if inner == "" {
		inner = filepath.Join(m.Cgroups.Parent, m.Cgroups.Name)
	}
	d := &cgroupData{root: m.Root, innerPath: inner, config: m.Cgroups, pid: pid}
	m.Paths = make(map[string]string)
	for _, sys := range subsystems {
		p, err := d.path(sys.Name())
		if err != nil {
			return err
		}
		m.Paths[sys.Name()] = p
		if err := sys.Apply(d); err != nil {
			return err
		}
	}
	return nil
}

// Set applies the resources of container to every subsystem created by Apply.
func (m *Manager) Set(container *configs.Cgroup) error {
	for _, sys := range subsystems {
		path := m.Paths[sys.Name()]
		if err := sys.Set(path, container); err != nil {
			return fmt.Errorf("%s: %w", sys.Name(), err)
		}
	}
	return nil
}

type cgroupData struct {
	root      string
	innerPath string
	config    *configs.Cgroup
	pid       int
}

func (d *cgroupData) path(subsystem string) (string, error) {
	if d.root == "" {
		return "", fmt.Errorf("no cgroup root for %s", subsystem)
	}
	return filepath.Join(d.root, subsystem, d.innerPath), nil
}

func writeFile(dir, file, data string) error {
	if dir == "" {
		return fmt.Errorf("no such directory for %s", file)
	}
	return cgroups.WriteFile(dir, file, data)
}
